#Requires -Version 7.4
<#
.SYNOPSIS
    Runs the Pester suite in this folder and writes its counts where build.ps1 reads them.

.DESCRIPTION
    build.ps1 -Test starts this script in a fresh pwsh, so the module under test is loaded into a process of its
    own (a loaded assembly cannot be unloaded). It imports the Pester module it is given (the one restored from
    NuGet), runs every *.Tests.ps1 here, writes an NUnit XML report and a JSON summary with Passed, Failed and
    Skipped, and exits with the number of failed tests.

.EXAMPLE
    pwsh -NoProfile -File tests/Pester/Invoke-PesterSuite.ps1 -PesterManifest ~/.nuget/packages/pester/5.7.1/tools/Pester.psd1 -SummaryPath ./out/TestResults/pester-summary.json
#>
[CmdletBinding()]
param(
    # Pester.psd1 of the Pester 5 module to run the suite with.
    [Parameter(Mandatory)]
    [string] $PesterManifest,

    # Where to write the JSON summary (Passed, Failed, Skipped).
    [Parameter(Mandatory)]
    [string] $SummaryPath,

    # Where to write the NUnit XML report; none when omitted.
    [string] $ResultPath
)

$ErrorActionPreference = 'Stop'
Import-Module -Name $PesterManifest -MinimumVersion 5.0 -MaximumVersion 5.99

$configuration = New-PesterConfiguration
$configuration.Run.Path = $PSScriptRoot
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = 'Detailed'
if ($ResultPath) {
    $configuration.TestResult.Enabled = $true
    $configuration.TestResult.OutputFormat = 'NUnitXml'
    $configuration.TestResult.OutputPath = $ResultPath
}

$result = Invoke-Pester -Configuration $configuration
# A container that failed outside any test (a broken BeforeAll, a parse error) fails no test but must fail the run.
$failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
# The fault suite's cases (tests under a 'Fault:<category>' tag, on the test or a block around it), for build.ps1's figures.
$faultCases = foreach ($test in $result.Tests) {
    $tags = @($test.Tag)
    for ($block = $test.Block; $block; $block = $block.Parent) { $tags += @($block.Tag) }
    $categories = @($tags | Where-Object { $_ -like 'Fault:*' } | ForEach-Object { $_.Substring('Fault:'.Length) } | Sort-Object -Unique)
    if ($categories) {
        [pscustomobject]@{ Name = $test.ExpandedPath; Categories = $categories; Result = "$($test.Result)"; Seconds = $test.Duration.TotalSeconds }
    }
}
# Failed tests and failed blocks or containers (a broken BeforeAll fails no test), named for build.ps1's last lines.
$failedTests = @($result.Failed | ForEach-Object { [pscustomobject]@{ Name = $_.ExpandedPath; Message = "$($_.ErrorRecord | Select-Object -First 1)" } }) +
    @($result.FailedBlocks | ForEach-Object { [pscustomobject]@{ Name = $_.ExpandedPath; Message = "$($_.ErrorRecord | Select-Object -First 1)" } }) +
    @($result.FailedContainers | ForEach-Object { [pscustomobject]@{ Name = "$($_.Item)"; Message = "$($_.ErrorRecord | Select-Object -First 1)" } })
[pscustomobject]@{
    Passed     = $result.PassedCount
    Failed     = $failed
    Skipped    = $result.SkippedCount + $result.NotRunCount
    FaultCases = @($faultCases)
    FailedTests = $failedTests
} | ConvertTo-Json -Depth 4 | Set-Content -Path $SummaryPath
exit $failed
