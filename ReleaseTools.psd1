@{
    RootModule           = 'ReleaseTools.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '6c3f4f0e-6a55-4d3c-9a0e-2f7d8b1c5e41'
    Author               = 'ReleaseTools contributors'
    CompanyName          = 'ReleaseTools'
    Copyright            = '(c) ReleaseTools contributors. All rights reserved.'
    Description          = 'Release versioned packages and configs to service instances over the Floyd agent protocol, record every instance''s version history, and roll back on demand.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FormatsToProcess     = @('ReleaseTools.Format.ps1xml')
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
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('Deployment', 'Release', 'Rollback', 'Floyd', 'DevOps')
            ProjectUri = 'https://example.invalid/releasetools'
        }
    }
}
