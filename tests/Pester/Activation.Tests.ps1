#Requires -Version 7.4
<#
    The agent installs what Invoke-Deployment sends, as docs/agent.md shows an operator: an agent config file with a
    service whose activate hook is a real shell command, real zip packages made with Compress-Archive, the current
    link switched to the release, the config placed in it, and a release whose own hook fails sent back.
#>

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'TestFleet.psm1') -Force
    $script:Fleet = New-TestFleet -Name 'activation' -AgentCount 0
    Import-Module -Name $script:Fleet.Artifacts.ModuleManifest -Force
    $script:HookLog = Join-Path -Path $script:Fleet.Directory -ChildPath 'hooks.log'
    $config = Join-Path -Path $script:Fleet.Directory -ChildPath 'agent.yaml'
    Set-Content -Path $config -Value @"
services:
  hello:
    allowPackageHooks: true
    hooks:
      activate: { run: 'echo "`$FLOYD_VERSION from `$FLOYD_RELEASE_DIR" >> $script:HookLog', timeout: 20s }
"@
    $script:Agent = Start-FloydAgent -AgentAssembly $script:Fleet.Artifacts.AgentAssembly -PublicKeyPath $script:Fleet.PublicKeyPath `
        -DataDirectory (Join-Path -Path $script:Fleet.Directory -ChildPath 'agent') -ArgumentList '--config', $config
    $script:ServiceDirectory = Join-Path -Path $script:Agent.DataDirectory -ChildPath 'services/hello'

    function script:Build-HelloPackage {
        <#
        .SYNOPSIS
            A real zip of the hello service at a version, optionally with its own deploy/activate.sh.
        #>
        param([Parameter(Mandatory)] [string] $Version, [string] $ActivateScript)
        $content = Join-Path -Path $script:Fleet.Directory -ChildPath "hello-$Version"
        $null = New-Item -Path $content -ItemType Directory -Force
        Set-Content -Path (Join-Path -Path $content -ChildPath 'VERSION') -Value $Version
        if ($ActivateScript) {
            $null = New-Item -Path (Join-Path -Path $content -ChildPath 'deploy') -ItemType Directory -Force
            Set-Content -Path (Join-Path -Path $content -ChildPath 'deploy/activate.sh') -Value $ActivateScript
        }
        $zip = Join-Path -Path $script:Fleet.Directory -ChildPath "hello-$Version.zip"
        Compress-Archive -Path (Join-Path -Path $content -ChildPath '*') -DestinationPath $zip -Force
        $zip
    }

    $PSDefaultParameterValues['*:StorePath'] = Join-Path -Path $script:Fleet.Directory -ChildPath 'hello.db'
    $PSDefaultParameterValues['*:PrivateKeyPath'] = $script:Fleet.PrivateKeyPath
    $script:Template = Join-Path -Path $script:Fleet.Directory -ChildPath 'hello.conf.template'
    Set-Content -Path $script:Template -Value 'greeting={{Greeting}}'
    Register-ServiceInstance -InstanceId hello-01 -Service hello -Environment dev -HostName 127.0.0.1 -Port $script:Agent.Port
}

AfterAll {
    $PSDefaultParameterValues.Clear()
    $script:Agent | Stop-FloydAgent
    $script:Fleet | Remove-TestFleet
}

Describe 'Activation on the agent' {
    It 'unpacks the zip, places the config, switches current and runs the activate hook in the release' {
        $result = Get-ServiceInstance -Service hello | Invoke-Deployment -Version 1.0.0 -PackageUrl (Build-HelloPackage -Version 1.0.0) `
            -ConfigPath $script:Template -ConfigValues @{ Greeting = 'hi' } -Force

        $result.Status | Should -Be 'Succeeded'
        $current = Join-Path -Path $script:ServiceDirectory -ChildPath 'current'
        (Get-Item -Path $current).LinkTarget | Should -BeLike 'releases/1.0.0-*'
        Get-Content -Path (Join-Path -Path $current -ChildPath 'VERSION') | Should -Be '1.0.0'
        Get-Content -Path (Join-Path -Path $current -ChildPath 'hello.conf') | Should -Be 'greeting=hi'
        Get-Content -Path $script:HookLog | Should -Be "1.0.0 from $(Join-Path -Path $script:ServiceDirectory -ChildPath (Get-Item -Path $current).LinkTarget)"
    }

    It 'sends back a release whose own activate hook fails, and says so in the result and the error' {
        $package = Build-HelloPackage -Version 2.0.0 -ActivateScript "echo 'schema migration failed' >&2`nexit 4"

        $result = Get-ServiceInstance -Service hello |
            Invoke-Deployment -Version 2.0.0 -PackageUrl $package -ConfigPath $script:Template -ConfigValues @{ Greeting = 'hey' } -Force `
                -ErrorVariable failures -ErrorAction SilentlyContinue -WarningAction SilentlyContinue

        $result.Status | Should -Be 'Failed'
        $result.FailedCheck | Should -Be 'activate'
        $result.RevertedTo | Should -Be '1.0.0'
        $result.AgentDetail | Should -BeLike '*schema migration failed*'
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'ActivationHookFailed,*'
        (Get-Item -Path (Join-Path -Path $script:ServiceDirectory -ChildPath 'current')).LinkTarget | Should -BeLike 'releases/1.0.0-*'
        (Get-ServiceInstance -Service hello).Version | Should -Be '1.0.0'
        (Get-Content -Path $script:HookLog | ForEach-Object { $_.Split(' ')[0] }) | Should -Be '1.0.0', '2.0.0', '1.0.0'
    }

    It 'lists the reverted release in the history, marked Reverted in the table, and never rolls back to it' {
        $history = Get-ServiceInstance -Service hello | Get-InstanceVersionHistory

        $history.Version | Should -Be '2.0.0', '1.0.0'
        $history.Outcome | Should -Be 'Reverted', 'Released'
        $history[0].FailedCheck | Should -Be 'activate'
        $history[0].PreviousVersion | Should -Be '1.0.0'
        ($history | Format-Table | Out-String -Width 80) | Should -Match '\s2\.0\.0\s+Reverted\s'
        Get-InstanceVersionHistory -InstanceId hello-01 | Where-Object Outcome -eq Reverted | Invoke-Rollback -Force -WarningVariable warnings -WarningAction SilentlyContinue |
            Should -BeNullOrEmpty
        $warnings[0] | Should -BeLike '*never moved*'
        (Get-ServiceInstance -Service hello).Version | Should -Be '1.0.0'
    }
}
