<#
.SYNOPSIS
    A scheduled runbook (Azure Automation, a Windows scheduled task or a cron job running pwsh) that keeps a
    service's instances healthy and on the expected release.

.DESCRIPTION
    Scoped to one service in one environment, and idempotent: a second run right after the first changes nothing.
    1. Resumes interrupted runs of the expected version whose instances are all in this environment (their process
       died, a machine rebooted mid-deployment). A resume retries only what the run still owes and leaves alone
       any instance another run has moved since; once resumed, the run is no longer Interrupted. Interrupted runs
       of other versions or reaching other environments are reported, not touched.
    2. Checks every instance's agent in the environment; reports the ones that do not answer.
    3. Redeploys the expected version to reachable instances that drifted from it, in small batches, rolling back a
       batch that fails. The config each instance was last deployed with is kept.
    The store path and the signing key come from the environment (RELEASETOOLS_STORE and
    RELEASETOOLS_PRIVATE_KEY), so the same runbook works on every machine that has them set.

.EXAMPLE
    ./scheduled-runbook.ps1 -Service web -Environment prod -ExpectedVersion 1.5.0 -PackageUrl https://artifacts.example.com/web/web-1.5.0.zip
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)]
    [string] $Service,

    [Parameter(Mandatory)]
    [string] $Environment,

    [Parameter(Mandatory)]
    [string] $ExpectedVersion,

    [Parameter(Mandatory)]
    [string] $PackageUrl
)

$ErrorActionPreference = 'Stop'
Import-Module -Name ReleaseTools

$interrupted = @(Get-ReleaseDeployment -Service $Service -Status Interrupted)
$inScope = @($interrupted | Where-Object {
        $_.Operation -eq 'Deploy' -and $_.Version -eq $ExpectedVersion -and -not ($_.Targets | Where-Object Environment -ne $Environment)
    })
foreach ($run in $interrupted | Where-Object { $inScope -notcontains $_ }) {
    Write-Warning -Message "Interrupted run $($run.DeploymentId) ($($run.Operation) $($run.Version)) is outside this runbook's scope ($Service $ExpectedVersion in $Environment); it is left for an operator."
}
if ($inScope.Count -gt 0) {
    Write-Verbose -Message "Resuming $($inScope.Count) interrupted run(s)."
    $inScope | Resume-Deployment -Force -ErrorAction Continue
}

$instances = @(Get-ServiceInstance -Service $Service -Environment $Environment)
if ($instances.Count -eq 0) {
    Write-Warning -Message "No $Service instance is registered in $Environment."
    return
}
$health = $instances | Test-ServiceInstance
foreach ($instance in $health | Where-Object Reachable -eq $false) {
    Write-Warning -Message "$($instance.InstanceId) ($($instance.Host):$($instance.Port)) does not answer: $($instance.Error)"
}

$drifted = @($health | Where-Object { $_.Reachable -and $_.Version -ne $ExpectedVersion })
if ($drifted.Count -eq 0) {
    Write-Verbose -Message "Every reachable $Service instance in $Environment runs $ExpectedVersion."
    return
}

$drifted |
    Invoke-Deployment -Version $ExpectedVersion -PackageUrl $PackageUrl -BatchSize 2 -OnFailure Rollback -Force -ErrorAction Continue
