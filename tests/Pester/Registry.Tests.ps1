#Requires -Version 7.4
<#
    The instance registry as users type it: Register-, Get-, Unregister-ServiceInstance and
    Get-InstanceVersionHistory against a real SQLite store file, with the errors they report.
#>

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'TestFleet.psm1') -Force
    $script:Artifacts = Get-BuildArtifactPath
    Import-Module -Name $script:Artifacts.ModuleManifest -Force
    $script:WorkDirectory = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath "rt-registry-$([guid]::NewGuid().ToString('N'))"
    $null = New-Item -Path $script:WorkDirectory -ItemType Directory

    function script:Register-Three {
        <#
        .SYNOPSIS
            Registers two web instances and one api instance.
        #>
        Register-ServiceInstance -InstanceId web-01 -Service web -Environment prod -HostName 10.0.0.11 -Port 7070
        Register-ServiceInstance -InstanceId web-02 -Service web -Environment prod -HostName 10.0.0.12 -Port 7070
        Register-ServiceInstance -InstanceId api-01 -Service api -Environment prod -HostName 10.0.0.21 -Port 7070
    }
}

AfterAll {
    $PSDefaultParameterValues.Clear()
    Remove-Item -Path $script:WorkDirectory -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'The instance registry' {
    BeforeEach {
        # A store of its own for every test, as -StorePath on every command.
        $script:StorePath = Join-Path -Path $script:WorkDirectory -ChildPath "$([guid]::NewGuid().ToString('N')).db"
        $PSDefaultParameterValues['*:StorePath'] = $script:StorePath
    }

    Context 'Register-ServiceInstance' {
        It 'registers one instance from parameters, as the README shows' {
            Register-ServiceInstance -InstanceId web-01 -Service web -Environment prod -HostName 10.0.0.11 -Port 7070

            $instance = Get-ServiceInstance -Service web
            $instance.InstanceId | Should -Be 'web-01'
            $instance.Host | Should -Be '10.0.0.11'
            $instance.Port | Should -Be 7070
            $instance.Environment | Should -Be 'prod'
        }

        It 'registers a whole inventory with Import-Csv ./hosts.csv | Register-ServiceInstance' {
            $hosts = Join-Path -Path $script:WorkDirectory -ChildPath 'hosts.csv'
            Set-Content -Path $hosts -Value @(
                'InstanceId,Service,Environment,Host,Port'
                'web-01,web,prod,10.0.0.11,7070'
                'web-02,web,prod,10.0.0.12,7071'
                'api-01,api,staging,api.internal,8080'
            )

            $registered = Import-Csv -Path $hosts | Register-ServiceInstance -PassThru

            $registered.InstanceId | Should -Be 'web-01', 'web-02', 'api-01'
            $registered[0].PSObject.TypeNames[0] | Should -Be 'ReleaseTools.ServiceInstance'
            $web02 = Get-ServiceInstance -InstanceId web-02
            $web02.Port | Should -Be 7071
            $web02.Port | Should -BeOfType [int]
            (Get-ServiceInstance -Service api).Environment | Should -Be 'staging'
        }

        It 'updates the address of an id it already has instead of adding a second one' {
            Register-ServiceInstance -InstanceId web-01 -Service web -Environment prod -HostName old.internal -Port 7070
            Register-ServiceInstance -InstanceId web-01 -Service web -Environment prod -HostName new.internal -Port 7171

            $all = @(Get-ServiceInstance)
            $all | Should -HaveCount 1
            $all[0].Host | Should -Be 'new.internal'
            $all[0].Port | Should -Be 7171
        }

        It 'creates nothing with -WhatIf' {
            Register-ServiceInstance -InstanceId web-01 -Service web -Environment prod -HostName h -Port 1 -WhatIf

            Get-ServiceInstance | Should -BeNullOrEmpty
        }

        It 'rejects a port out of range before the store is touched' {
            { Register-ServiceInstance -InstanceId web-01 -Service web -Environment prod -HostName h -Port 70000 } |
                Should -Throw -ErrorId 'ParameterArgumentValidationError,ReleaseTools.Commands.RegisterServiceInstanceCommand'
            Test-Path -Path $script:StorePath | Should -BeFalse
        }
    }

    Context 'Get-ServiceInstance' {
        BeforeEach { Register-Three }

        It 'filters ids with wildcards' {
            (Get-ServiceInstance -InstanceId 'web-*').InstanceId | Sort-Object | Should -Be 'web-01', 'web-02'
            (Get-ServiceInstance -Service web -Environment prod).Count | Should -Be 2
        }

        It 'reports a literal id it does not know as a non-terminating InstanceNotFound error and returns the rest' {
            $found = Get-ServiceInstance -InstanceId web-01, web-99 -ErrorVariable missing -ErrorAction SilentlyContinue

            $found.InstanceId | Should -Be 'web-01'
            $missing | Should -HaveCount 1
            $missing[0].FullyQualifiedErrorId | Should -Be 'InstanceNotFound,ReleaseTools.Commands.GetServiceInstanceCommand'
            $missing[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $missing[0].TargetObject | Should -Be 'web-99'
        }

        It 'completes -Service with the service names in the store' {
            $line = "Get-ServiceInstance -StorePath '$script:StorePath' -Service w"
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be 'web'
        }

        It 'stops with StoreCorrupt or StoreForeign on a file that is not a store, and leaves the file as it was' {
            $notes = Join-Path -Path $script:WorkDirectory -ChildPath 'notes.db'
            Set-Content -Path $notes -Value "these are somebody's notes, not a database"
            $before = (Get-FileHash -Path $notes).Hash

            $caught = $null
            try {
                Get-ServiceInstance -StorePath $notes
            }
            catch {
                $caught = $_
            }

            $caught | Should -Not -BeNullOrEmpty
            $caught.FullyQualifiedErrorId | Should -Match '^Store(Corrupt|Foreign),'
            $caught.CategoryInfo.Category | Should -Be 'InvalidData'
            (Get-FileHash -Path $notes).Hash | Should -Be $before
        }
    }

    Context 'Get-InstanceVersionHistory' {
        BeforeEach { Register-Three }

        It 'takes instances from the pipeline by property name; an instance never deployed has no history and no error' {
            $history = Get-ServiceInstance -Service web | Get-InstanceVersionHistory -ErrorVariable problems

            $history | Should -BeNullOrEmpty
            $problems | Should -BeNullOrEmpty
        }

        It 'reports an id that is neither registered nor in history as InstanceNotFound' {
            $null = Get-InstanceVersionHistory -InstanceId nope -ErrorVariable problems -ErrorAction SilentlyContinue

            $problems | Should -HaveCount 1
            $problems[0].FullyQualifiedErrorId | Should -BeLike 'InstanceNotFound,*'
            $problems[0].TargetObject | Should -Be 'nope'
        }
    }

    Context 'Unregister-ServiceInstance' {
        BeforeEach { Register-Three }

        It 'changes nothing with -WhatIf' {
            Unregister-ServiceInstance -InstanceId web-01 -WhatIf

            (Get-ServiceInstance).Count | Should -Be 3
        }

        It 'removes piped instances, writes an error for an id it does not know and carries on' {
            $removed = 'web-01', 'ghost', 'web-02' | ForEach-Object { [pscustomobject]@{ InstanceId = $_ } } |
                Unregister-ServiceInstance -PassThru -ErrorVariable problems -ErrorAction SilentlyContinue

            $removed.InstanceId | Should -Be 'web-01', 'web-02'
            $problems | Should -HaveCount 1
            $problems[0].TargetObject | Should -Be 'ghost'
            (Get-ServiceInstance).InstanceId | Should -Be 'api-01'
        }

        It 'removes one instance by id, as the README shows' {
            Unregister-ServiceInstance -InstanceId web-02

            (Get-ServiceInstance).InstanceId | Sort-Object | Should -Be 'api-01', 'web-01'
        }
    }
}
