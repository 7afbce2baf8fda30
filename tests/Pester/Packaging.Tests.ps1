#Requires -Version 7.4
<#
    Shipping: both manifests pass Test-ModuleManifest, no address points at a domain that cannot exist, and
    ./build.ps1 -Package gives a .nupkg that PSResourceGet publishes to a repository, installs and imports by name.
#>

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'TestFleet.psm1') -Force
    $script:Artifacts = Get-BuildArtifactPath
    $script:RootManifest = Join-Path -Path $script:Artifacts.RepositoryRoot -ChildPath 'ReleaseTools.psd1'
    # Hosts that are reserved never to resolve (RFC 2606/6761) or that stand in for a real address.
    $script:PlaceholderHost = '(^|\.)(invalid|example|test|localhost)$|(^|\.)example\.(com|org|net)$'
}

Describe 'The module manifests' {
    It 'pass Test-ModuleManifest from the repository root and from the built module' {
        $root = Test-ModuleManifest -Path $script:RootManifest -ErrorAction Stop
        $built = Test-ModuleManifest -Path $script:Artifacts.ModuleManifest -ErrorAction Stop

        $root.Version | Should -Be $built.Version
        $built.RootModule | Should -Be 'ReleaseTools.dll'
        $built.ExportedFormatFiles | Should -Not -BeNullOrEmpty
    }

    It 'differ only in RootModule and the module/ folder of the static files' {
        $root = Import-PowerShellDataFile -Path $script:RootManifest
        $built = Import-PowerShellDataFile -Path $script:Artifacts.ModuleManifest

        $root.ContainsKey('RootModule') | Should -BeFalse
        $built.RootModule | Should -Be 'ReleaseTools.dll'
        foreach ($key in $root.Keys) {
            $expected = ($root[$key] | ConvertTo-Json -Depth 5 -Compress) -replace '"module/', '"'
            $built[$key] | ConvertTo-Json -Depth 5 -Compress | Should -Be $expected -Because "$key is copied from the root manifest"
        }
        ($built.Keys | Where-Object { $_ -ne 'RootModule' } | Sort-Object) | Should -Be ($root.Keys | Sort-Object)
    }

    It 'carry release notes, and a LicenseUri or ProjectUri only where one is real' {
        $data = (Import-PowerShellDataFile -Path $script:Artifacts.ModuleManifest).PrivateData.PSData

        $data.ReleaseNotes | Should -Not -BeNullOrEmpty
        $data.ReleaseNotes | Should -BeLike "*$((Import-PowerShellDataFile -Path $script:RootManifest).ModuleVersion)*"
        foreach ($key in 'LicenseUri', 'ProjectUri', 'IconUri') {
            if ($data.ContainsKey($key)) {
                ([uri]$data[$key]).Host | Should -Not -Match $script:PlaceholderHost
            }
        }
        if ($data.ContainsKey('LicenseUri')) {
            Join-Path -Path $script:Artifacts.RepositoryRoot -ChildPath 'LICENSE' | Should -Exist
        }
    }

    It 'give no cmdlet a HelpUri on a placeholder domain' {
        Import-Module -Name $script:Artifacts.ModuleManifest -Force
        $placeholders = Get-Command -Module ReleaseTools | Where-Object { $_.HelpUri -and ([uri]$_.HelpUri).Host -match $script:PlaceholderHost }
        $placeholders | Should -BeNullOrEmpty
    }
}

Describe './build.ps1 -Package' {
    BeforeAll {
        $script:Work = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath "rt-package-$([guid]::NewGuid().ToString('N'))"
        $null = New-Item -Path $script:Work -ItemType Directory
        $pwsh = Join-Path -Path $PSHOME -ChildPath $(if ($IsWindows) { 'pwsh.exe' } else { 'pwsh' })
        $script:BuildOutput = & $pwsh -NoProfile -NonInteractive -File (Join-Path -Path $script:Artifacts.RepositoryRoot -ChildPath 'build.ps1') -Package 2>&1
        $script:BuildExitCode = $LASTEXITCODE
    }

    AfterAll {
        Remove-Item -Path $script:Work -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'writes the versioned .nupkg into out/ with the whole module inside' {
        $script:BuildExitCode | Should -Be 0 -Because ($script:BuildOutput | Out-String)
        $version = (Import-PowerShellDataFile -Path $script:RootManifest).ModuleVersion
        $nupkg = Join-Path -Path (Split-Path -Path (Split-Path -Path $script:Artifacts.ModuleDirectory -Parent) -Parent) -ChildPath "ReleaseTools.$version.nupkg"
        $nupkg | Should -Exist

        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [System.IO.Compression.ZipFile]::OpenRead($nupkg)
        try {
            $entries = $zip.Entries.FullName
        }
        finally {
            $zip.Dispose()
        }
        $entries | Should -Contain 'ReleaseTools.psd1'
        $entries | Should -Contain 'ReleaseTools.dll'
        $entries | Should -Contain 'en-US/ReleaseTools.dll-Help.xml'
        $entries | Should -Contain 'Dependencies/ReleaseTools.Engine.dll'
        $entries | Should -Contain 'ReleaseTools.nuspec'
    }

    It 'is published, installed and imported by name with PSResourceGet, and leaves the user''s repositories alone' -Skip:$IsWindows {
        # A fresh pwsh whose home is a temporary folder: PSResourceGet's repository list and the CurrentUser module
        # path live there, so nothing is registered or installed for the real user. (On Windows the CurrentUser
        # module path is the Documents folder, which an environment variable cannot move; hence Linux and macOS.)
        $version = (Import-PowerShellDataFile -Path $script:RootManifest).ModuleVersion
        $nupkg = Join-Path -Path (Split-Path -Path (Split-Path -Path $script:Artifacts.ModuleDirectory -Parent) -Parent) -ChildPath "ReleaseTools.$version.nupkg"
        $userConfig = Join-Path -Path ([Environment]::GetFolderPath('LocalApplicationData')) -ChildPath 'PSResourceGet/PSResourceRepository.xml'
        $userConfigBefore = if (Test-Path -Path $userConfig) { (Get-FileHash -Path $userConfig).Hash }
        $temporaryHome = Join-Path -Path $script:Work -ChildPath 'home'
        foreach ($folder in '.local/share', '.config', '.cache') {
            $null = New-Item -Path (Join-Path -Path $temporaryHome -ChildPath $folder) -ItemType Directory -Force
        }
        $repository = New-Item -Path (Join-Path -Path $script:Work -ChildPath 'repository') -ItemType Directory
        $summary = Join-Path -Path $script:Work -ChildPath 'installed.json'
        $installScript = Join-Path -Path $script:Work -ChildPath 'install.ps1'
        Set-Content -Path $installScript -Value @'
param($Nupkg, $Repository, $Summary)
$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name ReleaseToolsTest -Uri $Repository -Trusted
Publish-PSResource -NupkgPath $Nupkg -Repository ReleaseToolsTest
$found = Find-PSResource -Name ReleaseTools -Repository ReleaseToolsTest
Install-PSResource -Name ReleaseTools -Repository ReleaseToolsTest -Scope CurrentUser
Import-Module -Name ReleaseTools
$module = Get-Module -Name ReleaseTools
[pscustomobject]@{
    Found       = "$($found.Name) $($found.Version)"
    ModuleBase  = $module.ModuleBase
    Version     = "$($module.Version)"
    Commands    = @((Get-Command -Module ReleaseTools).Name)
    Synopsis    = (Get-Help -Name Invoke-Deployment).Synopsis
    ModulePath  = $env:PSModulePath
} | ConvertTo-Json | Set-Content -Path $Summary
'@

        $environment = @{ HOME = $temporaryHome; XDG_DATA_HOME = "$temporaryHome/.local/share"; XDG_CONFIG_HOME = "$temporaryHome/.config"; XDG_CACHE_HOME = "$temporaryHome/.cache"; PSModulePath = $null }
        $saved = @{}
        foreach ($name in $environment.Keys) {
            $saved[$name] = [Environment]::GetEnvironmentVariable($name)
            [Environment]::SetEnvironmentVariable($name, $environment[$name])
        }
        try {
            $pwsh = Join-Path -Path $PSHOME -ChildPath 'pwsh'
            $output = & $pwsh -NoProfile -NonInteractive -WorkingDirectory $script:Work -File $installScript -Nupkg $nupkg -Repository $repository.FullName -Summary $summary 2>&1
            $exitCode = $LASTEXITCODE
        }
        finally {
            foreach ($name in $saved.Keys) {
                [Environment]::SetEnvironmentVariable($name, $saved[$name])
            }
        }

        $exitCode | Should -Be 0 -Because ($output | Out-String)
        $installed = Get-Content -Path $summary -Raw | ConvertFrom-Json
        $installed.Found | Should -Be "ReleaseTools $version"
        $installed.Version | Should -Be $version
        $installed.ModuleBase | Should -BeLike "$temporaryHome*"
        $installed.Commands | Sort-Object | Should -Be ((Import-PowerShellDataFile -Path $script:RootManifest).CmdletsToExport | Sort-Object)
        $installed.Synopsis | Should -Not -BeLike 'Invoke-Deployment *'
        Get-ChildItem -Path $repository -Filter 'ReleaseTools.*.nupkg' | Should -HaveCount 1
        $userConfigAfter = if (Test-Path -Path $userConfig) { (Get-FileHash -Path $userConfig).Hash }
        $userConfigAfter | Should -Be $userConfigBefore
    }
}
