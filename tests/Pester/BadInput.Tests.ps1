#Requires -Version 7.4
<#
    Bad input as a new user meets it, in pwsh: unattended runs that cannot answer a confirmation prompt
    (pwsh -NonInteractive, and standard input from /dev/null as under cron), and registrations that cannot work.
#>

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'TestFleet.psm1') -Force
    $script:Fleet = New-TestFleet -Name 'badinput' -AgentCount 1
    Import-Module -Name $script:Fleet.Artifacts.ModuleManifest -Force
    $script:StorePath = Join-Path -Path $script:Fleet.Directory -ChildPath 'unattended.db'
    Register-ServiceInstance -InstanceId cron-01 -Service cron -Environment prod -HostName 127.0.0.1 -Port $script:Fleet.Agents[0].Port -StorePath $script:StorePath

    # The unattended script: a deployment without -Force, each error written as "id|message" so the parent can read it.
    $script:ChildScript = Join-Path -Path $script:Fleet.Directory -ChildPath 'unattended.ps1'
    Set-Content -Path $script:ChildScript -Value @"
Import-Module -Name '$($script:Fleet.Artifacts.ModuleManifest)'
try {
    Invoke-Deployment -Service cron -Version 1.0.0 -PackageUrl '$($script:Fleet.PackageV1)' -StorePath '$($script:StorePath)' -PrivateKeyPath '$($script:Fleet.PrivateKeyPath)' -ErrorAction Stop
    'deployed'
}
catch {
    "ERROR:`$(`$_.FullyQualifiedErrorId)|`$(`$_.Exception.Message)"
}
"@

    function script:Get-ChildPwshCommand {
        <#
        .SYNOPSIS
            The executable and leading arguments of a fresh pwsh like this one (also when it is the .NET tool).
        #>
        $toolAssembly = Join-Path -Path $PSHOME -ChildPath 'pwsh.dll'
        $process = [System.Diagnostics.Process]::GetCurrentProcess().MainModule.FileName
        # The comma keeps a one-element array an array (PowerShell would unroll it to the bare path).
        if ([System.IO.Path]::GetFileNameWithoutExtension($process) -eq 'dotnet' -and (Test-Path -Path $toolAssembly)) {
            return , [string[]] @($process, $toolAssembly)
        }
        , [string[]] @($process)
    }
}

AfterAll {
    $script:Fleet | Remove-TestFleet
}

Describe 'Unattended deployments without -Force' -Tag 'Fault', 'Fault:bad-input' {
    It 'say to pass -Force or -Confirm:$false under pwsh -NonInteractive' {
        $command = Get-ChildPwshCommand
        $output = & $command[0] @($command | Select-Object -Skip 1) -NoProfile -NonInteractive -File $script:ChildScript 2>&1 | Out-String

        $output | Should -Match 'ERROR:ConfirmationUnavailable,ReleaseTools.Commands.InvokeDeploymentCommand\|'
        $output | Should -Match 'Pass -Force or -Confirm:\$false'
        $output | Should -Not -Match 'deployed'
        (Get-ServiceInstance -InstanceId cron-01 -StorePath $script:StorePath).Version | Should -BeNullOrEmpty
    }

    It 'say the same, and never "Object reference not set", with standard input from /dev/null as under cron' -Skip:($IsWindows) {
        $command = Get-ChildPwshCommand
        $quoted = @($command) + @('-NoProfile', '-File', $script:ChildScript) | ForEach-Object { "'" + ($_ -replace "'", "'\''") + "'" }
        $output = & /bin/sh -c ("exec {0} </dev/null" -f ($quoted -join ' ')) 2>&1 | Out-String

        $output | Should -Match 'ERROR:ConfirmationUnavailable,ReleaseTools.Commands.InvokeDeploymentCommand\|'
        $output | Should -Match 'Pass -Force or -Confirm:\$false'
        $output | Should -Not -Match 'Object reference not set'
        (Get-ServiceInstance -InstanceId cron-01 -StorePath $script:StorePath).Version | Should -BeNullOrEmpty
    }

    It 'run with -Force, the same unattended session deploys' {
        $command = Get-ChildPwshCommand
        (Get-Content -Path $script:ChildScript -Raw) -replace '-ErrorAction Stop', '-Force -ErrorAction Stop' | Set-Content -Path "$($script:ChildScript).force.ps1"
        $output = & $command[0] @($command | Select-Object -Skip 1) -NoProfile -NonInteractive -File "$($script:ChildScript).force.ps1" 2>&1 | Out-String

        $output | Should -Match 'deployed'
        (Get-ServiceInstance -InstanceId cron-01 -StorePath $script:StorePath).Version | Should -Be '1.0.0'
    }
}

Describe 'Registrations that cannot work' -Tag 'Fault', 'Fault:bad-input' {
    BeforeEach {
        $script:RegistryPath = Join-Path -Path $script:Fleet.Directory -ChildPath "registry-$([guid]::NewGuid().ToString('N')).db"
    }

    It 'refuse a port in the host name before the store is created, naming the value' {
        Register-ServiceInstance -InstanceId web-01 -Service web -Environment prod -HostName 127.0.0.1:7070 -Port 7070 -StorePath $script:RegistryPath -ErrorVariable failed -ErrorAction SilentlyContinue

        $failed.FullyQualifiedErrorId | Should -Be 'HostNameInvalid,ReleaseTools.Commands.RegisterServiceInstanceCommand'
        $failed.TargetObject | Should -Be '127.0.0.1:7070'
        $failed.CategoryInfo.Category | Should -Be 'InvalidArgument'
        "$failed" | Should -Match 'Give the port with -Port'
        Test-Path -Path $script:RegistryPath | Should -BeFalse
    }

    It 'refuse a service name that reads like a path' {
        Register-ServiceInstance -InstanceId web-01 -Service '../etc' -Environment prod -HostName 10.0.0.11 -Port 7070 -StorePath $script:RegistryPath -ErrorVariable failed -ErrorAction SilentlyContinue

        $failed.FullyQualifiedErrorId | Should -Be 'ServiceNameInvalid,ReleaseTools.Commands.RegisterServiceInstanceCommand'
        $failed.TargetObject | Should -Be '../etc'
        Test-Path -Path $script:RegistryPath | Should -BeFalse
    }

    It 'refuse a second instance at the same address unless -Force, and say what a re-import did' {
        $csv = Join-Path -Path $script:Fleet.Directory -ChildPath 'hosts.csv'
        @(
            [pscustomobject]@{ InstanceId = 'web-01'; Service = 'web'; Environment = 'prod'; Host = '10.0.0.11'; Port = 7070 }
            [pscustomobject]@{ InstanceId = 'web-02'; Service = 'web'; Environment = 'prod'; Host = '10.0.0.12'; Port = 7070 }
        ) | Export-Csv -Path $csv -NoTypeInformation
        Import-Csv -Path $csv | Register-ServiceInstance -StorePath $script:RegistryPath
        Register-ServiceInstance -InstanceId web-03 -Service web -Environment prod -HostName 10.0.0.12 -Port 7070 -StorePath $script:RegistryPath -ErrorVariable failed -ErrorAction SilentlyContinue
        $failed.FullyQualifiedErrorId | Should -Be 'InstanceAddressInUse,ReleaseTools.Commands.RegisterServiceInstanceCommand'

        $null = Import-Csv -Path $csv | Register-ServiceInstance -StorePath $script:RegistryPath -InformationVariable summary
        "$summary" | Should -Be 'Registered instances: 0 added, 0 changed, 2 unchanged.'
        (Get-ServiceInstance -StorePath $script:RegistryPath).Count | Should -Be 2
    }
}
