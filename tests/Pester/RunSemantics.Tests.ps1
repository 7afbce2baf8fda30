#Requires -Version 7.4
<#
    Runs a user can trust, as a user types them in pwsh against real agents and a real SQLite store: resume never
    downgrades, a dead run shows Interrupted at once, rollbacks that cannot work are refused before anything is
    recorded, filters mean the same in every cmdlet, -WhatIf works without a key, a deployment's results are undone
    exactly, one result per instance, configs are kept, released bytes are protected, and a held lease can be released.
#>

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'TestFleet.psm1') -Force
    $script:Fleet = New-TestFleet -Name 'runs'
    Import-Module -Name $script:Fleet.Artifacts.ModuleManifest -Force

    $content = Join-Path -Path $script:Fleet.Directory -ChildPath 'app-3.0.0'
    $null = New-Item -Path $content -ItemType Directory
    Set-Content -Path (Join-Path -Path $content -ChildPath 'app.txt') -Value 'app 3.0.0'
    $script:PackageV3 = Join-Path -Path $script:Fleet.Directory -ChildPath 'app-3.0.0.zip'
    Compress-Archive -Path (Join-Path -Path $content -ChildPath '*') -DestinationPath $script:PackageV3

    function script:Initialize-Service {
        <#
        .SYNOPSIS
            Registers one instance per agent port for a service, in a store of its own.
        #>
        param([Parameter(Mandatory)] [string] $Service, [int[]] $Port = $script:Fleet.Agents.Port)
        $script:StorePath = Join-Path -Path $script:Fleet.Directory -ChildPath "$Service.db"
        $PSDefaultParameterValues['*:StorePath'] = $script:StorePath
        $PSDefaultParameterValues['*:PrivateKeyPath'] = $script:Fleet.PrivateKeyPath
        Get-InventoryRow -Service $Service -Port $Port | Register-ServiceInstance
    }

    function script:Move-Instance {
        <#
        .SYNOPSIS
            Registers an instance again at another port: its agent went down (a closed port) or came back.
            -Force: several instances may be "down" at the same closed port.
        #>
        param([Parameter(Mandatory)] [string] $InstanceId, [Parameter(Mandatory)] [int] $Port)
        Register-ServiceInstance -InstanceId $InstanceId -Service ($InstanceId -replace '-\d+$') -Environment prod -HostName 127.0.0.1 -Port $Port -Force
    }
}

AfterAll {
    $PSDefaultParameterValues.Clear()
    $script:Fleet | Remove-TestFleet
}

Describe 'Resume-Deployment' {
    It 'leaves alone an instance a newer run moved, and the README pipeline is safe to run again' {
        Initialize-Service -Service 'shop'
        $null = Invoke-Deployment -Service shop -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force
        $closed = Get-ClosedPort
        Move-Instance -InstanceId shop-02 -Port $closed
        Move-Instance -InstanceId shop-03 -Port $closed
        $failed = Invoke-Deployment -Service shop -Version 2.0.0 -PackageUrl $script:Fleet.PackageV2 -RetryCount 0 -FailureTolerance 2 -Force -ErrorAction SilentlyContinue
        ($failed | Sort-Object InstanceId).Status | Should -Be 'Succeeded', 'Unreachable', 'Unreachable'
        Move-Instance -InstanceId shop-02 -Port $script:Fleet.Agents[1].Port
        Move-Instance -InstanceId shop-03 -Port $script:Fleet.Agents[2].Port
        $null = Invoke-Deployment -InstanceId shop-02 -Version 3.0.0 -PackageUrl $script:PackageV3 -Force

        $resumed = Get-ReleaseDeployment -Status Failed, PartiallySucceeded, Interrupted | Resume-Deployment -Force

        ($resumed | Where-Object InstanceId -eq 'shop-02').Status | Should -Be 'Superseded'
        ($resumed | Where-Object InstanceId -eq 'shop-03').Status | Should -Be 'Succeeded'
        (Test-ServiceInstance -InstanceId shop-02).Version | Should -Be '3.0.0'
        (Test-ServiceInstance -InstanceId shop-03).Version | Should -Be '2.0.0'
        $original = Get-ReleaseDeployment -DeploymentId $failed[0].DeploymentId
        $original.Status | Should -Be 'Succeeded'
        $original.ResumedBy | Should -Not -BeNullOrEmpty

        $runs = @(Get-ReleaseDeployment).Count
        $again = Get-ReleaseDeployment -Status Failed, PartiallySucceeded, Interrupted | Resume-Deployment -Force
        $again | Should -BeNullOrEmpty
        @(Get-ReleaseDeployment).Count | Should -Be $runs
        { Resume-Deployment -DeploymentId $original.DeploymentId -Force -ErrorAction Stop } | Should -Throw -ErrorId 'DeploymentNotResumable*'
    }
}

Describe 'A run whose process dies, and its lease' {
    It 'names Unlock-ServiceInstance in the lease conflict, releases the lease with it, and shows the dead run Interrupted at once' {
        $silent = Start-SilentListener
        try {
            Initialize-Service -Service 'held' -Port $silent.LocalEndpoint.Port
            $script = "Import-Module '$($script:Fleet.Artifacts.ModuleManifest)'; Invoke-Deployment -Service held -Version 1.0.0 -PackageUrl '$($script:Fleet.PackageV1)' -RetryCount 0 -StorePath '$($script:StorePath)' -PrivateKeyPath '$($script:Fleet.PrivateKeyPath)' -Force"
            $pwsh = [System.Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
            $arguments = @('-NoProfile', '-NonInteractive', '-Command', $script)
            if ([System.IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') {
                $arguments = @((Join-Path -Path $PSHOME -ChildPath 'pwsh.dll')) + $arguments
            }
            $child = Start-Process -FilePath $pwsh -ArgumentList $arguments -PassThru -RedirectStandardOutput (Join-Path $script:Fleet.Directory 'held.out') -RedirectStandardError (Join-Path $script:Fleet.Directory 'held.err')
            $deadline = [datetime]::UtcNow.AddSeconds(30)
            while ([datetime]::UtcNow -lt $deadline -and -not (Get-ReleaseDeployment -Status Running)) {
                Start-Sleep -Milliseconds 200
            }
            $running = Get-ReleaseDeployment -Status Running
            $running | Should -Not -BeNullOrEmpty

            $conflict = { Invoke-Deployment -Service held -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force -ErrorAction Stop } |
                Should -Throw -ErrorId 'InstanceLeaseConflict*' -PassThru
            $conflict.Exception.Message | Should -BeLike "*Unlock-ServiceInstance -InstanceId held-01 -Reason*"

            $released = Unlock-ServiceInstance -InstanceId 'held-*' -Reason 'the runbook host is being replaced' -Force -PassThru
            $released.InstanceId | Should -Be 'held-01'
            $released.DeploymentId | Should -Be $running.DeploymentId

            Stop-Process -Id $child.Id -Force
            $child.WaitForExit()
            (Get-ReleaseDeployment -DeploymentId $running.DeploymentId).Status | Should -Be 'Interrupted'
        }
        finally {
            if ($child -and -not $child.HasExited) { Stop-Process -Id $child.Id -Force }
            $silent.Stop()
        }
    }
}

Describe 'Invoke-Rollback' {
    It 'refuses, before any run is recorded, an instance never deployed and a version not in the history' {
        Initialize-Service -Service 'rb'
        $null = Invoke-Deployment -InstanceId rb-01 -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force

        $never = Invoke-Rollback -InstanceId rb-02 -Force -ErrorVariable neverError -ErrorAction SilentlyContinue
        $missing = Invoke-Rollback -InstanceId rb-01 -Version 9.9.9 -Force -ErrorVariable missingError -ErrorAction SilentlyContinue

        $never | Should -BeNullOrEmpty
        $missing | Should -BeNullOrEmpty
        $neverError[0].FullyQualifiedErrorId | Should -BeLike 'NoPreviousRelease,*'
        $neverError[0].TargetObject | Should -Be 'rb-02'
        $missingError[0].FullyQualifiedErrorId | Should -BeLike 'ReleaseNotInHistory,*'
        "$($neverError[0]) $($missingError[0])" | Should -Not -BeLike '*Resume-Deployment*'
        @(Get-ReleaseDeployment) | Should -HaveCount 1
    }

    It 'undoes a deployment from its results, as the README shows, and leaves alone the instance it never moved' {
        Initialize-Service -Service 'undo'
        $null = Invoke-Deployment -Service undo -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force
        Move-Instance -InstanceId undo-03 -Port (Get-ClosedPort)

        $results = Get-ServiceInstance -Service undo -Environment prod |
            Invoke-Deployment -Version 2.0.0 -PackageUrl $script:Fleet.PackageV2 -RetryCount 0 -FailureTolerance 1 -Force -ErrorAction SilentlyContinue
        Move-Instance -InstanceId undo-03 -Port $script:Fleet.Agents[2].Port
        $undone = if ($results | Where-Object Status -in Failed, Unreachable) {
            $results | Invoke-Rollback -Force -WarningVariable left
        }

        ($undone.InstanceId | Sort-Object) | Should -Be 'undo-01', 'undo-02'
        $undone.ToVersion | Sort-Object -Unique | Should -Be '1.0.0'
        $left | Should -HaveCount 1
        "$left" | Should -BeLike '*never moved undo-03*'
        (Get-ServiceInstance -Service undo | Test-ServiceInstance).Version | Sort-Object -Unique | Should -Be '1.0.0'
    }
}

Describe 'Filters' {
    It 'accept wildcards for -Service, -Environment and -InstanceId in every cmdlet and name the filter that matched nothing' {
        Initialize-Service -Service 'wild'

        @(Get-ServiceInstance -Service 'wi*' -Environment 'pro*') | Should -HaveCount 3
        @(Test-ServiceInstance -Service 'wi*' -Environment 'pro*') | Should -HaveCount 3
        @(Invoke-Deployment -Service 'wi*' -Environment 'pro*' -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force) | Should -HaveCount 3
        @(Get-InstanceVersionHistory -InstanceId 'wild-0*') | Should -HaveCount 3
        @(Get-ReleaseDeployment -Service 'w*') | Should -HaveCount 1

        $nothing = { Invoke-Deployment -Service 'wi*' -Environment 'stag*' -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'DeploymentNoInstances*' -PassThru
        $nothing.Exception.Message | Should -BeLike "*-Environment 'stag*' matches no registered instance*"
    }
}

Describe '-WhatIf' {
    It 'shows the plan from the store without a key and says the agents were not asked' {
        Initialize-Service -Service 'plan'
        $null = Invoke-Deployment -Service plan -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force
        $PSDefaultParameterValues.Remove('*:PrivateKeyPath')
        $key = $env:RELEASETOOLS_PRIVATE_KEY
        $env:RELEASETOOLS_PRIVATE_KEY = $null
        try {
            $null = Invoke-Deployment -Service plan -Version 2.0.0 -PackageUrl $script:Fleet.PackageV2 -WhatIf -InformationVariable plan
        }
        finally {
            $env:RELEASETOOLS_PRIVATE_KEY = $key
        }

        "$plan" | Should -BeLike '*plan-01 1.0.0 -> 2.0.0*'
        "$plan" | Should -BeLike '*Not checked: The agents were not asked, because there is no signing key*'
        @(Get-ReleaseDeployment) | Should -HaveCount 1
    }
}

Describe 'Invoke-Deployment results and releases' {
    It 'writes one result per instance with -OnFailure Rollback' {
        Initialize-Service -Service 'once' -Port @($script:Fleet.Agents[0].Port, $script:Fleet.Agents[1].Port, (Get-ClosedPort))
        $null = Invoke-Deployment -InstanceId once-01, once-02 -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force

        $results = Get-ServiceInstance -Service once | Invoke-Deployment -Version 2.0.0 -PackageUrl $script:Fleet.PackageV2 -OnFailure Rollback -RetryCount 0 -Force -ErrorAction SilentlyContinue

        $results | Should -HaveCount 3
        ($results | Sort-Object InstanceId).Status | Should -Be 'RolledBack', 'RolledBack', 'Unreachable'
    }

    It 'keeps the config last deployed when -ConfigPath is left out, and -NoConfig sends an empty one' {
        Initialize-Service -Service 'conf'
        $template = Join-Path -Path $script:Fleet.Directory -ChildPath 'conf.conf.template'
        Set-Content -Path $template -Value 'level={{Level}}'
        $null = Invoke-Deployment -Service conf -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -ConfigPath $template -ConfigValues @{ Level = 'info' } -Force
        $fversion = (Get-ServiceInstance -Service conf).FVersion | Sort-Object -Unique

        $redeploy = Invoke-Deployment -Service conf -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Redeploy -Force -Verbose 4>&1
        $verbose = $redeploy | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        $results = $redeploy | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }

        $results.Config | Sort-Object -Unique | Should -BeLike 'kept: the config last deployed to conf/prod*'
        "$verbose" | Should -BeLike '*conf/prod: config conf.conf, kept*'
        (Get-ServiceInstance -Service conf | Test-ServiceInstance).FVersion | Sort-Object -Unique | Should -Be $fversion

        $empty = Invoke-Deployment -Service conf -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -NoConfig -Force
        $empty.Config | Sort-Object -Unique | Should -Be 'empty, as asked (-NoConfig)'
        (Get-ServiceInstance -Service conf).FVersion | Sort-Object -Unique | Should -Not -Be $fversion
    }

    It 'refuses other bytes under a released version, showing both checksums, unless -AllowChecksumChange' {
        Initialize-Service -Service 'bytes'
        $null = Invoke-Deployment -Service bytes -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force
        $released = (Get-FileHash -Path $script:Fleet.PackageV1 -Algorithm MD5).Hash.ToLowerInvariant()
        $rebuilt = (Get-FileHash -Path $script:PackageV3 -Algorithm MD5).Hash.ToLowerInvariant()

        $refused = { Invoke-Deployment -Service bytes -Version 1.0.0 -PackageUrl $script:PackageV3 -Redeploy -Force -ErrorAction Stop } |
            Should -Throw -ErrorId 'PackageChecksumConflict*' -PassThru
        $refused.Exception.Message | Should -BeLike "*$released*"
        $refused.Exception.Message | Should -BeLike "*$rebuilt*"
        @(Get-ReleaseDeployment) | Should -HaveCount 1

        $allowed = Invoke-Deployment -Service bytes -Version 1.0.0 -PackageUrl $script:PackageV3 -Redeploy -AllowChecksumChange -Force -WarningAction SilentlyContinue
        $allowed.Status | Sort-Object -Unique | Should -Be 'Succeeded'
        (Get-ReleaseDeployment -Limit 1).PackageMd5 | Should -Be $rebuilt
    }
}
