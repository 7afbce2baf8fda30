#Requires -Version 7.4
<#
    Invoke-Deployment, Invoke-Rollback, Resume-Deployment, Get-ReleaseDeployment and Test-ServiceInstance as the
    README and the help show them, against real agents on loopback and a real SQLite store, with their errors.
#>

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'TestFleet.psm1') -Force
    $script:Fleet = New-TestFleet -Name 'deployment'
    Import-Module -Name $script:Fleet.Artifacts.ModuleManifest -Force

    # Each test gets its own store and service name, so agents' state never leaks between tests.
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
}

AfterAll {
    $PSDefaultParameterValues.Clear()
    $script:Fleet | Remove-TestFleet
}

Describe 'Invoke-Deployment' {
    It 'renders the config template from -ConfigValues, Service, Environment and Version, and verifies -Checksum' {
        Initialize-Service -Service 'web'
        $template = Join-Path -Path $script:Fleet.Directory -ChildPath 'web.conf.template'
        Set-Content -Path $template -Value 'service={{Service}} env={{Environment}} version={{Version}} level={{LogLevel}}'
        $md5 = (Get-FileHash -Path $script:Fleet.PackageV1 -Algorithm MD5).Hash.ToLowerInvariant()

        $results = Get-ServiceInstance -Service web -Environment prod |
            Invoke-Deployment -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Checksum $md5 `
                -ConfigPath $template -ConfigValues @{ LogLevel = 'info' } `
                -BatchSize 2 -ThrottleLimit 5 -FailureTolerance 1 -OnFailure Rollback -RetryCount 2 -Force

        $results | Should -HaveCount 3
        $results.Status | Sort-Object -Unique | Should -Be 'Succeeded'
        $results.Batch | Sort-Object | Should -Be 1, 1, 2
        @($results.DeploymentId | Sort-Object -Unique) | Should -HaveCount 1
        $rendered = Get-ChildItem -Path (Join-Path -Path $script:Fleet.Agents[0].DataDirectory -ChildPath 'services/web/configs') -Recurse -Filter 'web.conf' |
            Get-Content -Raw
        $rendered | Should -BeLike '*service=web env=prod version=1.0.0 level=info*'
    }

    It 'reports Unchanged and sends nothing when the instances already run the release, and pushes again with -Redeploy' {
        Initialize-Service -Service 'cart'
        $null = Invoke-Deployment -Service cart -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force

        $again = Invoke-Deployment -Service cart -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force
        $forced = Invoke-Deployment -Service cart -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Redeploy -Force

        $again.Status | Sort-Object -Unique | Should -Be 'Unchanged'
        $again.Transferred | Sort-Object -Unique | Should -BeFalse
        $forced.Status | Sort-Object -Unique | Should -Be 'Succeeded'
    }

    It 'keeps its package cache bounded: a package no run used for a month goes when a new one is cached, and comes back when needed' {
        Initialize-Service -Service 'trim'
        $cache = Join-Path -Path $script:Fleet.Directory -ChildPath 'packages'
        $md5 = (Get-FileHash -Path $script:Fleet.PackageV1 -Algorithm MD5).Hash.ToLowerInvariant()
        $null = Invoke-Deployment -Service trim -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Checksum $md5 -Force
        $cached = @(Get-ChildItem -Path $cache -Recurse -Filter "$md5.pkg")
        $cached | Should -Not -BeNullOrEmpty
        # As if no run had used it for 40 days, and the cache was last trimmed two days ago.
        $cached | ForEach-Object { $_.LastWriteTimeUtc = [datetime]::UtcNow.AddDays(-40) }
        (Get-Item -Path (Join-Path -Path $cache -ChildPath 'trimmed')).LastWriteTimeUtc = [datetime]::UtcNow.AddDays(-2)
        $newer = Join-Path -Path $script:Fleet.Directory -ChildPath 'app-2.1.0.zip'
        Copy-Item -Path $script:Fleet.PackageV2 -Destination $newer
        [System.IO.File]::AppendAllText($newer, ' ')

        $null = Invoke-Deployment -Service trim -Version 2.1.0 -PackageUrl $newer -Force

        @(Get-ChildItem -Path $cache -Recurse -Filter "$md5.pkg") | Should -BeNullOrEmpty
        $back = Invoke-Deployment -Service trim -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Checksum $md5 -Redeploy -Force
        $back.Status | Sort-Object -Unique | Should -Be 'Succeeded'
        @(Get-ChildItem -Path $cache -Recurse -Filter "$md5.pkg") | Should -Not -BeNullOrEmpty
    }

    It 'stops with PackageChecksumMismatch before any instance changes when -Checksum does not match' {
        Initialize-Service -Service 'ledger'

        { Invoke-Deployment -Service ledger -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Checksum ('0' * 32) -Force } |
            Should -Throw -ErrorId 'PackageChecksumMismatch,ReleaseTools.Commands.InvokeDeploymentCommand'
        (Get-ServiceInstance -Service ledger).Version | Where-Object { $_ } | Should -BeNullOrEmpty
        (Get-ServiceInstance -Service ledger | Test-ServiceInstance).Version | Where-Object { $_ } | Should -BeNullOrEmpty
    }

    It 'stops with PackageUrlUnsupportedScheme for an ftp:// URL and records no run' {
        Initialize-Service -Service 'auth'

        $caught = $null
        try {
            Invoke-Deployment -Service auth -Version 1.0.0 -PackageUrl 'ftp://127.0.0.1/app.zip' -Force
        }
        catch {
            $caught = $_
        }

        $caught.FullyQualifiedErrorId | Should -Be 'PackageUrlUnsupportedScheme,ReleaseTools.Commands.InvokeDeploymentCommand'
        $caught.CategoryInfo.Category | Should -Be 'InvalidArgument'
        Get-ReleaseDeployment | Should -BeNullOrEmpty
    }

    It 'shows the plan with -WhatIf, batches included, and changes neither the store nor the agents' {
        Initialize-Service -Service 'search'
        $null = Invoke-Deployment -Service search -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force
        $before = (Get-FileHash -Path $script:StorePath).Hash

        $output = Get-ServiceInstance -Service search | Invoke-Deployment -Version 2.0.0 -PackageUrl $script:Fleet.PackageV2 -BatchSize 2 -WhatIf -InformationVariable plan
        $rollback = Invoke-Rollback -Service search -WhatIf -InformationVariable rollbackPlan

        $output | Should -BeNullOrEmpty
        $rollback | Should -BeNullOrEmpty
        $text = ($plan | Where-Object { $_.Tags -contains 'WhatIf' }).MessageData
        $text | Should -BeLike 'Deploy version 2.0.0 to 3 instances in 2 batches: 3 would change, none already runs its release; *'
        $text | Should -BeLike '*search-01 1.0.0 -> 2.0.0*'
        $text | Should -BeLike '*Batch 2:*'
        ($rollbackPlan | Where-Object { $_.Tags -contains 'WhatIf' }).MessageData | Should -BeLike '*has no earlier release*'
        (Get-FileHash -Path $script:StorePath).Hash | Should -Be $before
        (Get-ServiceInstance -Service search | Test-ServiceInstance).Version | Sort-Object -Unique | Should -Be '1.0.0'
    }

    It 'cancels promptly when the pipeline is stopped (Ctrl+C) and records the run as Cancelled' {
        $silent = Start-SilentListener
        try {
            Initialize-Service -Service 'slow' -Port $silent.LocalEndpoint.Port
            $shell = [powershell]::Create()
            $null = $shell.AddScript({
                    param($Manifest, $Store, $Key, $Package)
                    Import-Module -Name $Manifest
                    Invoke-Deployment -Service slow -Version 1.0.0 -PackageUrl $Package -RetryCount 0 -StorePath $Store -PrivateKeyPath $Key -Force
                }).AddArgument($script:Fleet.Artifacts.ModuleManifest).AddArgument($script:StorePath).AddArgument($script:Fleet.PrivateKeyPath).AddArgument($script:Fleet.PackageV1)
            $running = $shell.BeginInvoke()
            $deadline = [datetime]::UtcNow.AddSeconds(30)
            while (-not (Get-ReleaseDeployment) -and [datetime]::UtcNow -lt $deadline) {
                Start-Sleep -Milliseconds 200
            }

            $stopwatch = [System.Diagnostics.Stopwatch]::StartNew()
            $shell.Stop()
            $stopwatch.Stop()

            $running.IsCompleted | Should -BeTrue
            $stopwatch.Elapsed.TotalSeconds | Should -BeLessThan 10
            (Get-ReleaseDeployment).Status | Should -Be 'Cancelled'
            $shell.Dispose()
        }
        finally {
            $silent.Stop()
        }
    }
}

Describe 'A failed instance' {
    It 'is retried alone by Resume-Deployment once its address is fixed' {
        Initialize-Service -Service 'mail' -Port @($script:Fleet.Agents[0].Port, $script:Fleet.Agents[1].Port, (Get-ClosedPort))

        $results = Get-ServiceInstance -Service mail | Invoke-Deployment -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -RetryCount 0 -Force -ErrorVariable failures -ErrorAction SilentlyContinue
        $failures[0].ErrorDetails.RecommendedAction | Should -BeLike '*Resume-Deployment*'
        ($results | Where-Object Status -ne Succeeded).InstanceId | Should -Be 'mail-03'

        Register-ServiceInstance -InstanceId mail-03 -Service mail -Environment prod -HostName 127.0.0.1 -Port $script:Fleet.Agents[2].Port
        $resumed = Get-ReleaseDeployment -Limit 1 | Resume-Deployment -Force

        $resumed | Should -HaveCount 1
        $resumed.InstanceId | Should -Be 'mail-03'
        $resumed.Status | Should -Be 'Succeeded'
        (Get-ServiceInstance -Service mail | Test-ServiceInstance).Version | Sort-Object -Unique | Should -Be '1.0.0'
    }

    It 'shows in Get-ReleaseDeployment -Status and in the run''s Targets, as the README shows' {
        Initialize-Service -Service 'feed' -Port @($script:Fleet.Agents[0].Port, (Get-ClosedPort))
        $null = Invoke-Deployment -Service feed -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -RetryCount 0 -Force -ErrorAction SilentlyContinue

        $run = Get-ReleaseDeployment -Status Failed, Interrupted
        $run | Should -HaveCount 1
        $byId = Get-ReleaseDeployment -DeploymentId $run.DeploymentId
        ($byId.Targets | Where-Object Status -ne Succeeded).InstanceId | Should -Be 'feed-02'
        Test-ServiceInstance -InstanceId feed-02 | ForEach-Object Reachable | Should -BeFalse
    }

    It 'replaces a cached package damaged on disk: fetched again once for the run, said in a warning, and every instance succeeds' {
        Initialize-Service -Service 'ledger2'
        $md5 = (Get-FileHash -Path $script:Fleet.PackageV1 -Algorithm MD5).Hash.ToLowerInvariant()
        $null = Invoke-Deployment -Service ledger2 -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Checksum $md5 -Force
        $cached = Get-ChildItem -Path (Join-Path -Path $script:Fleet.Directory -ChildPath 'packages') -Recurse -Filter "$md5.pkg" | Select-Object -First 1
        $bytes = [System.IO.File]::ReadAllBytes($cached.FullName)
        $bytes[100] = $bytes[100] -bxor 0xFF
        [System.IO.File]::WriteAllBytes($cached.FullName, $bytes)
        # Another service, so every agent needs the package pushed.
        Initialize-Service -Service 'ledger3'

        $results = Invoke-Deployment -Service ledger3 -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Checksum $md5 -RetryCount 0 -Force `
            -WarningVariable warnings -WarningAction SilentlyContinue

        $results | Should -HaveCount 3
        $results.Status | Sort-Object -Unique | Should -Be 'Succeeded'
        @($warnings | Where-Object { "$_" -like "*cached copy '$($cached.FullName)'*no longer matched its MD5 $md5*fetched again*" }) | Should -HaveCount 1
        (Get-FileHash -Path $cached.FullName -Algorithm MD5).Hash.ToLowerInvariant() | Should -Be $md5
    }
}

Describe 'Invoke-Rollback' {
    It 'sends each instance back to the release before its current one, package and config together' {
        Initialize-Service -Service 'shop'
        $template = Join-Path -Path $script:Fleet.Directory -ChildPath 'shop.conf.template'
        Set-Content -Path $template -Value 'level={{Level}}'
        $null = Get-ServiceInstance -Service shop | Invoke-Deployment -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -ConfigPath $template -ConfigValues @{ Level = 'info' } -Force
        $null = Get-ServiceInstance -Service shop | Invoke-Deployment -Version 2.0.0 -PackageUrl $script:Fleet.PackageV2 -ConfigPath $template -ConfigValues @{ Level = 'debug' } -Force

        $rollback = Get-ServiceInstance -Service shop | Invoke-Rollback -Force

        $rollback.Status | Sort-Object -Unique | Should -Be 'Succeeded'
        $rollback.FromVersion | Sort-Object -Unique | Should -Be '2.0.0'
        $rollback.ToVersion | Sort-Object -Unique | Should -Be '1.0.0'
        $latest = Get-ServiceInstance -Service shop | Get-InstanceVersionHistory -Limit 1
        $latest.Operation | Sort-Object -Unique | Should -Be 'Rollback'
        @($latest.ConfigDigest | Sort-Object -Unique) | Should -HaveCount 1
        $first = Get-ServiceInstance -Service shop | Get-InstanceVersionHistory | Where-Object Version -eq '1.0.0' | Select-Object -First 1
        $latest[0].ConfigDigest | Should -Be $first.ConfigDigest
        (Get-ServiceInstance -Service shop | Test-ServiceInstance).Version | Sort-Object -Unique | Should -Be '1.0.0'
    }

    It 'goes to a named -Version for a whole service and environment in batches' {
        Initialize-Service -Service 'api'
        $null = Invoke-Deployment -Service api -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force
        $null = Invoke-Deployment -Service api -Version 2.0.0 -PackageUrl $script:Fleet.PackageV2 -Force

        $rollback = Invoke-Rollback -Service api -Environment prod -Version 1.0.0 -BatchSize 2 -Force

        $rollback.ToVersion | Sort-Object -Unique | Should -Be '1.0.0'
        $rollback.Batch | Sort-Object | Should -Be 1, 1, 2
        (Get-ReleaseDeployment -Limit 1).Operation | Should -Be 'Rollback'
    }

    It 'reports NoPreviousRelease for an instance that has no earlier release, and the others carry on' {
        Initialize-Service -Service 'docs'
        $null = Invoke-Deployment -Service docs -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force

        $null = Get-ServiceInstance -Service docs | Invoke-Rollback -Force -ErrorVariable problems -ErrorAction SilentlyContinue

        $problems | Should -Not -BeNullOrEmpty
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'NoPreviousRelease,*'
        $problems.TargetObject | Sort-Object | Should -Be 'docs-01', 'docs-02', 'docs-03'
        (Get-ServiceInstance -Service docs).Version | Sort-Object -Unique | Should -Be '1.0.0'
    }

    It 'rolls back only what failed, as the README''s first pipeline does' {
        Initialize-Service -Service 'edge' -Port @($script:Fleet.Agents[0].Port, $script:Fleet.Agents[1].Port)
        $null = Invoke-Deployment -Service edge -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force
        # edge-02 moves to an agent that trusts another key: it answers, and rejects the deployment (Failed).
        $otherKeys = New-TestKeyPair -Directory (New-Item -Path (Join-Path -Path $script:Fleet.Directory -ChildPath 'other-key') -ItemType Directory)
        $stranger = Start-FloydAgent -AgentAssembly $script:Fleet.Artifacts.AgentAssembly -DataDirectory (Join-Path -Path $script:Fleet.Directory -ChildPath 'stranger') -PublicKeyPath $otherKeys.PublicKeyPath
        $script:Fleet.Agents += $stranger
        Register-ServiceInstance -InstanceId edge-02 -Service edge -Environment prod -HostName 127.0.0.1 -Port $stranger.Port

        $rolledBack = Get-ServiceInstance -Service edge -Environment prod |
            Invoke-Deployment -Version 2.0.0 -PackageUrl $script:Fleet.PackageV2 -BatchSize 5 -FailureTolerance 1 -RetryCount 0 -Force -ErrorAction SilentlyContinue -OutVariable deployed |
            Where-Object Status -eq Failed |
            Invoke-Rollback -Force -ErrorAction SilentlyContinue

        ($deployed | Where-Object Status -eq Failed).InstanceId | Should -Be 'edge-02'
        # edge-01 succeeded and stays; edge-02's failed deployment changed nothing, so there is nothing to undo.
        @($rolledBack | Where-Object InstanceId -eq 'edge-01') | Should -HaveCount 0
        (Get-ServiceInstance -InstanceId edge-01).Version | Should -Be '2.0.0'
        (Get-ServiceInstance -InstanceId edge-02).Version | Should -Be '1.0.0'
    }

    It 'replaces a cached package damaged on disk when a rollback must push it, and says so in a warning' {
        Initialize-Service -Service 'ledger4' -Port $script:Fleet.Agents[0].Port
        $md5 = (Get-FileHash -Path $script:Fleet.PackageV1 -Algorithm MD5).Hash.ToLowerInvariant()
        $null = Invoke-Deployment -Service ledger4 -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Checksum $md5 -Force
        $null = Invoke-Deployment -Service ledger4 -Version 2.0.0 -PackageUrl $script:Fleet.PackageV2 -Force
        $cached = Get-ChildItem -Path (Join-Path -Path $script:Fleet.Directory -ChildPath 'packages') -Recurse -Filter "$md5.pkg" | Select-Object -First 1
        $bytes = [System.IO.File]::ReadAllBytes($cached.FullName)
        $bytes[100] = $bytes[100] -bxor 0xFF
        [System.IO.File]::WriteAllBytes($cached.FullName, $bytes)
        # The instance moves to an agent that never held the service, so going back to 1.0.0 needs the package pushed.
        Register-ServiceInstance -InstanceId ledger4-01 -Service ledger4 -Environment prod -HostName 127.0.0.1 -Port $script:Fleet.Agents[1].Port

        $rollback = Get-ServiceInstance -Service ledger4 | Invoke-Rollback -RetryCount 0 -Force -WarningVariable warnings -WarningAction SilentlyContinue

        $rollback.Status | Should -Be 'Succeeded'
        $rollback.ToVersion | Should -Be '1.0.0'
        @($warnings | Where-Object { "$_" -like "*cached copy '$($cached.FullName)'*no longer matched its MD5 $md5*fetched again*" }) | Should -HaveCount 1
        (Get-FileHash -Path $cached.FullName -Algorithm MD5).Hash.ToLowerInvariant() | Should -Be $md5
        (Get-ServiceInstance -InstanceId ledger4-01 | Test-ServiceInstance).Version | Should -Be '1.0.0'
    }
}

Describe 'Test-ServiceInstance' {
    It 'reports Reachable, Healthy, Version and Latency from each agent' {
        Initialize-Service -Service 'probe' -Port @($script:Fleet.Agents[0].Port, (Get-ClosedPort))
        $null = Invoke-Deployment -InstanceId probe-01 -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -Force

        $health = Get-ServiceInstance -Service probe | Test-ServiceInstance

        $up = $health | Where-Object InstanceId -eq 'probe-01'
        $down = $health | Where-Object InstanceId -eq 'probe-02'
        $up.Reachable | Should -BeTrue
        $up.Healthy | Should -BeTrue
        $up.Version | Should -Be '1.0.0'
        $up.LatencyMilliseconds | Should -BeGreaterThan 0
        $down.Reachable | Should -BeFalse
    }
}
