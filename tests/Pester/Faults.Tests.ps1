#Requires -Version 7.4
<#
    Processes that race and die on one SQLite store, as two cron jobs or a killed runbook would: two pwsh processes
    deploying overlapping instances at the same moment never both deploy one instance and the loser names the holder;
    a runner killed with SIGKILL mid-run is seen Interrupted by the next read, and Resume-Deployment finishes it,
    sending packages only to the agents that had not received theirs (counted by the agents' own /metrics).
    tests/Pester/PostgresStore.Tests.ps1 does the same on a PostgreSQL store.
#>

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'TestFleet.psm1') -Force
    $script:Fleet = New-TestFleet -Name 'faults'
    Import-Module -Name $script:Fleet.Artifacts.ModuleManifest -Force

    function script:Invoke-Runner {
        <#
        .SYNOPSIS
            A separate pwsh process that runs one command against the store; its output and errors go to files.
        #>
        param([Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $Command)
        $script = "Import-Module '$($script:Fleet.Artifacts.ModuleManifest)'; `$ErrorActionPreference = 'Continue'; " +
            "`$PSDefaultParameterValues = @{ '*:StorePath' = '$($script:Store)'; '*:PrivateKeyPath' = '$($script:Fleet.PrivateKeyPath)' }; $Command"
        $pwsh = [System.Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
        $arguments = @('-NoProfile', '-NonInteractive', '-Command', $script)
        if ([System.IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') {
            $arguments = @((Join-Path -Path $PSHOME -ChildPath 'pwsh.dll')) + $arguments
        }
        Start-Process -FilePath $pwsh -ArgumentList $arguments -PassThru `
            -RedirectStandardOutput (Join-Path $script:Fleet.Directory "$Name.out") -RedirectStandardError (Join-Path $script:Fleet.Directory "$Name.err")
    }

    function script:Get-PackagePushCount {
        <#
        .SYNOPSIS
            How many package pushes an agent accepted (200), from its Prometheus metrics.
        #>
        param([Parameter(Mandatory)] [int] $Port)
        $metrics = (Invoke-WebRequest -Uri "http://127.0.0.1:$Port/metrics" -TimeoutSec 10).Content
        $line = $metrics -split "`n" | Where-Object { $_ -match '^floyd_requests_total\{endpoint="/package",status="200"\} ' } | Select-Object -First 1
        if ($line) { [int]($line -split ' ')[-1] } else { 0 }
    }

    function script:Wait-Until {
        <#
        .SYNOPSIS
            Polls a condition for at most the given seconds; true when it held.
        #>
        param([Parameter(Mandatory)] [scriptblock] $Condition, [int] $Seconds = 60)
        $deadline = [datetime]::UtcNow.AddSeconds($Seconds)
        while ([datetime]::UtcNow -lt $deadline) {
            if (& $Condition) { return $true }
            Start-Sleep -Milliseconds 200
        }
        $false
    }
}

AfterAll {
    $script:Fleet | Remove-TestFleet
}

Describe 'One SQLite store shared by two processes' -Tag 'Fault', 'Fault:concurrency' {
    BeforeEach {
        $script:Store = Join-Path -Path $script:Fleet.Directory -ChildPath "shared-$([guid]::NewGuid().ToString('N')).db"
    }

    It 'lets one of two simultaneous runs on overlapping instances deploy and names the holder to the other' {
        $silent = Start-SilentListener
        try {
            # race-02's agent accepts connections and never answers: whoever claims it keeps its lease while it waits.
            Get-InventoryRow -Service race -Port $script:Fleet.Agents[0].Port, $silent.LocalEndpoint.Port, $script:Fleet.Agents[1].Port |
                Register-ServiceInstance -StorePath $script:Store
            $v1 = $script:Fleet.PackageV1
            $first = Invoke-Runner -Name race-first -Command "Invoke-Deployment -InstanceId race-01, race-02 -Version 1.0.0 -PackageUrl '$v1' -RetryCount 0 -Force"
            $second = Invoke-Runner -Name race-second -Command "Invoke-Deployment -InstanceId race-02, race-03 -Version 1.0.0 -PackageUrl '$v1' -RetryCount 0 -Force"

            Wait-Until { $first.HasExited -or $second.HasExited } | Should -BeTrue -Because 'one run must be refused while the other holds race-02'
            $loser, $winner, $loserName = if ($first.HasExited) { $first, $second, 'race-first' } else { $second, $first, 'race-second' }
            $winner.HasExited | Should -BeFalse -Because 'the winner waits on race-02'

            $running = @(Get-ReleaseDeployment -Status Running -StorePath $script:Store)
            $running.Count | Should -Be 1
            $loserErrors = Get-Content -Raw -Path (Join-Path $script:Fleet.Directory "$loserName.err")
            $loserErrors | Should -BeLike '*Another run is deploying to these instances*'
            $loserErrors | Should -BeLike "*$($running[0].DeploymentId)*"
            $loserErrors | Should -BeLike "*process $($winner.Id)*"
            # The loser may have recorded its run before its claim failed, but it deployed nothing: the instance that
            # only it named (race-01 or race-03) has no version.
            Get-ReleaseDeployment -StorePath $script:Store | Where-Object DeploymentId -ne $running[0].DeploymentId | ForEach-Object {
                $_.Status | Should -Not -Be 'Running'
                $_.Targets.Status | Should -Not -Contain 'Succeeded'
            }
            $onlyLoser = if ($loserName -eq 'race-first') { 'race-01' } else { 'race-03' }
            (Get-ServiceInstance -InstanceId $onlyLoser -StorePath $script:Store).Version | Should -BeNullOrEmpty
            (Get-ServiceInstance -InstanceId race-02 -StorePath $script:Store).Version | Should -BeNullOrEmpty
            # The store is whole after two writers.
            (Test-Path -Path $script:Store) | Should -BeTrue
        }
        finally {
            foreach ($runner in $first, $second) {
                if ($runner -and -not $runner.HasExited) { Stop-Process -Id $runner.Id -Force }
            }
            $silent.Stop()
        }
    }
}

Describe 'A runner killed with SIGKILL mid-deployment' -Tag 'Fault', 'Fault:crash' {
    BeforeEach {
        $script:Store = Join-Path -Path $script:Fleet.Directory -ChildPath "killed-$([guid]::NewGuid().ToString('N')).db"
    }

    It 'is Interrupted at the next read, and Resume-Deployment finishes it sending only the packages still missing' {
        $silent = Start-SilentListener
        try {
            # kill-03's address hangs, so the run is still going when kill-01 and kill-02 are done.
            Get-InventoryRow -Service kill -Port $script:Fleet.Agents[0].Port, $script:Fleet.Agents[1].Port, $silent.LocalEndpoint.Port |
                Register-ServiceInstance -StorePath $script:Store
            $before = $script:Fleet.Agents | ForEach-Object { Get-PackagePushCount -Port $_.Port }
            $runner = Invoke-Runner -Name killed -Command "Invoke-Deployment -Service kill -Version 1.0.0 -PackageUrl '$($script:Fleet.PackageV1)' -ThrottleLimit 3 -RetryCount 0 -Force"
            $done = Wait-Until {
                @(Get-ServiceInstance -Service kill -StorePath $script:Store | Where-Object Version -eq '1.0.0').Count -eq 2
            }
            $done | Should -BeTrue -Because 'kill-01 and kill-02 finish while kill-03 hangs'
            $runner.HasExited | Should -BeFalse

            # Process.Kill is SIGKILL on Linux and macOS: no handler, no clean-up, the lease stays in the store.
            $runner.Kill()
            $runner.WaitForExit()
            $run = Get-ReleaseDeployment -StorePath $script:Store -Limit 1
            $run.Status | Should -Be 'Interrupted'
            ($run.Targets | Where-Object InstanceId -eq 'kill-03').Status | Should -Not -Be 'Succeeded'

            # kill-03's agent comes back at a new address; the resume reaches it.
            Register-ServiceInstance -InstanceId kill-03 -Service kill -Environment prod -HostName 127.0.0.1 -Port $script:Fleet.Agents[2].Port -StorePath $script:Store
            $resumed = @($run | Resume-Deployment -Force -StorePath $script:Store -PrivateKeyPath $script:Fleet.PrivateKeyPath)

            $resumed.InstanceId | Should -Be 'kill-03'
            $resumed.Status | Should -Be 'Succeeded'
            (Get-ReleaseDeployment -DeploymentId $run.DeploymentId -StorePath $script:Store).Status | Should -Be 'Succeeded'
            (Get-ServiceInstance -Service kill -StorePath $script:Store).Version | Should -Be '1.0.0', '1.0.0', '1.0.0'
            $after = $script:Fleet.Agents | ForEach-Object { Get-PackagePushCount -Port $_.Port }
            # Each agent received the package exactly once over the killed run and its resume.
            $after[0] - $before[0] | Should -Be 1
            $after[1] - $before[1] | Should -Be 1
            $after[2] - $before[2] | Should -Be 1
        }
        finally {
            if ($runner -and -not $runner.HasExited) { $runner.Kill() }
            $silent.Stop()
        }
    }
}
