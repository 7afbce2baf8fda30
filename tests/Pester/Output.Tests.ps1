#Requires -Version 7.2
<#
    What users see: the default views in an 80-column console, times in the local time zone, enum states that
    complete after `Where-Object Status -eq`, and output that reads well through Export-Csv and ConvertTo-Json —
    including the inventory CSV round trip of Register-ServiceInstance and Get-ServiceInstance.
#>

BeforeDiscovery {
    $script:Cases = 'ServiceInstance', 'DeploymentResult', 'VersionHistoryEntry', 'ReleaseDeployment', 'DeploymentTarget', 'DeploymentBatchState', 'InstanceHealth' |
        ForEach-Object { @{ Type = $_ } }
}

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'TestFleet.psm1') -Force
    $script:Artifacts = Get-BuildArtifactPath
    Import-Module -Name $script:Artifacts.ModuleManifest -Force

    $script:WorkDirectory = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath "rt-output-$([guid]::NewGuid().ToString('N'))"
    $null = New-Item -Path $script:WorkDirectory -ItemType Directory
    $script:Keys = New-TestKeyPair -Directory $script:WorkDirectory
    $script:PackageV1 = Join-Path -Path $script:WorkDirectory -ChildPath 'app-1.0.0.bin'
    $script:PackageV2 = Join-Path -Path $script:WorkDirectory -ChildPath 'app-2.0.0.bin'
    [System.IO.File]::WriteAllBytes($script:PackageV1, [System.Security.Cryptography.RandomNumberGenerator]::GetBytes(64KB))
    [System.IO.File]::WriteAllBytes($script:PackageV2, [System.Security.Cryptography.RandomNumberGenerator]::GetBytes(80KB))
    $script:Agents = 1..2 | ForEach-Object {
        Start-FloydAgent -AgentAssembly $script:Artifacts.AgentAssembly -DataDirectory (Join-Path -Path $script:WorkDirectory -ChildPath "agent-$_") -PublicKeyPath $script:Keys.PublicKeyPath
    }

    # One fleet with a realistic history: ids as long as the views promise to show whole, two deployments and a rollback.
    $script:StorePath = Join-Path -Path $script:WorkDirectory -ChildPath 'fleet.db'
    $PSDefaultParameterValues['*:StorePath'] = $script:StorePath
    $PSDefaultParameterValues['*:PrivateKeyPath'] = $script:Keys.PrivateKeyPath
    Register-ServiceInstance -InstanceId 'payments-eu-01' -Service payments -Environment production -HostName 127.0.0.1 -Port $script:Agents[0].Port -Tags 'blue;canary'
    Register-ServiceInstance -InstanceId 'payments-eu-02' -Service payments -Environment production -HostName 127.0.0.1 -Port $script:Agents[1].Port
    $script:FirstRun = Get-ServiceInstance | Invoke-Deployment -Version 1.0.0 -PackageUrl $script:PackageV1 -Force
    $script:SecondRun = Get-ServiceInstance | Invoke-Deployment -Version 2.0.0 -PackageUrl $script:PackageV2 -BatchSize 1 -Force
    $script:Rollback = Get-ServiceInstance -InstanceId 'payments-eu-01' | Invoke-Rollback -Force

    # Every output type, as a user gets it.
    $script:Outputs = [ordered]@{
        ServiceInstance      = @(Get-ServiceInstance)
        DeploymentResult     = @($script:SecondRun)
        VersionHistoryEntry  = @(Get-ServiceInstance | Get-InstanceVersionHistory)
        ReleaseDeployment    = @(Get-ReleaseDeployment)
        DeploymentTarget     = @((Get-ReleaseDeployment -Limit 3).Targets)
        DeploymentBatchState = @((Get-ReleaseDeployment -Limit 3).Batches)
        InstanceHealth       = @(Get-ServiceInstance | Test-ServiceInstance)
    }
}

AfterAll {
    $script:Agents | Stop-FloydAgent
    Remove-Item -Path $script:WorkDirectory -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Default views in an 80-column console' {
    It '<Type> has a table that fits 80 columns with whole headers and no cut value' -ForEach @(
        @{ Type = 'ServiceInstance'; Headers = 'InstanceId', 'Service', 'Environment', 'Host', 'Version', 'Status' }
        @{ Type = 'DeploymentResult'; Headers = 'InstanceId', 'Service', 'FromVersion', 'ToVersion', 'Status', 'Batch', 'Duration' }
        @{ Type = 'VersionHistoryEntry'; Headers = 'RecordedAt', 'InstanceId', 'Version', 'Operation', 'DeploymentId' }
        @{ Type = 'ReleaseDeployment'; Headers = 'DeploymentId', 'Operation', 'Service', 'Version', 'Status', 'Failed' }
        @{ Type = 'DeploymentTarget'; Headers = 'InstanceId', 'Batch', 'FromVersion', 'ToVersion', 'Status', 'Attempts', 'FailedStep' }
        @{ Type = 'DeploymentBatchState'; Headers = 'Batch', 'Total', 'Succeeded', 'Unchanged', 'Failed', 'Skipped', 'Pending' }
        @{ Type = 'InstanceHealth'; Headers = 'InstanceId', 'Host', 'Port', 'Reachable', 'Healthy', 'Version', 'Latency' }
    ) {
        $objects = $script:Outputs[$Type]
        $objects | Should -Not -BeNullOrEmpty
        $lines = @(($objects | Format-Table | Out-String -Width 80) -split '\r?\n' | Where-Object { $_.Trim() })

        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual 80 -Because "'$_' must fit the console" }
        # One header line holding every label, whole; the dashes line under it; one line per object.
        ($lines[0] -split '\s+' | Where-Object { $_ }) | Should -Be $Headers
        $lines[1] | Should -Match '^[- ]+$'
        $lines.Count | Should -Be ($objects.Count + 2)
        ($lines -join "`n") | Should -Not -Match '…'
        foreach ($column in 'InstanceId', 'DeploymentId' | Where-Object { $_ -in $Headers }) {
            foreach ($id in $objects.$column) {
                ($lines -join "`n") | Should -Match ([regex]::Escape($id))
            }
        }
    }

    It 'Get-ReleaseDeployment shows each whole DeploymentId, which pipes straight back into -DeploymentId' {
        $shown = (Get-ReleaseDeployment | Out-String -Width 80) -split '\r?\n' | Select-String -Pattern '^(d-\S+)' | ForEach-Object { $_.Matches[0].Groups[1].Value }
        $shown.Count | Should -Be 3
        $shown | ForEach-Object { (Get-ReleaseDeployment -DeploymentId $_).DeploymentId | Should -Be $_ }
    }

    It '<Type> has a list view with readable values' -ForEach @(
        @{ Type = 'DeploymentResult'; Expected = 'Duration\s+: \d+\.\d{3} s' }
        @{ Type = 'InstanceHealth'; Expected = 'Latency\s+: \d+(\.\d)? ms' }
        @{ Type = 'ReleaseDeployment'; Expected = 'Instances\s+: 2 total: 2 succeeded, 0 failed, 0 skipped, 0 cancelled' }
        @{ Type = 'ServiceInstance'; Expected = 'Tags\s+: \{blue, canary\}' }
    ) {
        $text = $script:Outputs[$Type] | Format-List | Out-String -Width 80
        $text | Should -Match $Expected
        $text | Should -Not -Match 'TotalMilliseconds|Ticks'
    }

    It '<Type> has a list view that shows every property' -ForEach $script:Cases {
        # Labels the list views use for a property they show formatted.
        $labels = @{ DurationSeconds = 'Duration'; LatencyMilliseconds = 'Latency'; Total = 'Instances'; Succeeded = 'Instances'; Failed = 'Instances'; Skipped = 'Instances'; Cancelled = 'Instances' }
        $object = $script:Outputs[$Type][0]
        $shown = ($object | Format-List | Out-String -Width 200) -split '\r?\n' | Where-Object { $_ -match '^(\w+)\s+:' } | ForEach-Object { $Matches[1] }
        foreach ($property in $object.PSObject.Properties.Name) {
            $label = if ($labels.ContainsKey($property) -and $Type -ne 'DeploymentBatchState') { $labels[$property] } else { $property }
            $shown | Should -Contain $label -Because "Format-List of $Type should show $property"
        }
    }

    It 'shows times in the local time zone, keeping the exact instant' {
        # A fresh pwsh in another time zone reads the same store: the offset is that zone's, the instant is the same.
        $script = "Import-Module '$($script:Artifacts.ModuleManifest)'; " +
            "`$i = Get-ServiceInstance -InstanceId payments-eu-01 -StorePath '$($script:StorePath)'; " +
            "'{0}|{1}' -f `$i.UpdatedAt.Offset.TotalMinutes, `$i.UpdatedAt.UtcTicks"
        $previous = $env:TZ
        try {
            $env:TZ = 'Asia/Kolkata'
            $answer = Invoke-ChildPwsh -Command $script
        }
        finally {
            $env:TZ = $previous
        }
        $offset, $ticks = $answer -split '\|'
        $offset | Should -Be '330'
        $ticks | Should -Be (Get-ServiceInstance -InstanceId payments-eu-01).UpdatedAt.UtcTicks
        (Get-ServiceInstance -InstanceId payments-eu-01).UpdatedAt.Offset | Should -Be ([System.TimeZoneInfo]::Local.GetUtcOffset([datetime]::UtcNow))
    }
}

Describe 'States are enums' {
    It 'Where-Object Status -eq <Tab> offers the states of <Command>' -ForEach @(
        @{ Command = 'Get-ServiceInstance'; States = 'Registered', 'Active', 'Failed', 'Unreachable' }
        @{ Command = 'Get-ReleaseDeployment'; States = 'Pending', 'Running', 'Succeeded', 'Failed', 'PartiallySucceeded', 'Cancelled', 'Interrupted' }
        @{ Command = 'Invoke-Deployment -Version 1.0.0 -PackageUrl x'; States = 'Succeeded', 'Unchanged', 'Failed', 'Unreachable', 'RolledBack' }
    ) {
        $line = "$Command | Where-Object Status -eq "
        $offered = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
        foreach ($state in $States) {
            $offered | Should -Contain $state
        }
    }

    It 'filters with the names users type' {
        @($script:SecondRun | Where-Object Status -eq Succeeded).Count | Should -Be 2
        @(Get-ReleaseDeployment -Status Succeeded).Count | Should -Be 3
        (Get-ReleaseDeployment -Limit 1).Operation | Should -Be 'Rollback'
    }
}

Describe 'Export-Csv and ConvertTo-Json' {
    It 'Export-Csv of <Type> writes values, never type names or TimeSpan fields' -ForEach $script:Cases {
        $csv = $script:Outputs[$Type] | ConvertTo-Csv
        $csv | Should -Not -Match 'System\.|ReleaseTools\.|Ticks'
        $csv.Count | Should -Be ($script:Outputs[$Type].Count + 1)
    }

    It 'Export-Csv writes tags as a;b, nested targets by instance and state, durations in seconds' {
        $instances = Get-ServiceInstance | ConvertTo-Csv | ConvertFrom-Csv
        ($instances | Where-Object InstanceId -eq 'payments-eu-01').Tags | Should -BeExactly 'blue;canary'
        ($instances | Where-Object InstanceId -eq 'payments-eu-02').Tags | Should -BeExactly ''

        $run = Get-ReleaseDeployment -Limit 2 | Select-Object -Last 1 | ConvertTo-Csv | ConvertFrom-Csv
        $run.Targets | Should -BeExactly 'payments-eu-01 Succeeded; payments-eu-02 Succeeded'
        $run.Batches | Should -Match '^Batch 1: 1/1 done, 0 failed, 0 skipped; Batch 2: 1/1 done'

        $result = $script:SecondRun | ConvertTo-Csv | ConvertFrom-Csv | Select-Object -First 1
        [double]::Parse($result.DurationSeconds, [cultureinfo]::InvariantCulture) | Should -BeGreaterThan 0
        $result.Status | Should -Be 'Succeeded'
    }

    It 'ConvertTo-Json of <Type> is readable: state names, numbers, ISO times, arrays' -ForEach $script:Cases {
        $json = $script:Outputs[$Type] | ConvertTo-Json -Depth 4 -WarningAction Stop
        $json | Should -Not -Match 'Ticks|TotalMilliseconds|"Days"'
        $parsed = $json | ConvertFrom-Json -NoEnumerate
        $first = @($parsed)[0]
        if ($first.PSObject.Properties['Status']) {
            $first.Status | Should -BeOfType [string]
        }
        foreach ($time in 'UpdatedAt', 'RecordedAt', 'CreatedAt', 'StartedAt') {
            if ($first.PSObject.Properties[$time] -and $first.$time) {
                # ConvertFrom-Json turns ISO 8601 back into a date: the round trip is exact.
                $first.$time | Should -BeOfType [datetime]
            }
        }
    }

    It 'ConvertTo-Json writes a run with its targets and a result with its duration in seconds' {
        $run = Get-ReleaseDeployment -Limit 1 | ConvertTo-Json -Depth 3 | ConvertFrom-Json
        $run.Status | Should -Be 'Succeeded'
        $run.Operation | Should -Be 'Rollback'
        $run.Targets.InstanceId | Should -Be 'payments-eu-01'
        $run.Targets.Status | Should -Be 'Succeeded'

        $result = $script:FirstRun[0] | ConvertTo-Json | ConvertFrom-Json
        $result.DurationSeconds | Should -BeOfType [double]
        $result.Status | Should -Be 'Succeeded'
        $result.Operation | Should -Be 'Deploy'
    }
}

Describe 'The inventory CSV round trip' {
    It 'Get-ServiceInstance | Export-Csv, then Import-Csv | Register-ServiceInstance, keeps every tag and empty means none' {
        $csv = Join-Path -Path $script:WorkDirectory -ChildPath 'inventory.csv'
        Register-ServiceInstance -InstanceId 'api-01' -Service api -Environment staging -HostName api.internal -Port 8080 -Tags 'green', 'eu-west', 'tier 1'
        Get-ServiceInstance | Export-Csv -Path $csv

        $copy = Join-Path -Path $script:WorkDirectory -ChildPath 'copy.db'
        Import-Csv -Path $csv | Register-ServiceInstance -StorePath $copy

        foreach ($original in Get-ServiceInstance) {
            $restored = Get-ServiceInstance -InstanceId $original.InstanceId -StorePath $copy
            $restored.Tags | Should -BeExactly $original.Tags
            $restored.Host | Should -Be $original.Host
            $restored.Port | Should -Be $original.Port
        }
        (Get-ServiceInstance -InstanceId 'payments-eu-02' -StorePath $copy).Tags.Count | Should -Be 0
        (Get-ServiceInstance -InstanceId 'api-01' -StorePath $copy).Tags | Should -BeExactly 'green', 'eu-west', 'tier 1'
        Unregister-ServiceInstance -InstanceId 'api-01' -Force
    }

    It 'reads a hand-written inventory: a;b is two tags, spaces around them are dropped, an empty cell is none' {
        $csv = Join-Path -Path $script:WorkDirectory -ChildPath 'hosts.csv'
        Set-Content -Path $csv -Value @(
            'InstanceId,Service,Environment,Host,Port,Tags'
            'web-01,web,prod,10.0.0.11,7070,a;b'
            'web-02,web,prod,10.0.0.12,7070,'
            'web-03,web,prod,10.0.0.13,7070, blue ; green '
        )
        $store = Join-Path -Path $script:WorkDirectory -ChildPath 'hosts.db'
        Import-Csv -Path $csv | Register-ServiceInstance -StorePath $store

        (Get-ServiceInstance -InstanceId web-01 -StorePath $store).Tags | Should -BeExactly 'a', 'b'
        (Get-ServiceInstance -InstanceId web-02 -StorePath $store).Tags.Count | Should -Be 0
        (Get-ServiceInstance -InstanceId web-03 -StorePath $store).Tags | Should -BeExactly 'blue', 'green'
    }
}
