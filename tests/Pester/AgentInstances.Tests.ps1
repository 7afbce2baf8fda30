#Requires -Version 7.4
<#
    Several instances of one service behind one agent, and instances reached over HTTPS, as a user registers and
    deploys them: Register-ServiceInstance -AgentInstance / -UseHttps / -AgentCertificateFingerprint, Invoke-Deployment,
    Invoke-Rollback and the history, against real agent processes on loopback and a real SQLite store.
#>

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'TestFleet.psm1') -Force
    $script:Fleet = New-TestFleet -Name 'agent-instances' -AgentCount 1
    Import-Module -Name $script:Fleet.Artifacts.ModuleManifest -Force
    $script:Agent = $script:Fleet.Agents[0]

    function script:Use-Store {
        <#
        .SYNOPSIS
            Points every cmdlet of the test at a store of its own and at the fleet's signing key.
        #>
        param([Parameter(Mandatory)] [string] $Name)
        $PSDefaultParameterValues['*:StorePath'] = Join-Path -Path $script:Fleet.Directory -ChildPath "$Name.db"
        $PSDefaultParameterValues['*:PrivateKeyPath'] = $script:Fleet.PrivateKeyPath
    }

    function script:Get-CurrentRelease {
        <#
        .SYNOPSIS
            The release an instance's folder on the agent points at: services/<service>[@<instance>]/current.
        #>
        param([Parameter(Mandatory)] [string] $DataDirectory, [Parameter(Mandatory)] [string] $Folder)
        Split-Path -Leaf -Path (Get-Item -Path (Join-Path -Path $DataDirectory -ChildPath "services/$Folder/current")).Target
    }
}

AfterAll {
    $PSDefaultParameterValues.Clear()
    $script:Fleet | Remove-TestFleet
}

Describe 'Several instances of a service behind one agent' {
    It 'registers two instances of web at one agent address, deploys each on its own and rolls one back while the other keeps running' {
        Use-Store -Name 'two-webs'
        $agentHost = $script:Agent.Host
        $agentPort = $script:Agent.Port
        Register-ServiceInstance -InstanceId web-8081 -Service web -Environment prod -HostName $agentHost -Port $agentPort
        Register-ServiceInstance -InstanceId web-8082 -Service web -Environment prod -HostName $agentHost -Port $agentPort -AgentInstance port-8082
        Register-ServiceInstance -InstanceId web-8082-copy -Service web -Environment prod -HostName $agentHost -Port $agentPort -AgentInstance port-8082 `
            -ErrorVariable duplicate -ErrorAction SilentlyContinue

        $first = Get-ServiceInstance -Service web | Invoke-Deployment -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force
        $second = Get-ServiceInstance -InstanceId web-8082 | Invoke-Deployment -Version 2.0.0 -PackageUrl $script:Fleet.PackageV2 -Force

        $duplicate.FullyQualifiedErrorId | Should -Be 'InstanceAddressInUse,ReleaseTools.Commands.RegisterServiceInstanceCommand'
        $duplicate[0].Exception.Message | Should -BeLike "*agent instance 'port-8082'*"
        (Get-ServiceInstance -Service web).InstanceId | Should -Be 'web-8081', 'web-8082'
        ($first | Sort-Object InstanceId).Status | Should -Be 'Succeeded', 'Succeeded'
        $second.Status | Should -Be 'Succeeded'
        $second.FromVersion | Should -Be '1.0.0'
        $instances = Get-ServiceInstance -Service web | Sort-Object InstanceId
        $instances | ForEach-Object { "$($_.InstanceId)=$($_.Version)/$($_.AgentInstance)" } | Should -Be 'web-8081=1.0.0/', 'web-8082=2.0.0/port-8082'
        Get-CurrentRelease -DataDirectory $script:Agent.DataDirectory -Folder 'web' | Should -BeLike '1.0.0-*'
        Get-CurrentRelease -DataDirectory $script:Agent.DataDirectory -Folder 'web@port-8082' | Should -BeLike '2.0.0-*'
        (Get-InstanceVersionHistory -InstanceId web-8081).Version | Should -Be '1.0.0'
        (Get-InstanceVersionHistory -InstanceId web-8082).Version | Should -Be '2.0.0', '1.0.0'

        $rollback = Get-ServiceInstance -InstanceId web-8082 | Invoke-Rollback -Force

        $rollback.Status | Should -Be 'Succeeded'
        $rollback.ToVersion | Should -Be '1.0.0'
        Get-CurrentRelease -DataDirectory $script:Agent.DataDirectory -Folder 'web@port-8082' | Should -BeLike '1.0.0-*'
        Get-CurrentRelease -DataDirectory $script:Agent.DataDirectory -Folder 'web' | Should -BeLike '1.0.0-*'
        (Get-InstanceVersionHistory -InstanceId web-8081).Version | Should -Be '1.0.0'
        (Get-ServiceInstance -InstanceId web-8081).Version | Should -Be '1.0.0'
        (Get-ServiceInstance -Service web | Test-ServiceInstance | Sort-Object InstanceId).Version | Should -Be '1.0.0', '1.0.0'
    }

    It 'deploys 2.0.0 to the one instance that asks for it, not Unchanged because another instance of the agent runs it' {
        Use-Store -Name 'unchanged'
        Register-ServiceInstance -InstanceId api-a -Service api -Environment prod -HostName $script:Agent.Host -Port $script:Agent.Port -AgentInstance a
        Register-ServiceInstance -InstanceId api-b -Service api -Environment prod -HostName $script:Agent.Host -Port $script:Agent.Port -AgentInstance b
        $null = Get-ServiceInstance -InstanceId api-a | Invoke-Deployment -Version 2.0.0 -PackageUrl $script:Fleet.PackageV2 -Force

        $onB = Get-ServiceInstance -InstanceId api-b | Invoke-Deployment -Version 2.0.0 -PackageUrl $script:Fleet.PackageV2 -Force
        $againOnA = Get-ServiceInstance -InstanceId api-a | Invoke-Deployment -Version 2.0.0 -PackageUrl $script:Fleet.PackageV2 -Force

        $onB.Status | Should -Be 'Succeeded'
        $againOnA.Status | Should -Be 'Unchanged'
        Get-CurrentRelease -DataDirectory $script:Agent.DataDirectory -Folder 'api@b' | Should -BeLike '2.0.0-*'
        Test-Path -Path (Join-Path -Path $script:Agent.DataDirectory -ChildPath 'services/api') | Should -BeFalse
    }

    It 'carries AgentInstance and UseHttps through Export-Csv and Import-Csv | Register-ServiceInstance' {
        Use-Store -Name 'csv-source'
        Register-ServiceInstance -InstanceId cart-1 -Service cart -Environment prod -HostName 10.0.0.5 -Port 7070 -AgentInstance blue
        Register-ServiceInstance -InstanceId cart-2 -Service cart -Environment prod -HostName 10.0.0.5 -Port 7443 -UseHttps `
            -AgentCertificateFingerprint ('AB:' * 31 + 'AB')
        $csv = Join-Path -Path $script:Fleet.Directory -ChildPath 'cart.csv'
        Get-ServiceInstance -Service cart | Export-Csv -Path $csv

        Use-Store -Name 'csv-target'
        Import-Csv -Path $csv | Register-ServiceInstance

        $imported = Get-ServiceInstance -Service cart | Sort-Object InstanceId
        $imported | ForEach-Object { "$($_.InstanceId)|$($_.AgentInstance)|$($_.UseHttps)|$($_.AgentCertificateFingerprint)" } |
            Should -Be 'cart-1|blue|False|', "cart-2||True|$('ab' * 32)"
    }

    It 'refuses an unusable agent instance id with AgentInstanceInvalid and registers nothing' {
        Use-Store -Name 'bad-agent-instance'

        Register-ServiceInstance -InstanceId web-x -Service web -Environment prod -HostName 127.0.0.1 -Port 7070 -AgentInstance 'a/b' `
            -ErrorVariable refused -ErrorAction SilentlyContinue

        $refused.FullyQualifiedErrorId | Should -Be 'AgentInstanceInvalid,ReleaseTools.Commands.RegisterServiceInstanceCommand'
        $refused[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $refused[0].TargetObject | Should -Be 'a/b'
        Get-ServiceInstance -InstanceId web-x -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}

Describe 'Instances reached over HTTPS' {
    BeforeAll {
        # A self-signed certificate for 127.0.0.1, as 'openssl req -x509' would give it, and an agent serving it.
        $rsa = [System.Security.Cryptography.RSA]::Create(2048)
        $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new('CN=floyd-agent', $rsa,
            [System.Security.Cryptography.HashAlgorithmName]::SHA256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
        $names = [System.Security.Cryptography.X509Certificates.SubjectAlternativeNameBuilder]::new()
        $names.AddIpAddress([System.Net.IPAddress]::Loopback)
        $request.CertificateExtensions.Add($names.Build())
        $certificate = $request.CreateSelfSigned([datetimeoffset]::UtcNow.AddDays(-1), [datetimeoffset]::UtcNow.AddDays(30))
        $script:CertificatePath = Join-Path -Path $script:Fleet.Directory -ChildPath 'agent.crt'
        $script:KeyPath = Join-Path -Path $script:Fleet.Directory -ChildPath 'agent.key'
        Set-Content -Path $script:CertificatePath -Value $certificate.ExportCertificatePem() -NoNewline
        Set-Content -Path $script:KeyPath -Value $rsa.ExportPkcs8PrivateKeyPem() -NoNewline
        # As openssl x509 -noout -fingerprint -sha256 prints it.
        $script:Fingerprint = ($certificate.GetCertHashString([System.Security.Cryptography.HashAlgorithmName]::SHA256) -split '(..)' -ne '') -join ':'
        $certificate.Dispose()
        $rsa.Dispose()
        $script:TlsAgent = Start-FloydAgent -AgentAssembly $script:Fleet.Artifacts.AgentAssembly -DataDirectory (Join-Path -Path $script:Fleet.Directory -ChildPath 'agent-tls') `
            -PublicKeyPath $script:Fleet.PublicKeyPath -Url 'https://127.0.0.1:0' -ArgumentList @('--tls-certificate', $script:CertificatePath, '--tls-certificate-key', $script:KeyPath)
    }

    AfterAll {
        $script:TlsAgent | Stop-FloydAgent
    }

    It 'deploys over HTTPS to an agent whose self-signed certificate the instance pins, and shows the instance as HTTPS' {
        Use-Store -Name 'https'
        Register-ServiceInstance -InstanceId secure-1 -Service secure -Environment prod -HostName $script:TlsAgent.Host -Port $script:TlsAgent.Port `
            -UseHttps -AgentCertificateFingerprint $script:Fingerprint

        $result = Get-ServiceInstance -Service secure | Invoke-Deployment -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force
        $health = Get-ServiceInstance -Service secure | Test-ServiceInstance

        $result.Status | Should -Be 'Succeeded'
        $health.Reachable | Should -BeTrue
        $health.Version | Should -Be '1.0.0'
        $instance = Get-ServiceInstance -InstanceId secure-1
        $instance.UseHttps | Should -BeTrue
        $instance.AgentCertificateFingerprint | Should -Be ($script:Fingerprint -replace ':', '').ToLowerInvariant()
        Get-CurrentRelease -DataDirectory $script:TlsAgent.DataDirectory -Folder 'secure' | Should -BeLike '1.0.0-*'
    }

    It 'refuses the agent when its certificate is not the pinned one, or is self-signed and nothing is pinned, and the agent is left untouched' {
        Use-Store -Name 'https-refused'
        Register-ServiceInstance -InstanceId guarded-1 -Service guarded -Environment prod -HostName $script:TlsAgent.Host -Port $script:TlsAgent.Port `
            -UseHttps -AgentCertificateFingerprint ('0' * 64)
        Register-ServiceInstance -InstanceId guarded-2 -Service guarded -Environment prod -HostName $script:TlsAgent.Host -Port $script:TlsAgent.Port `
            -UseHttps -AgentInstance two

        $results = Get-ServiceInstance -Service guarded | Invoke-Deployment -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force `
            -ErrorAction SilentlyContinue -ErrorVariable failures

        ($results | Sort-Object InstanceId).Status | Should -Be 'Unreachable', 'Unreachable'
        @($failures).Count | Should -BeGreaterOrEqual 2
        $failures | ForEach-Object { $_.Exception.Message } | Should -BeLike '*certificate*'
        Test-Path -Path (Join-Path -Path $script:TlsAgent.DataDirectory -ChildPath 'services/guarded') | Should -BeFalse
        Test-Path -Path (Join-Path -Path $script:TlsAgent.DataDirectory -ChildPath 'services/guarded@two') | Should -BeFalse
    }

    It 'refuses a pinned certificate without -UseHttps with AgentCertificateInvalid' {
        Use-Store -Name 'https-pin-without-tls'

        Register-ServiceInstance -InstanceId plain-1 -Service plain -Environment prod -HostName 127.0.0.1 -Port 7070 -AgentCertificateFingerprint $script:Fingerprint `
            -ErrorVariable refused -ErrorAction SilentlyContinue

        $refused.FullyQualifiedErrorId | Should -Be 'AgentCertificateInvalid,ReleaseTools.Commands.RegisterServiceInstanceCommand'
        $refused[0].Exception.Message | Should -BeLike '*-UseHttps*'
    }
}
