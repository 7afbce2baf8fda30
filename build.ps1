<#
.SYNOPSIS
    Builds, tests, documents and packages the ReleaseTools module.

.DESCRIPTION
    -Build (default)  dotnet build: compiles the cmdlets and the engine and assembles the importable module folder
                      (out/ReleaseTools/<version>/, or under $env:RT_BUILD_ROOT/out). The list of files that go
                      into the module is the allow-list in src/ReleaseTools/ModuleLayout.targets; the build fails
                      when one of them is missing.
    -Test             Builds, runs every xunit test (dotnet test ReleaseTools.sln), then the Pester suite in
                      tests/Pester in a fresh child pwsh against the built module (a loaded module cannot be
                      unloaded, so it must not be this session).
    -Docs             Builds, then turns docs/ReleaseTools/*.md into en-US/ReleaseTools.dll-Help.xml with PlatyPS
                      (Install-Module platyPS), and checks the module folder with Test-ModuleManifest.
    -Package          -Docs, then zips the module folder to out/ReleaseTools.<version>.zip.
    -Clean            Removes build output (dotnet clean and the module folder).

.EXAMPLE
    ./build.ps1

.EXAMPLE
    ./build.ps1 -Test -Configuration Debug
#>
[CmdletBinding(DefaultParameterSetName = 'Build')]
param(
    [Parameter(ParameterSetName = 'Build')]
    [switch] $Build,

    [Parameter(ParameterSetName = 'Test', Mandatory)]
    [switch] $Test,

    [Parameter(ParameterSetName = 'Docs', Mandatory)]
    [switch] $Docs,

    [Parameter(ParameterSetName = 'Package', Mandatory)]
    [switch] $Package,

    [Parameter(ParameterSetName = 'Clean', Mandatory)]
    [switch] $Clean,

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$repositoryRoot = $PSScriptRoot
$solution = Join-Path -Path $repositoryRoot -ChildPath 'ReleaseTools.sln'
$moduleVersion = (Import-PowerShellDataFile -Path (Join-Path -Path $repositoryRoot -ChildPath 'ReleaseTools.psd1')).ModuleVersion
$buildRoot = if ($env:RT_BUILD_ROOT) { $env:RT_BUILD_ROOT } else { $repositoryRoot }
$outputRoot = Join-Path -Path $buildRoot -ChildPath 'out'
$moduleDirectory = Join-Path -Path $outputRoot -ChildPath "ReleaseTools/$moduleVersion"
$agentAssembly = if ($env:RT_BUILD_ROOT) {
    Join-Path -Path $env:RT_BUILD_ROOT -ChildPath "bin/ReleaseTools.Agent/$Configuration/net10.0/ReleaseTools.Agent.dll"
}
else {
    Join-Path -Path $repositoryRoot -ChildPath "src/ReleaseTools.Agent/bin/$Configuration/net10.0/ReleaseTools.Agent.dll"
}

function Invoke-DotNet {
    param([Parameter(Mandatory)] [string[]] $ArgumentList)
    & dotnet @ArgumentList
    if ($LASTEXITCODE -ne 0) {
        throw "dotnet $($ArgumentList -join ' ') failed with exit code $LASTEXITCODE."
    }
}

function Invoke-ModuleBuild {
    Invoke-DotNet -ArgumentList @('build', $solution, '-c', $Configuration)
    $manifest = Join-Path -Path $moduleDirectory -ChildPath 'ReleaseTools.psd1'
    $null = Test-ModuleManifest -Path $manifest
    Write-Verbose -Message "Module assembled at $moduleDirectory"
}

function Invoke-PesterSuite {
    $pwsh = (Get-Process -Id $PID).Path
    $environment = @{
        RELEASETOOLS_MODULE_DIR = $moduleDirectory
        RELEASETOOLS_AGENT_DLL  = $agentAssembly
    }
    foreach ($name in $environment.Keys) {
        Set-Item -Path "Env:$name" -Value $environment[$name]
    }
    $command = "`$configuration = New-PesterConfiguration; " +
        "`$configuration.Run.Path = '$(Join-Path -Path $repositoryRoot -ChildPath 'tests/Pester')'; " +
        "`$configuration.Run.Exit = `$true; `$configuration.Output.Verbosity = 'Detailed'; " +
        'Invoke-Pester -Configuration $configuration'
    & $pwsh -NoProfile -NonInteractive -Command $command
    if ($LASTEXITCODE -ne 0) {
        throw "The Pester suite failed ($LASTEXITCODE failed tests or an error)."
    }
}

function Invoke-HelpGeneration {
    if (-not (Get-Module -ListAvailable -Name platyPS)) {
        throw 'PlatyPS is not installed. Install it with: Install-Module -Name platyPS -Scope CurrentUser'
    }
    Import-Module -Name platyPS
    $helpDirectory = Join-Path -Path $moduleDirectory -ChildPath 'en-US'
    $null = New-ExternalHelp -Path (Join-Path -Path $repositoryRoot -ChildPath 'docs/ReleaseTools') -OutputPath $helpDirectory -Force
    Write-Verbose -Message "External help written to $helpDirectory"
}

if ($Clean) {
    Invoke-DotNet -ArgumentList @('clean', $solution, '-c', $Configuration)
    if (Test-Path -Path $moduleDirectory) {
        Remove-Item -Path $moduleDirectory -Recurse -Force
    }
    return
}

if ($Build -or $Test -or $Docs -or $Package -or $PSCmdlet.ParameterSetName -eq 'Build') {
    Invoke-ModuleBuild
}

if ($Test) {
    Invoke-DotNet -ArgumentList @('test', $solution, '-c', $Configuration, '--no-build')
    Invoke-PesterSuite
}

if ($Docs -or $Package) {
    Invoke-HelpGeneration
}

if ($Package) {
    $archive = Join-Path -Path $outputRoot -ChildPath "ReleaseTools.$moduleVersion.zip"
    Compress-Archive -Path (Join-Path -Path $moduleDirectory -ChildPath '*') -DestinationPath $archive -Force
    Get-Item -Path $archive
}
