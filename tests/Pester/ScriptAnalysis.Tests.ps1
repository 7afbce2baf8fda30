#Requires -Version 7.4
<#
    Every .ps1 and .psm1 in the repository keeps to PSScriptAnalyzer's default rules that matter here. The analyzer
    itself is not available from NuGet, so these checks read each file with PowerShell's own parser and apply the
    rules: PSUseApprovedVerbs, PSProvideCommentHelp, PSAvoidUsingWriteHost, PSAvoidUsingCmdletAliases,
    PSUseShouldProcessForStateChangingFunctions, PSReviewUnusedParameter, PSAvoidGlobalVars,
    PSAvoidUsingEmptyCatchBlock, PSPossibleIncorrectComparisonWithNull, PSAvoidUsingInvokeExpression,
    PSUseBOMForUnicodeEncodedFile, PSAvoidTrailingWhitespace, PSAvoidAssignmentToAutomaticVariable.
#>

BeforeDiscovery {
    $root = Resolve-Path -Path (Join-Path -Path $PSScriptRoot -ChildPath '../..')
    $script:Files = & git -C $root ls-files --cached --others --exclude-standard -- '*.ps1' '*.psm1' |
        ForEach-Object { @{ Path = $_; FullName = Join-Path -Path $root -ChildPath $_ } }
}

BeforeAll {
    $script:ApprovedVerbs = (Get-Verb).Verb
    # PSUseShouldProcessForStateChangingFunctions looks at these verbs.
    $script:StateChangingVerbs = 'New', 'Set', 'Remove', 'Start', 'Stop', 'Restart', 'Reset', 'Update'
    $script:ReadOnlyAutomatic = 'args', 'input', 'error', 'host', 'home', 'pid', 'pshome', 'psscriptroot', 'pscommandpath', 'myinvocation', 'psboundparameters', 'true', 'false', 'this', 'matches', 'lastexitcode', 'psitem', 'foreach', 'switch', 'sender', 'event', 'eventargs', 'iscoreclr', 'islinux', 'ismacos', 'iswindows'

    function script:Find-Node {
        <#
        .SYNOPSIS
            Every node of a type in a syntax tree.
        #>
        param([Parameter(Mandatory)] $Ast, [Parameter(Mandatory)] [type] $Type)
        $Ast.FindAll({ param($node) $node -is $Type }.GetNewClosure(), $true)
    }
}

Describe '<Path>' -ForEach $script:Files {
    BeforeAll {
        $tokens = $null
        $parseErrors = $null
        $script:Ast = [System.Management.Automation.Language.Parser]::ParseFile($FullName, [ref] $tokens, [ref] $parseErrors)
        $script:ParseErrors = $parseErrors
        $script:Functions = @(Find-Node -Ast $script:Ast -Type ([System.Management.Automation.Language.FunctionDefinitionAst]))
        $script:Commands = @(Find-Node -Ast $script:Ast -Type ([System.Management.Automation.Language.CommandAst]))
    }

    It 'parses' {
        $ParseErrors | Should -BeNullOrEmpty
    }

    It 'names every function with an approved verb (PSUseApprovedVerbs)' {
        $Functions | ForEach-Object { ($_.Name -replace '^\w+:', '') } |
            Where-Object { $ApprovedVerbs -notcontains ($_ -split '-')[0] } | Should -BeNullOrEmpty
    }

    It 'gives every function comment-based help (PSProvideCommentHelp)' {
        $Functions | Where-Object { -not $_.GetHelpContent() -or -not $_.GetHelpContent().Synopsis } |
            ForEach-Object Name | Should -BeNullOrEmpty
    }

    It 'uses ShouldProcess in functions whose verb changes state (PSUseShouldProcessForStateChangingFunctions)' {
        $missing = $Functions | Where-Object {
            $verb = (($_.Name -replace '^\w+:', '') -split '-')[0]
            $binding = $_.Body.ParamBlock.Attributes | Where-Object { $_.TypeName.Name -eq 'CmdletBinding' }
            $StateChangingVerbs -contains $verb -and -not ($binding.NamedArguments | Where-Object ArgumentName -eq 'SupportsShouldProcess')
        }
        $missing.Name | Should -BeNullOrEmpty
    }

    It 'uses every parameter it declares (PSReviewUnusedParameter)' {
        $unused = foreach ($function in $Functions) {
            $parameters = @($function.Body.ParamBlock.Parameters) + @($function.Parameters) | Where-Object { $_ }
            $used = (Find-Node -Ast $function.Body -Type ([System.Management.Automation.Language.VariableExpressionAst])) |
                Where-Object { $_.Parent -isnot [System.Management.Automation.Language.ParameterAst] } |
                ForEach-Object { $_.VariablePath.UserPath -replace '^\w+:', '' }
            if ($used -contains 'PSBoundParameters') {
                continue
            }
            foreach ($parameter in $parameters) {
                $name = $parameter.Name.VariablePath.UserPath
                if ($used -notcontains $name) {
                    "$($function.Name) -$name"
                }
            }
        }
        $unused | Should -BeNullOrEmpty
    }

    It 'writes no Write-Host and calls no alias (PSAvoidUsingWriteHost, PSAvoidUsingCmdletAliases)' {
        $names = $Commands | ForEach-Object { $_.GetCommandName() } | Where-Object { $_ }
        $names | Where-Object { $_ -eq 'Write-Host' } | Should -BeNullOrEmpty
        $names | Where-Object { Get-Alias -Name $_ -ErrorAction SilentlyContinue } | Should -BeNullOrEmpty
    }

    It 'calls no Invoke-Expression and sets no global variable (PSAvoidUsingInvokeExpression, PSAvoidGlobalVars)' {
        $Commands | Where-Object { $_.GetCommandName() -eq 'Invoke-Expression' } | Should -BeNullOrEmpty
        Find-Node -Ast $Ast -Type ([System.Management.Automation.Language.VariableExpressionAst]) |
            Where-Object { $_.VariablePath.IsGlobal } | ForEach-Object { $_.Extent.Text } | Should -BeNullOrEmpty
    }

    It 'assigns no automatic variable (PSAvoidAssignmentToAutomaticVariable)' {
        Find-Node -Ast $Ast -Type ([System.Management.Automation.Language.AssignmentStatementAst]) |
            ForEach-Object { $_.Left } |
            Where-Object { $_ -is [System.Management.Automation.Language.VariableExpressionAst] -and $ReadOnlyAutomatic -contains $_.VariablePath.UserPath.ToLowerInvariant() } |
            ForEach-Object { $_.Extent.Text } | Should -BeNullOrEmpty
    }

    It 'has no empty catch block and puts $null on the left of comparisons (PSAvoidUsingEmptyCatchBlock, PSPossibleIncorrectComparisonWithNull)' {
        Find-Node -Ast $Ast -Type ([System.Management.Automation.Language.CatchClauseAst]) |
            Where-Object { $_.Body.Statements.Count -eq 0 } | ForEach-Object { $_.Extent.StartLineNumber } | Should -BeNullOrEmpty
        Find-Node -Ast $Ast -Type ([System.Management.Automation.Language.BinaryExpressionAst]) |
            Where-Object { $_.Operator -in 'Ieq', 'Ine', 'Ceq', 'Cne' -and $_.Right.Extent.Text -eq '$null' } |
            ForEach-Object { $_.Extent.Text } | Should -BeNullOrEmpty
    }

    It 'has a byte order mark if it is not ASCII, and no trailing whitespace (PSUseBOMForUnicodeEncodedFile, PSAvoidTrailingWhitespace)' {
        $bytes = [System.IO.File]::ReadAllBytes($FullName)
        $hasBom = $bytes.Length -ge 3 -and $bytes[0] -eq 0xEF -and $bytes[1] -eq 0xBB -and $bytes[2] -eq 0xBF
        if (-not $hasBom) {
            $bytes | Where-Object { $_ -gt 127 } | Select-Object -First 1 | Should -BeNullOrEmpty -Because 'a file with non-ASCII characters needs a byte order mark'
        }
        $lineNumber = 0
        $trailing = foreach ($line in [System.IO.File]::ReadAllLines($FullName)) {
            $lineNumber++
            if ($line -match '\s+$') { $lineNumber }
        }
        $trailing | Should -BeNullOrEmpty
    }
}
