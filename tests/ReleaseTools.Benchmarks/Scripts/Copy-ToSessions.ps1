<#
.SYNOPSIS
    The PowerShell remoting peer: opens one SSH-remoting session per target, then copies the package to every session
    at once with Copy-Item -ToSession, as a user without ReleaseTools would.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $PackagePath,
    [Parameter(Mandatory)] [string] $DestinationDirectory,
    [Parameter(Mandatory)] [int] $Port,
    [Parameter(Mandatory)] [string] $UserName,
    [Parameter(Mandatory)] [string] $KeyFilePath,
    [Parameter(Mandatory)] [int] $Count
)
$ErrorActionPreference = 'Stop'
$options = @{ StrictHostKeyChecking = 'no'; UserKnownHostsFile = '/dev/null'; LogLevel = 'ERROR' }
# One session per target, opened together (New-PSSession connects to a list of hosts in parallel, up to 32 at once); the sessions
# belong to this runspace, so they outlive the parallel copies below.
$sessions = New-PSSession -HostName (@('127.0.0.1') * $Count) -Port $Port -UserName $UserName -KeyFilePath $KeyFilePath -Options $options
try {
    $index = 0
    $work = foreach ($session in $sessions) { [pscustomobject]@{ Session = $session; Target = Join-Path $DestinationDirectory "$index.bin" }; $index++ }
    $work | ForEach-Object -ThrottleLimit $Count -Parallel {
        Copy-Item -Path $using:PackagePath -Destination $_.Target -ToSession $_.Session
    }
}
finally {
    $sessions | Remove-PSSession
}
