#Requires -Version 7.4
<#
    The README's quickstart with pwsh, as a user pastes it into a fresh pwsh at the repository root (with two free
    ports instead of 7071 and 7072): it runs every step of docs/examples/quickstart.ps1 against real agents and
    leaves nothing untracked in the checkout.
#>

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'TestFleet.psm1') -Force
    $script:Artifacts = Get-BuildArtifactPath
    $script:Root = $script:Artifacts.RepositoryRoot

    function script:Get-UntrackedFile {
        <#
        .SYNOPSIS
            Files git would list as new or changed in the checkout.
        #>
        & git -C $script:Root status --porcelain --untracked-files=all
    }
}

Describe 'The README quickstart with pwsh' {
    It 'runs every step and leaves nothing untracked in the repository' {
        $readme = Get-Content -Path (Join-Path -Path $script:Root -ChildPath 'README.md') -Raw
        $block = [regex]::Matches($readme, '(?ms)^```powershell\r?\n(.*?)^```') | ForEach-Object { $_.Groups[1].Value } |
            Where-Object { $_ -like '*quickstart.ps1 -ModulePath*' }
        $block | Should -HaveCount 1

        $ports = (Get-ClosedPort), (Get-ClosedPort)
        $pasted = $block.Replace('7071, 7072', "$($ports[0]), $($ports[1])").
            Replace('127.0.0.1:7071, 127.0.0.1:7072', "127.0.0.1:$($ports[0]), 127.0.0.1:$($ports[1])").
            Replace("'releasetools-demo'", "'releasetools-demo-$([guid]::NewGuid().ToString('N'))'").
            Replace('src/ReleaseTools.Agent/bin/Release/net10.0/ReleaseTools.Agent.dll', $script:Artifacts.AgentAssembly).
            Replace('./out/ReleaseTools/0.1.0/ReleaseTools.psd1', $script:Artifacts.ModuleManifest)
        $pasted | Should -Not -Be $block
        $before = @(Get-UntrackedFile)

        $pwsh = Join-Path -Path $PSHOME -ChildPath $(if ($IsWindows) { 'pwsh.exe' } else { 'pwsh' })
        $output = & $pwsh -NoProfile -NonInteractive -WorkingDirectory $script:Root -Command "`$ErrorActionPreference = 'Stop'`ntry {`n$pasted`n}`nfinally { if (`$agents) { `$agents | Stop-Process -ErrorAction SilentlyContinue } }" 2>&1 | Out-String
        $exitCode = $LASTEXITCODE

        $exitCode | Should -Be 0 -Because $output
        $output | Should -BeLike '*=== 5. Roll back*'
        $output | Should -BeLike '*=== 7. What the agents run now*'
        @(Get-UntrackedFile) | Where-Object { $before -notcontains $_ } | Should -BeNullOrEmpty
    }
}
