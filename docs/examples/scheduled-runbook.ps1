<#
.SYNOPSIS
    A scheduled runbook (Azure Automation, a Windows scheduled task or a cron job running pwsh) that keeps a
    service's instances healthy and on the expected release.

.DESCRIPTION
    1. Resumes runs that were interrupted (their process died, a machine rebooted mid-deployment).
    2. Checks every instance's agent; reports the ones that do not answer.
    3. Redeploys the expected version to instances that drifted from it, in small batches, rolling back a
       batch that fails.
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

$interrupted = Get-ReleaseDeployment -Service $Service -Status Interrupted
if ($interrupted) {
    Write-Verbose -Message "Resuming $(@($interrupted).Count) interrupted run(s)."
    $interrupted | Resume-Deployment -Force -ErrorAction Continue
}

$instances = Get-ServiceInstance -Service $Service -Environment $Environment
$health = $instances | Test-ServiceInstance
$down = @($health | Where-Object Reachable -eq $false)
foreach ($instance in $down) {
    Write-Warning -Message "$($instance.InstanceId) ($($instance.Host):$($instance.Port)) does not answer: $($instance.Error)"
}

$drifted = @($health | Where-Object { $_.Reachable -and $_.Version -ne $ExpectedVersion })
if ($drifted.Count -eq 0) {
    Write-Verbose -Message "Every reachable $Service instance runs $ExpectedVersion."
    return
}

$drifted |
    Invoke-Deployment -Version $ExpectedVersion -PackageUrl $PackageUrl -BatchSize 2 -OnFailure Rollback -Force -ErrorAction Continue
