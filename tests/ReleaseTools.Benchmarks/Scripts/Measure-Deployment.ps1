<#
.SYNOPSIS
    Deploys a package to every instance of a service as a user does (Get-ServiceInstance | Invoke-Deployment) and
    prints, as one JSON line, the pipeline's wall time and this process's CPU seconds spent in it.
.DESCRIPTION
    Module import is done first and left out of the figures, as an agent's start-up is left out of the agents' figures.
    With -Twice the same pipeline runs once more in the same session, as in an interactive console where the first
    command has already paid for loading and compiling the engine; the second run's figures are reported beside.
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
    [switch] $Twice
)
$ErrorActionPreference = 'Stop'
Import-Module -Name $ModulePath
function Measure-Pipeline {
    <#
    .SYNOPSIS
        Runs the deployment pipeline once; returns its results, wall seconds and this process's CPU seconds in it.
    #>
    $self = [System.Diagnostics.Process]::GetCurrentProcess()
    $self.Refresh()
    $cpuBefore = $self.TotalProcessorTime
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $results = @(Get-ServiceInstance -Service ($Service -split ',') -StorePath $StorePath |
        Invoke-Deployment -Version $Version -PackageUrl $PackageUrl -PrivateKeyPath $PrivateKeyPath -ConfigPath $ConfigPath `
            -ThrottleLimit $ThrottleLimit -RetryCount 0 -StorePath $StorePath -Force)
    $clock.Stop()
    $self.Refresh()
    [pscustomobject]@{ Results = $results; Seconds = $clock.Elapsed.TotalSeconds; CpuSeconds = ($self.TotalProcessorTime - $cpuBefore).TotalSeconds }
}

$first = Measure-Pipeline
$second = if ($Twice) { Measure-Pipeline } else { $null }
$results = $first.Results
$failed = @($results | Where-Object Status -notin 'Succeeded', 'Unchanged')
[pscustomobject]@{
    Seconds          = $first.Seconds
    CpuSeconds       = $first.CpuSeconds
    Succeeded        = @($results | Where-Object Status -eq 'Succeeded').Count
    Unchanged        = @($results | Where-Object Status -eq 'Unchanged').Count
    Failed           = $failed.Count
    FirstError       = if ($failed) { "$($failed[0].InstanceId): $($failed[0].Status) $($failed[0].Error)" } else { $null }
    SecondSeconds    = if ($second) { $second.Seconds } else { $null }
    SecondCpuSeconds = if ($second) { $second.CpuSeconds } else { $null }
    SecondUnchanged  = if ($second) { @($second.Results | Where-Object Status -eq 'Unchanged').Count } else { $null }
} | ConvertTo-Json -Compress
