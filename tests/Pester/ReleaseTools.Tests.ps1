#Requires -Version 7.2
<#
    The same scenarios as the xunit cmdlet tests, for users with pwsh and Pester 5:
    ./build.ps1 -Test runs this file in a fresh child pwsh against the built module.
#>

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'TestFleet.psm1') -Force
    $script:Artifacts = Get-BuildArtifactPath
    Import-Module -Name $script:Artifacts.ModuleManifest -Force

    $script:WorkDirectory = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath "rt-pester-$([guid]::NewGuid().ToString('N'))"
    $null = New-Item -Path $script:WorkDirectory -ItemType Directory
    $script:Keys = New-TestKeyPair -Directory $script:WorkDirectory
    $script:PackageV1 = Join-Path -Path $script:WorkDirectory -ChildPath 'app-1.0.0.bin'
    $script:PackageV2 = Join-Path -Path $script:WorkDirectory -ChildPath 'app-2.0.0.bin'
    [System.IO.File]::WriteAllBytes($script:PackageV1, [System.Security.Cryptography.RandomNumberGenerator]::GetBytes(64KB))
    [System.IO.File]::WriteAllBytes($script:PackageV2, [System.Security.Cryptography.RandomNumberGenerator]::GetBytes(80KB))
    $script:Agents = 1..3 | ForEach-Object {
        Start-FloydAgent -AgentAssembly $script:Artifacts.AgentAssembly -DataDirectory (Join-Path -Path $script:WorkDirectory -ChildPath "agent-$_") -PublicKeyPath $script:Keys.PublicKeyPath
    }

    # Each test gets its own store and service name, so agents' state never leaks between tests.
    function script:Initialize-Fleet {
        <#
        .SYNOPSIS
            Registers one instance per agent port for a service, in a store of its own.
        #>
        param([Parameter(Mandatory)] [string] $Service, [int[]] $Port = $script:Agents.Port)
        $script:StorePath = Join-Path -Path $script:WorkDirectory -ChildPath "$Service.db"
        $PSDefaultParameterValues['*:StorePath'] = $script:StorePath
        $PSDefaultParameterValues['*:PrivateKeyPath'] = $script:Keys.PrivateKeyPath
        $number = 0
        $Port | ForEach-Object {
            $number++
            [pscustomobject]@{ InstanceId = "$Service-0$number"; Service = $Service; Environment = 'prod'; Host = '127.0.0.1'; Port = $_ }
        } | Register-ServiceInstance
    }
}

AfterAll {
    $script:Agents | Stop-FloydAgent
    Remove-Item -Path $script:WorkDirectory -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'The built module' {
    It 'passes Test-ModuleManifest' {
        $module = Test-ModuleManifest -Path $script:Artifacts.ModuleManifest
        $module.Name | Should -Be 'ReleaseTools'
        $module.CompatiblePSEditions | Should -Contain 'Core'
        $module.CompatiblePSEditions | Should -Contain 'Desktop'
    }

    It 'exports exactly the cmdlets its manifest lists' {
        $manifest = Import-PowerShellDataFile -Path $script:Artifacts.ModuleManifest
        $exported = Get-Command -Module ReleaseTools | ForEach-Object Name | Sort-Object
        $exported | Should -Be ($manifest.CmdletsToExport | Sort-Object)
    }

    It 'has the assembly version of its manifest' {
        $manifest = Import-PowerShellDataFile -Path $script:Artifacts.ModuleManifest
        $assembly = [System.Reflection.AssemblyName]::GetAssemblyName((Join-Path -Path $script:Artifacts.ModuleDirectory -ChildPath 'ReleaseTools.dll')).Version
        '{0}.{1}.{2}' -f $assembly.Major, $assembly.Minor, $assembly.Build | Should -Be $manifest.ModuleVersion
    }

    It 'declares an output type on every cmdlet' {
        Get-Command -Module ReleaseTools | Where-Object { $_.OutputType.Count -eq 0 } | Should -BeNullOrEmpty
    }

    It 'loads the engine into its own load context from the Dependencies folder' {
        $null = Get-ServiceInstance -StorePath (Join-Path -Path $script:WorkDirectory -ChildPath 'probe.db')
        $engine = [System.AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'ReleaseTools.Engine' }
        @($engine).Count | Should -Be 1
        [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($engine).Name | Should -Be 'ReleaseTools.Dependencies'
        $engine.Location | Should -BeLike (Join-Path -Path $script:Artifacts.ModuleDirectory -ChildPath 'Dependencies*')
    }
}

Describe 'Registering an inventory' {
    It 'binds [pscustomobject] rows by property name' {
        Initialize-Fleet -Service 'inventory'
        $instances = Get-ServiceInstance -Service 'inventory'
        $instances.Count | Should -Be 3
        $instances[0].PSObject.TypeNames[0] | Should -Be 'ReleaseTools.ServiceInstance'
        $instances.Host | Sort-Object -Unique | Should -Be '127.0.0.1'
        $instances.Port | Sort-Object | Should -Be ($script:Agents.Port | Sort-Object)
    }
}

Describe 'Deploying, reading history and rolling back' {
    It 'runs register, deploy, history and rollback as one pipeline story' {
        Initialize-Fleet -Service 'shop'

        $first = Get-ServiceInstance -Service 'shop' | Invoke-Deployment -Version '1.0.0' -PackageUrl $script:PackageV1 -Force
        $first.Count | Should -Be 3
        $first.Status | Sort-Object -Unique | Should -Be 'Succeeded'

        $second = Get-ServiceInstance -Service 'shop' | Invoke-Deployment -Version '2.0.0' -PackageUrl $script:PackageV2 -BatchSize 2 -Force
        $second.Batch | Sort-Object | Should -Be @(1, 1, 2)

        $history = Get-ServiceInstance -Service 'shop' | Get-InstanceVersionHistory
        $history.Count | Should -Be 6
        ($history | Where-Object InstanceId -eq 'shop-01').Version | Should -Be @('2.0.0', '1.0.0')

        $rollback = $second | Where-Object Status -eq 'Succeeded' | Invoke-Rollback -Force
        $rollback.Count | Should -Be 3
        $rollback.ToVersion | Sort-Object -Unique | Should -Be '1.0.0'
        (Get-ServiceInstance -Service 'shop').Version | Sort-Object -Unique | Should -Be '1.0.0'
        (Get-ServiceInstance -Service 'shop' | Test-ServiceInstance).Version | Sort-Object -Unique | Should -Be '1.0.0'
    }

    It 'changes nothing with -WhatIf and shows the plan' {
        Initialize-Fleet -Service 'search'
        $null = Invoke-Deployment -Service 'search' -Version '1.0.0' -PackageUrl $script:PackageV1 -Force
        $before = (Get-FileHash -Path $script:StorePath).Hash

        $output = Get-ServiceInstance -Service 'search' | Invoke-Deployment -Version '2.0.0' -PackageUrl $script:PackageV2 -WhatIf -InformationVariable plan

        $output | Should -BeNullOrEmpty
        ($plan | Where-Object { $_.Tags -contains 'WhatIf' }).MessageData | Should -BeLike '*3 would change*'
        (Get-FileHash -Path $script:StorePath).Hash | Should -Be $before
        (Get-ServiceInstance -Service 'search' | Test-ServiceInstance).Version | Sort-Object -Unique | Should -Be '1.0.0'
    }
}

Describe 'A failed instance' {
    It 'writes an error record for the instance while the others succeed' {
        Initialize-Fleet -Service 'mail' -Port @($script:Agents[0].Port, $script:Agents[1].Port, (Get-ClosedPort))

        $results = Get-ServiceInstance -Service 'mail' | Invoke-Deployment -Version '1.0.0' -PackageUrl $script:PackageV1 -RetryCount 0 -Force -ErrorVariable failures -ErrorAction SilentlyContinue

        ($results | Where-Object Status -eq 'Succeeded').Count | Should -Be 2
        $failed = $results | Where-Object Status -ne 'Succeeded'
        $failed.InstanceId | Should -Be 'mail-03'
        $failures.Count | Should -Be 1
        $failures[0].TargetObject | Should -Be 'mail-03'
        $failures[0].CategoryInfo.Category | Should -Be 'ConnectionError'
        $failures[0].FullyQualifiedErrorId | Should -BeLike "$($failed.ErrorId),ReleaseTools.Commands.InvokeDeploymentCommand"
    }

    It 'is also reported as an Azure Pipelines logging command when TF_BUILD is set' {
        Initialize-Fleet -Service 'queue' -Port @($script:Agents[0].Port, (Get-ClosedPort))

        $env:TF_BUILD = 'True'
        try {
            $null = Invoke-Deployment -Service 'queue' -Version '1.0.0' -PackageUrl $script:PackageV1 -RetryCount 0 -Force -ErrorAction SilentlyContinue -InformationVariable logged
        }
        finally {
            $env:TF_BUILD = $null
        }

        $errors = $logged | Where-Object { $_.Tags -contains 'AzureDevOps' } | ForEach-Object { "$($_.MessageData)" } | Where-Object { $_ -like '##vso`[task.logissue type=error;*' }
        $errors | Should -HaveCount 1
        $errors | Should -BeLike '*queue-02*'
    }

    It 'becomes a catchable exception with -ErrorAction Stop' {
        Initialize-Fleet -Service 'pay' -Port @(Get-ClosedPort)

        { Invoke-Deployment -Service 'pay' -Version '1.0.0' -PackageUrl $script:PackageV1 -RetryCount 0 -Force -ErrorAction Stop } |
            Should -Throw -ErrorId '*,ReleaseTools.Commands.InvokeDeploymentCommand'
    }

    It 'stops the whole run when the key file does not exist' {
        Initialize-Fleet -Service 'auth'

        { Invoke-Deployment -Service 'auth' -Version '1.0.0' -PackageUrl $script:PackageV1 -PrivateKeyPath './no-such-key.pem' -Force } |
            Should -Throw -ErrorId 'PrivateKeyNotFound,ReleaseTools.Commands.InvokeDeploymentCommand'
        Get-ReleaseDeployment | Should -BeNullOrEmpty
    }
}
