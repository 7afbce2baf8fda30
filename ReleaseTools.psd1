# The one version source: the assembly version comes from ModuleVersion (Directory.Build.props). The module's
# own manifest is written from the repository-root copy of this file by src/ReleaseTools/ModuleLayout.targets, which
# turns the RootModule comment into the key (the DLL exists only in the built module) and drops the module/ folder
# from the static files' paths (they sit beside the DLL there). So the root copy passes Test-ModuleManifest from the
# repository root, and the built one from out/.
@{
    # RootModule = 'ReleaseTools.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '6c3f4f0e-6a55-4d3c-9a0e-2f7d8b1c5e41'
    Author               = 'ReleaseTools contributors'
    CompanyName          = 'ReleaseTools'
    Copyright            = '(c) ReleaseTools contributors. All rights reserved.'
    Description          = 'Release versioned packages and configs to service instances over the Floyd agent protocol, record every instance''s version history, and roll back on demand.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FormatsToProcess     = @('module/ReleaseTools.Format.ps1xml')
    CmdletsToExport      = @(
        'Get-ServiceInstance'
        'Register-ServiceInstance'
        'Unregister-ServiceInstance'
        'Test-ServiceInstance'
        'Invoke-Deployment'
        'Invoke-Rollback'
        'Resume-Deployment'
        'Get-ReleaseDeployment'
        'Get-InstanceVersionHistory'
        'Unlock-ServiceInstance'
        'Backup-ReleaseStore'
        'Restore-ReleaseStore'
        'Register-ReleaseWebhook'
        'Get-ReleaseWebhook'
        'Unregister-ReleaseWebhook'
        'Enable-ReleaseWebhook'
        'Disable-ReleaseWebhook'
        'Test-ReleaseWebhook'
        'Get-ReleaseNotification'
        'New-Release'
        'Get-Release'
        'Add-ReleaseItem'
        'Set-Release'
        'Approve-Release'
        'Deny-Release'
        'Lock-Release'
        'Start-ReleaseStage'
        'Complete-Release'
        'Stop-Release'
        'Invoke-ReleaseScan'
        'Wait-Release'
        'Get-ReleasePolicy'
        'Set-ReleasePolicy'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('Deployment', 'Release', 'Rollback', 'Floyd', 'DevOps')
            ReleaseNotes = @'
0.1.0
- Register, list, test and unregister service instances in a SQLite store.
- Invoke-Deployment: push a package and a rendered config to instances over the signed Floyd protocol, in batches,
  with throttling, retries, a failure threshold and -WhatIf plans.
- Invoke-Rollback and Resume-Deployment; Get-ReleaseDeployment and Get-InstanceVersionHistory read what was recorded.
'@
        }
    }
}
