<#
.SYNOPSIS
    Deploys a package to every instance of a service as a user does (Get-ServiceInstance | Invoke-Deployment) and
    prints, as one JSON line, the pipeline's wall time and this process's CPU seconds spent in it.
.DESCRIPTION
    Module import is done first and left out of the figures, as an agent's start-up is left out of the agents' figures.
    With -Twice the same pipeline runs once more in the same session, as in an interactive console where the first
    command has already paid for loading and compiling the engine; the second run's figures are reported beside.
    With -SecondVersion and -SecondPackageUrl the second pipeline releases that version from that package instead, as a
    console or runbook does when it releases again.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $StorePath,
    # One service, or several separated by commas (pwsh -File passes one string per parameter).
    [Parameter(Mandatory)] [string] $Service,
    [Parameter(Mandatory)] [string] $Version,
    [Parameter(Mandatory)] [string] $PackageUrl,
    [Parameter(Mandatory)] [string] $PrivateKeyPath,
    [Parameter(Mandatory)] [string] $ConfigPath,
    [Parameter(Mandatory)] [int] $ThrottleLimit,
    [switch] $Twice,
    [string] $SecondVersion,
    [string] $SecondPackageUrl,
    # The agents' process ids (comma-separated): their CPU seconds in each pipeline are read from /proc (Linux).
    [string] $ReceiverProcessIds
)
$ErrorActionPreference = 'Stop'
Import-Module -Name $ModulePath
function Get-ReceiverCpuSeconds {
    <#
    .SYNOPSIS
        The agents' CPU seconds so far: utime + stime, fields 14 and 15 of /proc/<pid>/stat, in USER_HZ (100 a second).
    #>
    $ticks = 0L
    foreach ($id in @($ReceiverProcessIds -split ',' | Where-Object { $_ })) {
        # The fields after the command name, which is in parentheses and may hold spaces; the third field is the first.
        # Read directly: Get-Content would resolve a PowerShell path (and list the mounts) for every agent.
        $fields = (([System.IO.File]::ReadAllText("/proc/$id/stat")) -replace '^.*\) ', '') -split ' '
        $ticks += [long]$fields[11] + [long]$fields[12]
    }
    $ticks / 100
}

function Measure-Pipeline {
    <#
    .SYNOPSIS
        Runs the deployment pipeline once; returns its results, wall seconds and this process's CPU seconds in it.
    #>
    param([string] $Version, [string] $PackageUrl)
    $receiversBefore = Get-ReceiverCpuSeconds
    $self = [System.Diagnostics.Process]::GetCurrentProcess()
    $self.Refresh()
    $cpuBefore = $self.TotalProcessorTime
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $results = @(Get-ServiceInstance -Service ($Service -split ',') -StorePath $StorePath |
        Invoke-Deployment -Version $Version -PackageUrl $PackageUrl -PrivateKeyPath $PrivateKeyPath -ConfigPath $ConfigPath `
            -ThrottleLimit $ThrottleLimit -RetryCount 0 -StorePath $StorePath -Force)
    $clock.Stop()
    $self.Refresh()
    $cpu = ($self.TotalProcessorTime - $cpuBefore).TotalSeconds
    [pscustomobject]@{ Results = $results; Seconds = $clock.Elapsed.TotalSeconds; CpuSeconds = $cpu; ReceiverCpuSeconds = (Get-ReceiverCpuSeconds) - $receiversBefore }
}

$first = Measure-Pipeline -Version $Version -PackageUrl $PackageUrl
$second = if ($SecondVersion) { Measure-Pipeline -Version $SecondVersion -PackageUrl $SecondPackageUrl }
          elseif ($Twice) { Measure-Pipeline -Version $Version -PackageUrl $PackageUrl }
          else { $null }
$results = $first.Results
$failed = @($results | Where-Object Status -notin 'Succeeded', 'Unchanged')
[pscustomobject]@{
    Seconds          = $first.Seconds
    CpuSeconds       = $first.CpuSeconds
    ReceiverCpuSeconds = $first.ReceiverCpuSeconds
    Succeeded        = @($results | Where-Object Status -eq 'Succeeded').Count
    Unchanged        = @($results | Where-Object Status -eq 'Unchanged').Count
    Failed           = $failed.Count
    FirstError       = if ($failed) { "$($failed[0].InstanceId): $($failed[0].Status) $($failed[0].Error)" } else { $null }
    SecondSeconds    = if ($second) { $second.Seconds } else { $null }
    SecondCpuSeconds = if ($second) { $second.CpuSeconds } else { $null }
    SecondReceiverCpuSeconds = if ($second) { $second.ReceiverCpuSeconds } else { $null }
    SecondUnchanged  = if ($second) { @($second.Results | Where-Object Status -eq 'Unchanged').Count } else { $null }
    SecondSucceeded  = if ($second) { @($second.Results | Where-Object Status -eq 'Succeeded').Count } else { $null }
} | ConvertTo-Json -Compress
