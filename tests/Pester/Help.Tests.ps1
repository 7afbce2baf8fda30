#Requires -Version 7.4
<#
    Help where users look: Get-Help on the built module shows each cmdlet's synopsis, description, parameters and
    examples, Get-Help about_ReleaseTools works, and every example in the help and in the README binds to the
    cmdlets' real parameters.
#>

BeforeDiscovery {
    $manifest = Import-PowerShellDataFile -Path (Join-Path -Path $PSScriptRoot -ChildPath '../../ReleaseTools.psd1')
    $script:Cmdlets = $manifest.CmdletsToExport | ForEach-Object { @{ Name = $_ } }
}

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'TestFleet.psm1') -Force
    $script:Artifacts = Get-BuildArtifactPath
    Import-Module -Name $script:Artifacts.ModuleManifest -Force

    # Every command of this module that a piece of example code calls, with what the parser binds to it.
    function script:Get-ExampleBinding {
        <#
        .SYNOPSIS
            Every ReleaseTools command that example code calls, with the parameters it cannot bind.
        #>
        param([Parameter(Mandatory)] [string] $Code, [Parameter(Mandatory)] [string] $Source)
        $tokens = $null
        $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($Code, [ref] $tokens, [ref] $errors)
        foreach ($parseError in $errors) {
            [pscustomobject]@{ Source = $Source; Command = '(parse)'; Problem = $parseError.Message }
        }
        $exported = (Get-Command -Module ReleaseTools).Name
        foreach ($command in $ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] }, $true)) {
            $name = $command.GetCommandName()
            if ($exported -notcontains $name) {
                continue
            }
            $binding = [System.Management.Automation.Language.StaticParameterBinder]::BindCommand($command, $true)
            foreach ($problem in $binding.BindingExceptions.GetEnumerator()) {
                [pscustomobject]@{ Source = $Source; Command = $name; Problem = "$($problem.Key): $($problem.Value.BindingException.Message)" }
            }
            [pscustomobject]@{ Source = $Source; Command = $name; Problem = $null }
        }
    }
}

Describe 'Get-Help <Name>' -ForEach $script:Cmdlets {
    BeforeAll {
        $script:Help = Get-Help -Name $Name -Full
        $script:Parameters = (Get-Command -Name $Name).Parameters.Keys |
            Where-Object { [System.Management.Automation.PSCmdlet]::CommonParameters -notcontains $_ -and [System.Management.Automation.PSCmdlet]::OptionalCommonParameters -notcontains $_ }
    }

    It 'has a synopsis of its own (not the generated syntax)' {
        $Help.Synopsis | Should -Not -BeNullOrEmpty
        $Help.Synopsis | Should -Not -BeLike "$Name *"
    }

    It 'has a description' {
        ($Help.description.Text -join ' ').Trim() | Should -Not -BeNullOrEmpty
    }

    It 'has text for every parameter' {
        $undocumented = $Parameters | Where-Object { -not ((Get-Help -Name $Name -Parameter $_).description.Text -join '').Trim() }
        $undocumented | Should -BeNullOrEmpty
    }

    It 'has at least two examples with code and remarks' {
        $examples = @($Help.examples.example)
        $examples.Count | Should -BeGreaterOrEqual 2
        $examples | Where-Object { -not $_.code.Trim() -or -not ($_.remarks.Text -join '').Trim() } | Should -BeNullOrEmpty
    }

    It 'shows all of it in Get-Help -Full text' {
        $text = Get-Help -Name $Name -Full | Out-String -Width 200
        $text | Should -BeLike "*$($Help.Synopsis)*"
        $text | Should -BeLike '*EXAMPLE 1*'
        foreach ($parameter in $Parameters) {
            $text | Should -Match "-$parameter\b"
        }
    }

    It 'has examples that call its parameters by their real names' {
        $problems = foreach ($example in $Help.examples.example) {
            Get-ExampleBinding -Code $example.code -Source $example.title | Where-Object Problem
        }
        $problems | Should -BeNullOrEmpty
    }
}

Describe 'about_ReleaseTools' {
    It 'is found by Get-Help and names every cmdlet' {
        $about = Get-Help -Name about_ReleaseTools | Out-String
        $about | Should -BeLike '*about_ReleaseTools*'
        foreach ($cmdlet in (Get-Command -Module ReleaseTools).Name) {
            $about | Should -BeLike "*$cmdlet*"
        }
    }
}

Describe 'The README' {
    It 'calls the cmdlets with parameters they have, in every PowerShell example' {
        $readme = Get-Content -Path (Join-Path -Path $script:Artifacts.RepositoryRoot -ChildPath 'README.md') -Raw
        $blocks = [regex]::Matches($readme, '(?ms)^```powershell\r?\n(.*?)^```') | ForEach-Object { $_.Groups[1].Value }
        $blocks | Should -Not -BeNullOrEmpty

        $bindings = foreach ($block in $blocks) { Get-ExampleBinding -Code $block -Source 'README.md' }

        ($bindings | Where-Object Problem) | Should -BeNullOrEmpty
        # Every cmdlet appears somewhere, so this check covers the whole README surface.
        $bindings.Command | Sort-Object -Unique | Should -Be ((Get-Command -Module ReleaseTools).Name | Sort-Object)
    }
}
