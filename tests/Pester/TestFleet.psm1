<#
    Test support for the Pester suite: where the built module and the reference Floyd agent are, a fresh RSA key,
    and real agents started as child processes on loopback ephemeral ports.
#>
Set-StrictMode -Version Latest

function Get-BuildArtifactPath {
    <#
    .SYNOPSIS
        Where the built module and the reference Floyd agent are.
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param()

    $repositoryRoot = Resolve-Path -Path (Join-Path -Path $PSScriptRoot -ChildPath '../..')
    $version = (Import-PowerShellDataFile -Path (Join-Path -Path $repositoryRoot -ChildPath 'ReleaseTools.psd1')).ModuleVersion
    $buildRoot = if ($env:RT_BUILD_ROOT) { $env:RT_BUILD_ROOT } else { $repositoryRoot }
    $moduleDirectory = if ($env:RELEASETOOLS_MODULE_DIR) { $env:RELEASETOOLS_MODULE_DIR } else { Join-Path -Path $buildRoot -ChildPath "out/ReleaseTools/$version" }
    $agentAssembly = $env:RELEASETOOLS_AGENT_DLL
    if (-not $agentAssembly) {
        $candidates = if ($env:RT_BUILD_ROOT) {
            Join-Path -Path $env:RT_BUILD_ROOT -ChildPath 'bin/ReleaseTools.Agent/*/net10.0/ReleaseTools.Agent.dll'
        }
        else {
            Join-Path -Path $repositoryRoot -ChildPath 'src/ReleaseTools.Agent/bin/*/net10.0/ReleaseTools.Agent.dll'
        }
        $agentAssembly = Get-Item -Path $candidates -ErrorAction SilentlyContinue | Sort-Object -Property LastWriteTime -Descending | Select-Object -First 1 -ExpandProperty FullName
    }
    if (-not $agentAssembly -or -not (Test-Path -Path $agentAssembly)) {
        throw 'The Floyd agent is not built. Run ./build.ps1 first, or set RELEASETOOLS_AGENT_DLL.'
    }

    [pscustomobject]@{
        RepositoryRoot  = [string]$repositoryRoot
        ModuleManifest  = Join-Path -Path $moduleDirectory -ChildPath 'ReleaseTools.psd1'
        ModuleDirectory = $moduleDirectory
        AgentAssembly   = $agentAssembly
    }
}

function New-TestKeyPair {
    <#
    .SYNOPSIS
        Writes a fresh RSA key pair as PEM files (PKCS#8 private key, SubjectPublicKeyInfo public key).
    #>
    [CmdletBinding(SupportsShouldProcess)]
    [OutputType([pscustomobject])]
    param([Parameter(Mandatory)] [string] $Directory)

    if (-not $PSCmdlet.ShouldProcess($Directory, 'Write a new RSA key pair')) {
        return
    }
    $rsa = [System.Security.Cryptography.RSA]::Create(2048)
    try {
        $privateKey = Join-Path -Path $Directory -ChildPath 'deploy.pem'
        $publicKey = Join-Path -Path $Directory -ChildPath 'deploy.pub.pem'
        Set-Content -Path $privateKey -Value $rsa.ExportPkcs8PrivateKeyPem() -NoNewline
        Set-Content -Path $publicKey -Value $rsa.ExportSubjectPublicKeyInfoPem() -NoNewline
        [pscustomobject]@{ PrivateKeyPath = $privateKey; PublicKeyPath = $publicKey }
    }
    finally {
        $rsa.Dispose()
    }
}

function Start-FloydAgent {
    <#
    .SYNOPSIS
        Starts the reference agent on an ephemeral loopback port; its output goes to a file, so it can never stall.
    #>
    [CmdletBinding(SupportsShouldProcess)]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)] [string] $AgentAssembly,
        [Parameter(Mandatory)] [string] $DataDirectory,
        [Parameter(Mandatory)] [string] $PublicKeyPath,
        # More agent options, for example @('--config', $path).
        [string[]] $ArgumentList = @(),
        # Where it listens: https://127.0.0.1:0 with a --tls-certificate in ArgumentList for TLS.
        [string] $Url = 'http://127.0.0.1:0',
        [timespan] $Timeout = [timespan]::FromSeconds(60)
    )

    if (-not $PSCmdlet.ShouldProcess($DataDirectory, 'Start a Floyd agent')) {
        return
    }
    $null = New-Item -Path $DataDirectory -ItemType Directory -Force
    $log = Join-Path -Path $DataDirectory -ChildPath 'agent.log'
    $arguments = @("`"$AgentAssembly`"", '--urls', $Url, '--data-dir', "`"$DataDirectory`"", '--authorized-key', "`"$PublicKeyPath`"") +
        @($ArgumentList | ForEach-Object { "`"$_`"" })
    $process = Start-Process -FilePath 'dotnet' -ArgumentList $arguments -RedirectStandardOutput $log -RedirectStandardError "$log.err" -PassThru -NoNewWindow
    $deadline = [datetime]::UtcNow + $Timeout
    while ([datetime]::UtcNow -lt $deadline) {
        $line = Get-Content -Path $log -ErrorAction SilentlyContinue | Where-Object { $_ -like 'Floyd agent listening on *' } | Select-Object -First 1
        if ($line) {
            $address = [uri]($line.Substring('Floyd agent listening on '.Length).Trim())
            return [pscustomobject]@{ Process = $process; Host = $address.Host; Port = $address.Port; Address = $address.Authority; DataDirectory = $DataDirectory }
        }
        if ($process.HasExited) {
            break
        }
        Start-Sleep -Milliseconds 200
    }
    Stop-Process -Id $process.Id -Force -ErrorAction SilentlyContinue
    throw "The Floyd agent did not start: $(Get-Content -Path $log, "$log.err" -Raw -ErrorAction SilentlyContinue)"
}

function Stop-FloydAgent {
    <#
    .SYNOPSIS
        Stops an agent that Start-FloydAgent started.
    #>
    [CmdletBinding(SupportsShouldProcess)]
    param([Parameter(Mandatory, ValueFromPipeline)] [pscustomobject] $Agent)

    process {
        if ($PSCmdlet.ShouldProcess("process $($Agent.Process.Id)", 'Stop the Floyd agent')) {
            Stop-Process -Id $Agent.Process.Id -Force -ErrorAction SilentlyContinue
        }
    }
}

function Get-ClosedPort {
    <#
    .SYNOPSIS
        A loopback port with nothing listening: an agent that is down.
    #>
    [CmdletBinding()]
    [OutputType([int])]
    param()

    $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $listener.Start()
    try {
        $listener.LocalEndpoint.Port
    }
    finally {
        $listener.Stop()
    }
}

function Invoke-ChildPwsh {
    <#
    .SYNOPSIS
        Runs a command in a fresh pwsh like the one running the tests, also when that pwsh is the .NET tool (dotnet pwsh.dll).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Command)

    $toolAssembly = Join-Path -Path $PSHOME -ChildPath 'pwsh.dll'
    $process = [System.Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
    if ([System.IO.Path]::GetFileNameWithoutExtension($process) -eq 'dotnet' -and (Test-Path -Path $toolAssembly)) {
        & $process $toolAssembly -NoProfile -NonInteractive -Command $Command
    }
    else {
        & $process -NoProfile -NonInteractive -Command $Command
    }
}

function New-TestFleet {
    <#
    .SYNOPSIS
            A work folder with a fresh key pair, two real zip packages and real agents on loopback: what every test
            file needs. Remove it with Remove-TestFleet.
    #>
    [CmdletBinding(SupportsShouldProcess)]
    [OutputType([pscustomobject])]
    param(
        # A word for the work folder's name.
        [Parameter(Mandatory)] [string] $Name,
        # How many agents to start (0: none, for tests that start their own).
        [int] $AgentCount = 3
    )

    if (-not $PSCmdlet.ShouldProcess($Name, 'Create a test fleet')) {
        return
    }
    $artifacts = Get-BuildArtifactPath
    $directory = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath "rt-$Name-$([guid]::NewGuid().ToString('N'))"
    $null = New-Item -Path $directory -ItemType Directory
    $keys = New-TestKeyPair -Directory $directory
    $packages = foreach ($version in '1.0.0', '2.0.0') {
        $content = Join-Path -Path $directory -ChildPath "app-$version"
        $null = New-Item -Path $content -ItemType Directory
        Set-Content -Path (Join-Path -Path $content -ChildPath 'app.txt') -Value "app $version"
        [System.IO.File]::WriteAllBytes((Join-Path -Path $content -ChildPath 'payload.bin'), [System.Security.Cryptography.RandomNumberGenerator]::GetBytes(32KB))
        $zip = Join-Path -Path $directory -ChildPath "app-$version.zip"
        Compress-Archive -Path (Join-Path -Path $content -ChildPath '*') -DestinationPath $zip
        $zip
    }
    # 1..0 would count down: no agents means none.
    $agents = @(1..$AgentCount | Where-Object { $AgentCount -gt 0 } | ForEach-Object {
            Start-FloydAgent -AgentAssembly $artifacts.AgentAssembly -DataDirectory (Join-Path -Path $directory -ChildPath "agent-$_") -PublicKeyPath $keys.PublicKeyPath
        })
    [pscustomobject]@{
        Artifacts      = $artifacts
        Directory      = $directory
        PrivateKeyPath = $keys.PrivateKeyPath
        PublicKeyPath  = $keys.PublicKeyPath
        PackageV1      = $packages[0]
        PackageV2      = $packages[1]
        Agents         = $agents
    }
}

function Remove-TestFleet {
    <#
    .SYNOPSIS
        Stops the fleet's agents and removes its work folder.
    #>
    [CmdletBinding(SupportsShouldProcess)]
    param([Parameter(Mandatory, ValueFromPipeline)] [pscustomobject] $Fleet)

    process {
        if ($PSCmdlet.ShouldProcess($Fleet.Directory, 'Stop the agents and remove the test fleet')) {
            $Fleet.Agents | Stop-FloydAgent
            Remove-Item -Path $Fleet.Directory -Recurse -Force -ErrorAction SilentlyContinue
        }
    }
}

function Get-InventoryRow {
    <#
    .SYNOPSIS
        Inventory rows as a CSV import gives them: one per port, ids <Service>-01, -02, ...
    #>
    [CmdletBinding()]
    [OutputType([pscustomobject])]
    param(
        [Parameter(Mandatory)] [string] $Service,
        [Parameter(Mandatory)] [int[]] $Port,
        [string] $Environment = 'prod'
    )

    $number = 0
    foreach ($item in $Port) {
        $number++
        [pscustomobject]@{ InstanceId = '{0}-{1:d2}' -f $Service, $number; Service = $Service; Environment = $Environment; Host = '127.0.0.1'; Port = $item }
    }
}

function Start-SilentListener {
    <#
    .SYNOPSIS
        A loopback port that accepts connections and never answers: an agent that hangs. Stop it with .Stop().
    #>
    [CmdletBinding(SupportsShouldProcess)]
    [OutputType([System.Net.Sockets.TcpListener])]
    param()

    if ($PSCmdlet.ShouldProcess('127.0.0.1', 'Listen on an ephemeral port without answering')) {
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start()
        $listener
    }
}

function Start-WebhookReceiver {
    <#
    .SYNOPSIS
        A real HTTP webhook receiver on 127.0.0.1 (ephemeral port), from the shared test support assembly: it keeps every
        request and answers each path from a script (for example 500 then 200). Dispose() stops it.
    #>
    [CmdletBinding(SupportsShouldProcess)]
    [OutputType([object])]
    param()

    $repositoryRoot = Resolve-Path -Path (Join-Path -Path $PSScriptRoot -ChildPath '../..')
    $candidates = if ($env:RT_BUILD_ROOT) {
        Join-Path -Path $env:RT_BUILD_ROOT -ChildPath 'bin/ReleaseTools.Testing/*/net10.0/ReleaseTools.Testing.dll'
    }
    else {
        Join-Path -Path $repositoryRoot -ChildPath 'tests/ReleaseTools.Testing/bin/*/net10.0/ReleaseTools.Testing.dll'
    }
    $assembly = Get-Item -Path $candidates -ErrorAction SilentlyContinue | Sort-Object -Property LastWriteTime -Descending | Select-Object -First 1 -ExpandProperty FullName
    if (-not $assembly) {
        throw 'The test support assembly is not built. Run ./build.ps1 (or dotnet build ReleaseTools.sln) first.'
    }
    if ($PSCmdlet.ShouldProcess('127.0.0.1', 'Start a webhook receiver')) {
        if (-not ('ReleaseTools.Testing.WebhookReceiver' -as [type])) {
            Add-Type -Path $assembly
        }
        [ReleaseTools.Testing.WebhookReceiver]::new()
    }
}

Export-ModuleMember -Function Start-WebhookReceiver, Get-BuildArtifactPath, New-TestKeyPair, Start-FloydAgent, Stop-FloydAgent, Get-ClosedPort, Invoke-ChildPwsh, New-TestFleet, Remove-TestFleet, Get-InventoryRow, Start-SilentListener
