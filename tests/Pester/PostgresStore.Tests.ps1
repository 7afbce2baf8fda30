#Requires -Version 7.4
<#
    One PostgreSQL store shared by several processes, as a team's build agents share it: two pwsh processes that
    deploy overlapping instances at the same moment never both deploy one instance, the loser is told who holds it,
    and a runner killed mid-run is seen Interrupted by another process and finished with Resume-Deployment.
    Needs the server .ci/run starts (RELEASETOOLS_TEST_POSTGRES); under CI a missing server fails, locally it skips.
#>

BeforeDiscovery {
    $script:NoServer = -not $env:RELEASETOOLS_TEST_POSTGRES
    if ($script:NoServer -and $env:CI -eq 'true') {
        throw 'RELEASETOOLS_TEST_POSTGRES is not set, so the PostgreSQL tests cannot run: .ci/run must start the server (.ci/postgres.sh).'
    }
}

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'TestFleet.psm1') -Force
    $script:Fleet = New-TestFleet -Name 'pg'
    Import-Module -Name $script:Fleet.Artifacts.ModuleManifest -Force

    function script:Invoke-Runner {
        <#
        .SYNOPSIS
            A separate pwsh process that runs one deployment against the shared store; its output and errors go to files.
        #>
        param([Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [string] $Command)
        $script = "Import-Module '$($script:Fleet.Artifacts.ModuleManifest)'; `$ErrorActionPreference = 'Continue'; " +
            "`$PSDefaultParameterValues = @{ '*:Store' = '$($script:Store)'; '*:PrivateKeyPath' = '$($script:Fleet.PrivateKeyPath)' }; $Command"
        $pwsh = [System.Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
        $arguments = @('-NoProfile', '-NonInteractive', '-Command', $script)
        if ([System.IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') {
            $arguments = @((Join-Path -Path $PSHOME -ChildPath 'pwsh.dll')) + $arguments
        }
        Start-Process -FilePath $pwsh -ArgumentList $arguments -PassThru `
            -RedirectStandardOutput (Join-Path $script:Fleet.Directory "$Name.out") -RedirectStandardError (Join-Path $script:Fleet.Directory "$Name.err")
    }

    function script:Remove-TestSchema {
        <#
        .SYNOPSIS
            Drops one test schema with psql (installed beside the server .ci/postgres.sh starts), reading host, port, user and
            database from the Npgsql connection string the tests are given.
        #>
        [CmdletBinding(SupportsShouldProcess)]
        param([Parameter(Mandatory)] [string] $ConnectionString, [Parameter(Mandatory)] [string] $Schema)
        if (-not $PSCmdlet.ShouldProcess($Schema, 'Drop schema')) {
            return
        }
        $psql = Get-Command -Name psql -CommandType Application -ErrorAction Ignore | Select-Object -First 1 -ExpandProperty Source
        if (-not $psql) {
            $psql = Get-ChildItem -Path '/usr/lib/postgresql/*/bin/psql' -ErrorAction Ignore | Select-Object -Last 1 -ExpandProperty FullName
        }
        if (-not $psql) {
            Write-Warning "psql was not found, so the test schema $Schema stays on the server."
            return
        }
        $settings = @{}
        foreach ($pair in $ConnectionString -split ';' | Where-Object { $_ -match '=' }) {
            $key, $value = $pair -split '=', 2
            $settings[$key.Trim().ToLowerInvariant()] = $value.Trim()
        }
        $arguments = @('-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', $settings['host'], '-c', 'SET client_min_messages = warning', '-c', "DROP SCHEMA IF EXISTS `"$Schema`" CASCADE")
        if ($settings['port']) { $arguments += @('-p', $settings['port']) }
        if ($settings['username']) { $arguments += @('-U', $settings['username']) }
        if ($settings['database']) { $arguments += @('-d', $settings['database']) }
        & $psql @arguments
        $LASTEXITCODE | Should -Be 0 -Because "psql drops the test schema $Schema"
    }
}

AfterAll {
    $script:Fleet | Remove-TestFleet
}

Describe 'A PostgreSQL store shared by several processes' -Tag 'Fault', 'Fault:concurrency', 'Fault:crash' -Skip:$script:NoServer {
    BeforeEach {
        # Passed to each command explicitly: $PSDefaultParameterValues is shared with the other test files of this session.
        $script:Schema = "rt_pester_$([guid]::NewGuid().ToString('N').Substring(0, 12))"
        $script:Store = "$env:RELEASETOOLS_TEST_POSTGRES;Search Path=$($script:Schema)"
    }

    AfterEach {
        # The test's schema goes with it, so a shared server keeps nothing from the run.
        Remove-TestSchema -ConnectionString $env:RELEASETOOLS_TEST_POSTGRES -Schema $script:Schema
    }

    It 'lets one of two simultaneous runs on overlapping instances deploy, names the holder to the other, and resumes a killed run' {
        $silent = Start-SilentListener
        try {
            # duo-02's agent accepts connections and never answers: whoever claims it keeps its lease while it waits.
            Get-InventoryRow -Service duo -Port $script:Fleet.Agents[0].Port, $silent.LocalEndpoint.Port, $script:Fleet.Agents[1].Port | Register-ServiceInstance -Store $script:Store
            $v1 = $script:Fleet.PackageV1
            $first = Invoke-Runner -Name first -Command "Invoke-Deployment -InstanceId duo-01, duo-02 -Version 1.0.0 -PackageUrl '$v1' -RetryCount 0 -Force"
            $second = Invoke-Runner -Name second -Command "Invoke-Deployment -InstanceId duo-02, duo-03 -Version 1.0.0 -PackageUrl '$v1' -RetryCount 0 -Force"

            $deadline = [datetime]::UtcNow.AddSeconds(60)
            while ([datetime]::UtcNow -lt $deadline -and -not ($first.HasExited -or $second.HasExited)) {
                Start-Sleep -Milliseconds 200
            }
            $loser, $winner = if ($first.HasExited) { $first, $second } else { $second, $first }
            $loser.HasExited | Should -BeTrue -Because 'one run must be refused while the other holds duo-02'
            $winner.HasExited | Should -BeFalse -Because 'the winner waits on duo-02'

            $running = @(Get-ReleaseDeployment -Status Running -Store $script:Store)
            $running.Count | Should -Be 1
            $loserErrors = Get-Content -Raw -Path (Join-Path $script:Fleet.Directory "$(if ($loser -eq $first) { 'first' } else { 'second' }).err")
            $loserErrors | Should -BeLike '*Another run is deploying to these instances*'
            $loserErrors | Should -BeLike "*$($running[0].DeploymentId)*"
            # The loser may have recorded its run before its claim failed, but it deployed nothing.
            Get-ReleaseDeployment -Store $script:Store | Where-Object DeploymentId -ne $running[0].DeploymentId | ForEach-Object {
                $_.Status | Should -Not -Be 'Running'
                $_.Targets.Status | Should -Not -Contain 'Succeeded'
            }

            # The runner dies mid-run; another process (this one) sees the run Interrupted and finishes it.
            Stop-Process -Id $winner.Id -Force
            $winner.WaitForExit()
            Register-ServiceInstance -InstanceId duo-02 -Service duo -Environment prod -HostName 127.0.0.1 -Port $script:Fleet.Agents[2].Port -Store $script:Store
            (Get-ReleaseDeployment -DeploymentId $running[0].DeploymentId -Store $script:Store).Status | Should -Be 'Interrupted'

            $resumed = Get-ReleaseDeployment -DeploymentId $running[0].DeploymentId -Store $script:Store |
                Resume-Deployment -Force -Store $script:Store -PrivateKeyPath $script:Fleet.PrivateKeyPath
            $resumed.Status | Should -Not -Contain 'Failed'
            (Get-ServiceInstance -InstanceId duo-02 -Store $script:Store).Version | Should -Be '1.0.0'
        }
        finally {
            foreach ($runner in $first, $second) {
                if ($runner -and -not $runner.HasExited) { Stop-Process -Id $runner.Id -Force }
            }
            $silent.Stop()
        }
    }
}
