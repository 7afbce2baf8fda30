<#
.SYNOPSIS
    ReleaseTools in five steps: register instances, deploy, look at the history, deploy again, roll back.

.DESCRIPTION
    Runs against Floyd agents that are already listening (for example the reference agent:
    dotnet ReleaseTools.Agent.dll --urls http://127.0.0.1:0 --data-dir <dir> --authorized-key <public.pem>).
    `dotnet run --project src/ReleaseTools.Quickstart` starts three such agents, creates a key, packages and a
    temporary store, and runs this script with them; under pwsh you can run it the same way with your own values.

.EXAMPLE
    ./docs/examples/quickstart.ps1 -ModulePath ./out/ReleaseTools/0.1.0/ReleaseTools.psd1 -AgentAddress 127.0.0.1:7071, 127.0.0.1:7072 -StorePath ./demo.db -PrivateKeyPath ./deploy.pem -PackagePath ./demo-1.0.0.zip, ./demo-1.1.0.zip
#>
[CmdletBinding()]
param(
    # host:port of each Floyd agent; one instance is registered per address.
    [Parameter(Mandatory)]
    [string[]] $AgentAddress,

    # The SQLite store to use (created if missing). Use a throwaway path: the demo registers instances in it.
    [Parameter(Mandatory)]
    [string] $StorePath,

    # RSA private key (PEM) whose public key the agents trust.
    [Parameter(Mandatory)]
    [string] $PrivateKeyPath,

    # Package for version 1.0.0, and optionally a second one for 1.1.0 (the first is reused when omitted).
    [Parameter(Mandatory)]
    [string[]] $PackagePath,

    # Optional config template with {{Service}}, {{Environment}}, {{Version}} and {{Greeting}} placeholders.
    [string] $ConfigPath,

    # The module manifest to import; by default the ReleaseTools module found on PSModulePath.
    [string] $ModulePath = 'ReleaseTools',

    [string] $Service = 'demo'
)

$ErrorActionPreference = 'Stop'
Import-Module -Name $ModulePath

$PSDefaultParameterValues = @{
    '*:StorePath'      = $StorePath
    '*:PrivateKeyPath' = $PrivateKeyPath
}
$secondPackage = if ($PackagePath.Count -gt 1) { $PackagePath[1] } else { $PackagePath[0] }

# Out-Host (not Write-Host) keeps every heading in order with the tables, in pwsh and in the quickstart host alike.
function Show-Step {
    <#
    .SYNOPSIS
        Prints a step's heading.
    #>
    param([Parameter(Mandatory)] [string] $Title)
    "`n=== $Title ===" | Out-Host
}

function Get-ConfigArgument {
    <#
    .SYNOPSIS
        The -ConfigPath and -ConfigValues arguments for a step; none without a config template.
    #>
    param([Parameter(Mandatory)] [string] $Greeting)
    if ($ConfigPath) { @{ ConfigPath = $ConfigPath; ConfigValues = @{ Greeting = $Greeting } } } else { @{} }
}

Show-Step '1. Register one instance per agent'
$number = 0
$AgentAddress | ForEach-Object {
    $number++
    $address = [uri]"http://$_"
    [pscustomobject]@{
        InstanceId  = '{0}-{1:d2}' -f $Service, $number
        Service     = $Service
        Environment = 'quickstart'
        Host        = $address.Host
        Port        = $address.Port
    }
} | Register-ServiceInstance -PassThru | Out-Host

Show-Step '2. Deploy 1.0.0 to every instance (one package download, one result per instance)'
$config = Get-ConfigArgument -Greeting 'hello'
Get-ServiceInstance -Service $Service | Invoke-Deployment -Version 1.0.0 -PackageUrl $PackagePath[0] @config -Force | Out-Host

Show-Step '3. Version history'
Get-ServiceInstance -Service $Service | Get-InstanceVersionHistory | Out-Host

Show-Step '4. Deploy 1.1.0 in batches of two'
$config = Get-ConfigArgument -Greeting 'hello again'
Get-ServiceInstance -Service $Service | Invoke-Deployment -Version 1.1.0 -PackageUrl $secondPackage @config -BatchSize 2 -Force | Out-Host

Show-Step '5. Roll back: each instance returns to the release it ran before (package and config)'
Get-ServiceInstance -Service $Service | Invoke-Rollback -Force | Out-Host

Show-Step '6. History after the rollback'
Get-ServiceInstance -Service $Service | Get-InstanceVersionHistory | Out-Host

Show-Step '7. What the agents run now, and the recorded runs'
Get-ServiceInstance -Service $Service | Test-ServiceInstance | Out-Host
Get-ReleaseDeployment -Service $Service | Out-Host
