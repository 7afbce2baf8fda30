#Requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests, documents and packages the ReleaseTools module.

.DESCRIPTION
    -Build (default)  dotnet build: compiles the cmdlets and the engine and assembles the importable module folder
                      (out/ReleaseTools/<version>/, or under $env:RT_BUILD_ROOT/out). The list of files that go
                      into the module is the allow-list in src/ReleaseTools/ModuleLayout.targets; the build fails
                      when one of them is missing.
    -Test             Builds, runs every xunit test (dotnet test ReleaseTools.sln), then the Pester suite in
                      tests/Pester in a fresh child pwsh against the built module (a loaded module cannot be
                      unloaded, so it must not be this session). Pester comes from NuGet (the version pinned in
                      tests/Pester/Pester.Dependencies.csproj). Ends with one line that counts both suites:
                      "Tests: N passed, N failed, N skipped", and fails when any test failed.
    -Docs             Regenerates module/ReleaseTools.dll-Help.xml (the external help that every build copies into
                      the module's en-US folder) from docs/ReleaseTools/*.md with platyPS 0.14, then builds.
                      Run it after changing a help page or a cmdlet's parameters.
    -Package          Builds, then writes out/ReleaseTools.<version>.nupkg with PSResourceGet's
                      Compress-PSResource: the package Publish-PSResource and Install-PSResource take.
    -Clean            Removes build output (dotnet clean and the module folder).

.EXAMPLE
    ./build.ps1

    Builds the module into out/ReleaseTools/<version>/.

.EXAMPLE
    dotnet tool restore; dotnet pwsh ./build.ps1 -Test

    Runs every test, xunit and Pester, with the pwsh pinned in .config/dotnet-tools.json.

.EXAMPLE
    ./build.ps1 -Package

    Writes out/ReleaseTools.<version>.nupkg.
#>
[CmdletBinding(DefaultParameterSetName = 'Build')]
param(
    # Builds the module (the default).
    [Parameter(ParameterSetName = 'Build')]
    [switch] $Build,

    # Builds, then runs the xunit and the Pester suites.
    [Parameter(ParameterSetName = 'Test', Mandatory)]
    [switch] $Test,

    # Regenerates the external help from docs/ReleaseTools/*.md (needs platyPS 0.14), then builds.
    [Parameter(ParameterSetName = 'Docs', Mandatory)]
    [switch] $Docs,

    # Builds, then writes the module's .nupkg.
    [Parameter(ParameterSetName = 'Package', Mandatory)]
    [switch] $Package,

    # Removes build output.
    [Parameter(ParameterSetName = 'Clean', Mandatory)]
    [switch] $Clean,

    # The build configuration.
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$repositoryRoot = $PSScriptRoot
$solution = Join-Path -Path $repositoryRoot -ChildPath 'ReleaseTools.sln'
$moduleVersion = (Import-PowerShellDataFile -Path (Join-Path -Path $repositoryRoot -ChildPath 'ReleaseTools.psd1')).ModuleVersion
$buildRoot = if ($env:RT_BUILD_ROOT) { $env:RT_BUILD_ROOT } else { $repositoryRoot }
$outputRoot = Join-Path -Path $buildRoot -ChildPath 'out'
$moduleDirectory = Join-Path -Path $outputRoot -ChildPath "ReleaseTools/$moduleVersion"
$testResultsDirectory = Join-Path -Path $outputRoot -ChildPath 'TestResults'
$agentAssembly = if ($env:RT_BUILD_ROOT) {
    Join-Path -Path $env:RT_BUILD_ROOT -ChildPath "bin/ReleaseTools.Agent/$Configuration/net10.0/ReleaseTools.Agent.dll"
}
else {
    Join-Path -Path $repositoryRoot -ChildPath "src/ReleaseTools.Agent/bin/$Configuration/net10.0/ReleaseTools.Agent.dll"
}

function Invoke-DotNet {
    <#
    .SYNOPSIS
        Runs dotnet with the given arguments and stops the build when it fails.
    #>
    param([Parameter(Mandatory)] [string[]] $ArgumentList)
    & dotnet @ArgumentList
    if ($LASTEXITCODE -ne 0) {
        throw "dotnet $($ArgumentList -join ' ') failed with exit code $LASTEXITCODE."
    }
}

function Invoke-ModuleBuild {
    <#
    .SYNOPSIS
        Builds the solution, which assembles the module folder, and checks its manifest.
    #>
    Invoke-DotNet -ArgumentList @('build', $solution, '-c', $Configuration)
    $manifest = Join-Path -Path $moduleDirectory -ChildPath 'ReleaseTools.psd1'
    $null = Test-ModuleManifest -Path $manifest
    Write-Verbose -Message "Module assembled at $moduleDirectory"
}

function Get-TestCount {
    <#
    .SYNOPSIS
        Passed, failed and skipped counts of every .trx file that dotnet test wrote into a folder.
    #>
    param([Parameter(Mandatory)] [string] $Directory)

    $count = [pscustomobject]@{ Passed = 0; Failed = 0; Skipped = 0 }
    foreach ($file in Get-ChildItem -Path $Directory -Filter '*.trx' -File -ErrorAction SilentlyContinue) {
        $counters = ([xml](Get-Content -LiteralPath $file.FullName -Raw)).TestRun.ResultSummary.Counters
        $count.Passed += [int]$counters.passed
        $count.Failed += [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
        $count.Skipped += [int]$counters.notExecuted
    }
    $count
}

function Invoke-XunitSuite {
    <#
    .SYNOPSIS
        Runs every xunit test; returns the counts (a failing test does not stop the Pester suite from running).
    #>
    $directory = Join-Path -Path $testResultsDirectory -ChildPath 'xunit'
    if (Test-Path -Path $directory) {
        Remove-Item -Path $directory -Recurse -Force
    }
    # Out-Host: dotnet's lines go to the console, not into this function's output.
    & dotnet test $solution -c $Configuration --no-build --logger 'trx' --results-directory $directory | Out-Host
    $exitCode = $LASTEXITCODE
    $count = Get-TestCount -Directory $directory
    if ($exitCode -ne 0 -and $count.Failed -eq 0) {
        # dotnet test failed without a failed test (a crashed test host, a build error): count it as one failure.
        $count.Failed = 1
    }
    $count
}

function Write-FaultSuiteFigure {
    <#
    .SYNOPSIS
        One line per category of tests/FaultSuite.psd1: how many of its cases ran (xunit classes from the .trx files,
        Pester tests by their Fault:<category> tag), how many passed, and the time they took; then the suite's total.
    #>
    param([Parameter(Mandatory)] [string] $XunitDirectory, [Parameter(Mandatory)] [string] $PesterSummaryPath)

    $suite = Import-PowerShellDataFile -Path (Join-Path -Path $repositoryRoot -ChildPath 'tests/FaultSuite.psd1')
    $xunitCases = foreach ($file in Get-ChildItem -Path $XunitDirectory -Filter '*.trx' -File -ErrorAction SilentlyContinue) {
        $run = ([xml](Get-Content -LiteralPath $file.FullName -Raw)).TestRun
        $classes = @{}
        foreach ($test in $run.TestDefinitions.UnitTest) { $classes[$test.id] = $test.TestMethod.className }
        foreach ($result in $run.Results.UnitTestResult) {
            [pscustomobject]@{ Name = $result.testName; Class = $classes[$result.testId]; Result = $result.outcome; Seconds = ([timespan]$result.duration).TotalSeconds }
        }
    }
    $pesterCases = if (Test-Path -Path $PesterSummaryPath) { @((Get-Content -Path $PesterSummaryPath -Raw | ConvertFrom-Json).FaultCases) } else { @() }

    $all = @{}
    foreach ($category in $suite.Categories) {
        $cases = @($xunitCases | Where-Object { $category.Xunit -contains $_.Class }) +
            @($pesterCases | Where-Object { $null -ne $_ -and @($_.Categories | Where-Object { $category.Pester -contains "Fault:$_" }).Count -gt 0 })
        foreach ($case in $cases) { $all[$case.Name] = $case }
        $passed = @($cases | Where-Object Result -eq 'Passed').Count
        $failed = @($cases | Where-Object Result -eq 'Failed').Count
        $seconds = [double]($cases | Measure-Object -Property Seconds -Sum).Sum
        Write-Information -MessageData ("Fault suite, {0}: {1} cases, {2} passed, {3} failed, {4} skipped, {5:0} s" -f $category.Name, $cases.Count, $passed, $failed, ($cases.Count - $passed - $failed), $seconds) -InformationAction Continue
    }
    $total = @($all.Values)
    Write-Information -MessageData ("Fault suite: {0} cases, {1} passed, {2} failed, {3:0} s of test time" -f $total.Count, @($total | Where-Object Result -eq 'Passed').Count,
        @($total | Where-Object Result -eq 'Failed').Count, ($total | Measure-Object -Property Seconds -Sum).Sum) -InformationAction Continue
}

function Write-FailedTest {
    <#
    .SYNOPSIS
        Names every failed test (xunit from the .trx files, Pester from its summary) with the first lines of its
        message, last, so that the tail of a CI log says what failed without scrolling back through the run.
    #>
    param([Parameter(Mandatory)] [string] $XunitDirectory, [Parameter(Mandatory)] [string] $PesterSummaryPath)

    $failures = @(foreach ($file in Get-ChildItem -Path $XunitDirectory -Filter '*.trx' -File -ErrorAction SilentlyContinue) {
        foreach ($result in ([xml](Get-Content -LiteralPath $file.FullName -Raw)).TestRun.Results.UnitTestResult) {
            if ($result.outcome -ne 'Passed' -and $result.outcome -ne 'NotExecuted') {
                [pscustomobject]@{ Name = "xunit: $($result.testName)"; Message = "$($result.Output.ErrorInfo.Message)" }
            }
        }
    })
    if (Test-Path -Path $PesterSummaryPath) {
        $failures += @((Get-Content -Path $PesterSummaryPath -Raw | ConvertFrom-Json).FailedTests | Where-Object { $null -ne $_ } |
            ForEach-Object { [pscustomobject]@{ Name = "Pester: $($_.Name)"; Message = "$($_.Message)" } })
    }
    foreach ($failure in $failures) {
        $lines = @($failure.Message -split "`r?`n" | Where-Object { $_.Trim() } | Select-Object -First 6)
        Write-Information -MessageData ("FAILED {0}`n    {1}" -f $failure.Name, ($lines -join "`n    ")) -InformationAction Continue
    }
}

function Get-PesterModulePath {
    <#
    .SYNOPSIS
            The Pester module pinned by tests/Pester/Pester.Dependencies.csproj, restored from NuGet; the package keeps
            the module in its tools/ folder.
    #>
    $project = Join-Path -Path $repositoryRoot -ChildPath 'tests/Pester/Pester.Dependencies.csproj'
    & dotnet restore $project | Out-Host
    if ($LASTEXITCODE -ne 0) {
        throw "Pester is absent: 'dotnet restore $project' failed, so the Pester module could not be fetched from NuGet. Fix the restore (is a NuGet source reachable?) and run ./build.ps1 -Test again."
    }
    $properties = (& dotnet msbuild $project -getProperty:NuGetPackageRoot -getProperty:PesterVersion | ConvertFrom-Json).Properties
    $manifest = Join-Path -Path $properties.NuGetPackageRoot -ChildPath "pester/$($properties.PesterVersion)/tools/Pester.psd1"
    if (-not (Test-Path -Path $manifest)) {
        throw "Pester is absent: the restore succeeded but $manifest does not exist. Remove $(Split-Path -Path $manifest -Parent | Split-Path -Parent) and run ./build.ps1 -Test again."
    }
    $manifest
}

function Invoke-PesterSuite {
    <#
    .SYNOPSIS
        Runs tests/Pester in a fresh child pwsh (the real executable in $PSHOME, also when this pwsh is the dotnet tool); returns the counts.
    #>
    $pesterManifest = Get-PesterModulePath
    $pwsh = Join-Path -Path $PSHOME -ChildPath $(if ($IsWindows) { 'pwsh.exe' } else { 'pwsh' })
    $summaryPath = Join-Path -Path $testResultsDirectory -ChildPath 'pester-summary.json'
    $null = New-Item -Path $testResultsDirectory -ItemType Directory -Force
    Remove-Item -Path $summaryPath -ErrorAction SilentlyContinue

    $env:RELEASETOOLS_MODULE_DIR = $moduleDirectory
    $env:RELEASETOOLS_AGENT_DLL = $agentAssembly
    & $pwsh -NoProfile -NonInteractive -File (Join-Path -Path $repositoryRoot -ChildPath 'tests/Pester/Invoke-PesterSuite.ps1') `
        -PesterManifest $pesterManifest -SummaryPath $summaryPath -ResultPath (Join-Path -Path $testResultsDirectory -ChildPath 'pester.xml') | Out-Host
    $exitCode = $LASTEXITCODE
    if (-not (Test-Path -Path $summaryPath)) {
        return [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0 }
    }
    $count = Get-Content -Path $summaryPath -Raw | ConvertFrom-Json
    if ($exitCode -ne 0 -and $count.Failed -eq 0) {
        $count.Failed = 1
    }
    $count
}

function Invoke-HelpGeneration {
    <#
    .SYNOPSIS
        docs/ReleaseTools/*.md -> module/ReleaseTools.dll-Help.xml, which the build copies into en-US/.
    #>
    if (-not (Get-Module -ListAvailable -Name platyPS | Where-Object { $_.Version -lt [version]'1.0' })) {
        throw "platyPS 0.14 is not installed. Install it with 'Install-PSResource -Name platyPS -Version 0.14.2' and run ./build.ps1 -Docs again."
    }
    Import-Module -Name platyPS -MaximumVersion 0.99
    $help = New-ExternalHelp -Path (Join-Path -Path $repositoryRoot -ChildPath 'docs/ReleaseTools') -OutputPath ([System.IO.Path]::GetTempPath()) -Force
    Move-Item -Path $help.FullName -Destination (Join-Path -Path $repositoryRoot -ChildPath 'module/ReleaseTools.dll-Help.xml') -Force
    Write-Verbose -Message 'External help written to module/ReleaseTools.dll-Help.xml'
}

if ($Clean) {
    Invoke-DotNet -ArgumentList @('clean', $solution, '-c', $Configuration)
    if (Test-Path -Path $moduleDirectory) {
        Remove-Item -Path $moduleDirectory -Recurse -Force
    }
    return
}

if ($Docs) {
    Invoke-HelpGeneration
}

Invoke-ModuleBuild

if ($Test) {
    $xunit = Invoke-XunitSuite
    $pester = Invoke-PesterSuite
    $passed = $xunit.Passed + $pester.Passed
    $failed = $xunit.Failed + $pester.Failed
    $skipped = $xunit.Skipped + $pester.Skipped
    Write-Information -MessageData "xunit: $($xunit.Passed) passed, $($xunit.Failed) failed, $($xunit.Skipped) skipped" -InformationAction Continue
    Write-Information -MessageData "Pester: $($pester.Passed) passed, $($pester.Failed) failed, $($pester.Skipped) skipped" -InformationAction Continue
    Write-FaultSuiteFigure -XunitDirectory (Join-Path -Path $testResultsDirectory -ChildPath 'xunit') -PesterSummaryPath (Join-Path -Path $testResultsDirectory -ChildPath 'pester-summary.json')
    Write-FailedTest -XunitDirectory (Join-Path -Path $testResultsDirectory -ChildPath 'xunit') -PesterSummaryPath (Join-Path -Path $testResultsDirectory -ChildPath 'pester-summary.json')
    Write-Information -MessageData "Tests: $passed passed, $failed failed, $skipped skipped" -InformationAction Continue
    if ($failed -gt 0) {
        throw "$failed test(s) failed."
    }
    if ($passed -eq 0) {
        throw 'No test ran.'
    }
}

if ($Package) {
    $null = New-Item -Path $outputRoot -ItemType Directory -Force
    $nupkg = Join-Path -Path $outputRoot -ChildPath "ReleaseTools.$moduleVersion.nupkg"
    Remove-Item -Path $nupkg -ErrorAction SilentlyContinue
    Compress-PSResource -Path $moduleDirectory -DestinationPath $outputRoot
    Get-Item -Path $nupkg
}
