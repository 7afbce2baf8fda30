#Requires -Version 7.4
<#
    The release lifecycle as a team runs it, against real agents on loopback, on a SQLite file and on the PostgreSQL
    server .ci/run starts: a release is created, reviewed, approved, tagged, deployed to pre-release by the scanner,
    promoted to production by a person and accepted, with every transition and run recorded; failed stages go back;
    illegal events and edits of frozen releases are refused by id with nothing changed.
#>

BeforeDiscovery {
    $script:Stores = @(@{ Kind = 'SQLite' })
    if ($env:RELEASETOOLS_TEST_POSTGRES) {
        $script:Stores += @{ Kind = 'PostgreSQL' }
    }
    elseif ($env:CI -eq 'true') {
        throw 'RELEASETOOLS_TEST_POSTGRES is not set, so the PostgreSQL lifecycle tests cannot run: .ci/run must start the server (.ci/postgres.sh).'
    }
}

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'TestFleet.psm1') -Force
    $script:Fleet = New-TestFleet -Name 'lifecycle' -AgentCount 4
    Import-Module -Name $script:Fleet.Artifacts.ModuleManifest -Force
    $script:Counter = 0

    function script:Initialize-LifecycleStore {
        <#
        .SYNOPSIS
            A store of its own for one test, of the kind asked, with the test's defaults for -StorePath and the signing key.
        #>
        param([Parameter(Mandatory)] [string] $Kind)
        $script:Counter++
        $script:StorePath = if ($Kind -eq 'SQLite') {
            Join-Path -Path $script:Fleet.Directory -ChildPath "lifecycle-$($script:Counter).db"
        }
        else {
            "$env:RELEASETOOLS_TEST_POSTGRES;Search Path=rt_lifecycle_$([guid]::NewGuid().ToString('N').Substring(0, 12))"
        }
        $PSDefaultParameterValues['*-Release*:StorePath'] = $script:StorePath
        $PSDefaultParameterValues['*-ServiceInstance:StorePath'] = $script:StorePath
        $PSDefaultParameterValues['*-ReleaseDeployment:StorePath'] = $script:StorePath
        $PSDefaultParameterValues['*-ReleaseStage:PrivateKeyPath'] = $script:Fleet.PrivateKeyPath
        $PSDefaultParameterValues['Invoke-ReleaseScan:PrivateKeyPath'] = $script:Fleet.PrivateKeyPath
        # Quick retries: the backoff is 1, 2, 4 s by default.
        $PSDefaultParameterValues['*-ReleaseStage:RetryDelay'] = 0.05
        $PSDefaultParameterValues['Invoke-ReleaseScan:RetryDelay'] = 0.05
    }

    function script:Register-Pair {
        <#
        .SYNOPSIS
            One instance of a service in staging and one in prod, on the agents (or closed ports) given.
        #>
        param([Parameter(Mandatory)] [string] $Service, [Parameter(Mandatory)] [int] $StagingPort, [Parameter(Mandatory)] [int] $ProdPort)
        Register-ServiceInstance -InstanceId "$Service-staging" -Service $Service -Environment staging -HostName 127.0.0.1 -Port $StagingPort
        Register-ServiceInstance -InstanceId "$Service-prod" -Service $Service -Environment prod -HostName 127.0.0.1 -Port $ProdPort
    }

    function script:Initialize-ApprovedRelease {
        <#
        .SYNOPSIS
            A release of the given services (each 1.0.0 from package v1, with a config template), created by alice and approved by bob.
        #>
        param([Parameter(Mandatory)] [string[]] $Service)
        $env:BUILD_REQUESTEDFOR = 'alice'
        $release = New-Release -Name "release of $($Service -join ', ')" -PreEnvironment staging -ProdEnvironment prod -Comment 'first cut'
        $template = Join-Path -Path $script:Fleet.Directory -ChildPath "$($release.ReleaseId).conf.template"
        Set-Content -Path $template -Value 'service={{Service}} env={{Environment}} colour={{Colour}}' -NoNewline
        foreach ($name in $Service) {
            $release | Add-ReleaseItem -Service $name -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1 -ConfigPath $template -ConfigValues @{ Colour = 'blue' }
        }
        $env:BUILD_REQUESTEDFOR = 'bob'
        $release | Approve-Release -Comment 'reviewed' -PassThru
    }
}

AfterAll {
    Remove-Item -Path Env:BUILD_REQUESTEDFOR -ErrorAction SilentlyContinue
    $PSDefaultParameterValues.Clear()
    $script:Fleet | Remove-TestFleet
}

Describe 'The release lifecycle on <Kind>' -ForEach $script:Stores {
    BeforeEach {
        Initialize-LifecycleStore -Kind $Kind
    }

    AfterEach {
        Remove-Item -Path Env:BUILD_REQUESTEDFOR -ErrorAction SilentlyContinue
    }

    It 'runs create, approve, tag, scanner pre-release, production by a person and acceptance, recording every transition and run' {
        $web = "web$($script:Counter)"
        $api = "api$($script:Counter)"
        Register-Pair -Service $web -StagingPort $script:Fleet.Agents[0].Port -ProdPort $script:Fleet.Agents[1].Port
        Register-Pair -Service $api -StagingPort $script:Fleet.Agents[2].Port -ProdPort $script:Fleet.Agents[3].Port
        $approved = Initialize-ApprovedRelease -Service $web, $api
        $approved.State | Should -Be 'Approved'
        $approved.AvailableEvents | Should -Be 'cancel', 'confirm_tag'

        $env:BUILD_REQUESTEDFOR = 'alice'
        $tagged = $approved | Lock-Release -Comment 'ship it' -PassThru
        $tagged.State | Should -Be 'Tagged'
        $tagged.StateCode | Should -Be 11
        $tagged.Frozen | Should -BeTrue
        $md5 = (Get-FileHash -Path $script:Fleet.PackageV1 -Algorithm MD5).Hash.ToLowerInvariant()
        $tagged.Items.Checksum | Should -Be $md5, $md5
        $tagged.Items[0].FrozenConfigs | Should -HaveCount 2

        $scanned = @(Invoke-ReleaseScan -Force)
        $scanned | Should -HaveCount 1
        $scanned[0].ReleaseId | Should -Be $approved.ReleaseId
        $scanned[0].State | Should -Be 'PreDeployed'
        (Get-ServiceInstance -InstanceId "$web-staging").Version | Should -Be '1.0.0'
        (Get-ServiceInstance -InstanceId "$web-prod").Version | Should -BeNullOrEmpty

        $env:BUILD_REQUESTEDFOR = 'carol'
        $produced = $approved | Start-ReleaseStage -Stage Production -Force -PassThru
        $produced.State | Should -Be 'ProdDeployed'
        (Get-ServiceInstance -Environment prod -Service $web, $api).Version | Should -Be '1.0.0', '1.0.0'
        $rendered = Get-ChildItem -Path (Join-Path -Path $script:Fleet.Agents[1].DataDirectory -ChildPath "services/$web/configs") -Recurse -Filter "$($approved.ReleaseId).conf" |
            Get-Content -Raw
        $rendered | Should -Be "service=$web env=prod colour=blue"

        $accepted = $approved | Complete-Release -Comment 'all good' -PassThru
        $accepted.State | Should -Be 'Accepted'
        $accepted.AvailableEvents | Should -HaveCount 0
        $accepted.History.Event | Should -Be 'create', 'approve', 'confirm_tag', 'start_pre_deploy', 'pre_deploy_completed', 'start_prod_deploy', 'prod_deploy_completed', 'final_accept'
        $accepted.History.Actor | Should -Be 'alice', 'bob', 'alice', $accepted.History[3].Actor, $accepted.History[3].Actor, 'carol', 'carol', 'carol'
        $accepted.History[3].Actor | Should -BeLike 'scanner (*'
        ($accepted.History | Where-Object Event -EQ 'approve').Comment | Should -Be 'reviewed'
        $accepted.History.To | Select-Object -Last 1 | Should -Be 'Accepted'
        $accepted.Runs | Should -HaveCount 4
        $accepted.Runs.Status | Sort-Object -Unique | Should -Be 'Succeeded'
        ($accepted.Runs | Where-Object Stage -EQ 'Production').Environment | Should -Be 'prod', 'prod'
        foreach ($run in $accepted.Runs) {
            $deployment = Get-ReleaseDeployment -DeploymentId $run.DeploymentId
            $deployment.Status | Should -Be 'Succeeded'
            $deployment.Service | Should -Be $run.Service
            $deployment.PackageMd5 | Should -Be $md5
        }
        (Get-Release -ReleaseId $approved.ReleaseId).State | Should -Be 'Accepted'
        Get-Release -State Accepted | Select-Object -ExpandProperty ReleaseId | Should -Be $approved.ReleaseId
    }

    It 'returns a release whose pre-release fails to Tagged, and one whose production fails to PreDeployed, recording both' {
        $broken = "broken$($script:Counter)"
        $web = "web$($script:Counter)"
        Register-Pair -Service $broken -StagingPort (Get-ClosedPort) -ProdPort $script:Fleet.Agents[1].Port
        Register-Pair -Service $web -StagingPort $script:Fleet.Agents[0].Port -ProdPort (Get-ClosedPort)
        # A team channel on a real receiver: its first answer is a 500, so that notice is retried.
        $receiver = Start-WebhookReceiver
        $receiver.Script('hooks/team', [int[]]@(500, 200))
        Register-ReleaseWebhook -Name team -Url $receiver.Url('hooks/team')
        $failsEarly = Initialize-ApprovedRelease -Service $broken | Lock-Release -PassThru
        $failsLate = Initialize-ApprovedRelease -Service $web | Lock-Release -PassThru

        $scanned = @(Invoke-ReleaseScan -Force -RetryCount 0 -ErrorVariable scanErrors -ErrorAction SilentlyContinue)

        ($scanned | Where-Object ReleaseId -EQ $failsEarly.ReleaseId).State | Should -Be 'Tagged'
        ($scanned | Where-Object ReleaseId -EQ $failsLate.ReleaseId).State | Should -Be 'PreDeployed'
        $stageError = $scanErrors | Where-Object { $_.FullyQualifiedErrorId -like 'ReleaseStageFailed*' }
        $stageError | Should -HaveCount 1
        $stageError.TargetObject | Should -Be $failsEarly.ReleaseId
        $early = Get-Release -ReleaseId $failsEarly.ReleaseId
        $early.History.Event | Select-Object -Last 2 | Should -Be 'start_pre_deploy', 'pre_deploy_failed'
        $early.History[-1].Comment | Should -BeLike "0 of 1 service(s) deployed to staging; ${broken}:*"
        $early.Runs.Status | Should -Be 'Failed'
        (Get-ReleaseDeployment -DeploymentId $early.Runs[0].DeploymentId).Status | Should -Be 'Failed'

        # A release whose pre-release failed waits for a person: the next scan leaves it alone.
        @(Invoke-ReleaseScan -Force) | Should -HaveCount 0
        (Get-Release -ReleaseId $failsEarly.ReleaseId).State | Should -Be 'Tagged'

        $late = $failsLate | Start-ReleaseStage -Stage Production -Force -RetryCount 0 -PassThru -ErrorVariable prodErrors -ErrorAction SilentlyContinue
        $late.State | Should -Be 'PreDeployed'
        $prodErrors.FullyQualifiedErrorId | Should -Contain 'ReleaseStageFailed,ReleaseTools.Commands.StartReleaseStageCommand'
        $late.History.Event | Select-Object -Last 2 | Should -Be 'start_prod_deploy', 'prod_deploy_failed'
        ($late.Runs | Where-Object Stage -EQ 'Production').Status | Should -Be 'Failed'
        $late.AvailableEvents | Should -Be 'cancel', 'start_prod_deploy'

        # Both failures were announced with their states' names and codes and the stage's runs; the 500 was retried.
        $posts = @($receiver.Received('hooks/team'))
        $receiver.Dispose()
        $notices = @($posts | ForEach-Object { $_.Text | ConvertFrom-Json })
        $preFailed = @($notices | Where-Object { $_.event -eq 'pre_deploy_failed' -and $_.release.id -eq $failsEarly.ReleaseId })
        $preFailed | Should -HaveCount 1
        ($preFailed[0].from.state, $preFailed[0].from.code, $preFailed[0].to.state, $preFailed[0].to.code) | Should -Be 'PreDeploying', 21, 'Tagged', 11
        $preFailed[0].kind | Should -Be 'stage-result'
        $preFailed[0].stage.outcome | Should -Be 'failed'
        $preFailed[0].stage.environment | Should -Be 'staging'
        $preFailed[0].stage.runIds | Should -Be @($early.Runs.DeploymentId)
        $prodFailed = @($notices | Where-Object { $_.event -eq 'prod_deploy_failed' -and $_.release.id -eq $failsLate.ReleaseId })
        $prodFailed | Should -HaveCount 1
        ($prodFailed[0].from.state, $prodFailed[0].from.code, $prodFailed[0].to.state, $prodFailed[0].to.code) | Should -Be 'ProdDeploying', 31, 'PreDeployed', 22
        $prodFailed[0].stage.environment | Should -Be 'prod'
        $prodFailed[0].stage.runIds | Should -Be @(($late.Runs | Where-Object Stage -EQ 'Production').DeploymentId)
        $retried = @($notices | Group-Object -Property noticeId | Where-Object Count -EQ 2)
        $retried | Should -HaveCount 1
        $posts.Count | Should -Be ((@($notices.noticeId | Sort-Object -Unique)).Count + 1)
        $logged = Get-ReleaseNotification -Webhook team -Limit 100
        $logged.Status | Sort-Object -Unique | Should -Be 'Delivered'
        ($logged | Where-Object NoticeId -EQ $retried[0].Name).Attempts | Should -Be 2
        ($logged | Where-Object ReleaseId -EQ $failsEarly.ReleaseId).Event | Should -Contain 'pre_deploy_failed'
    }

    It 'deploys to production exactly the package bytes frozen at tagging, and refuses bytes that changed since when it has no copy of them' {
        $web = "web$($script:Counter)"
        Register-Pair -Service $web -StagingPort $script:Fleet.Agents[0].Port -ProdPort $script:Fleet.Agents[1].Port
        $package = Join-Path -Path $script:Fleet.Directory -ChildPath "$web.zip"
        Copy-Item -Path $script:Fleet.PackageV1 -Destination $package
        $frozen = (Get-FileHash -Path $package -Algorithm MD5).Hash.ToLowerInvariant()
        $env:BUILD_REQUESTEDFOR = 'alice'
        $release = New-Release -Name 'frozen bytes' -PreEnvironment staging -ProdEnvironment prod
        $release | Add-ReleaseItem -Service $web -Version 1.0.0 -PackageUrl $package
        $release | Approve-Release
        $release | Lock-Release
        Invoke-ReleaseScan -Force | Select-Object -ExpandProperty State | Should -Be 'PreDeployed'

        # Someone replaces the file behind the URL after tagging.
        Copy-Item -Path $script:Fleet.PackageV2 -Destination $package -Force
        $produced = $release | Start-ReleaseStage -Stage Production -Force -PassThru

        # The bytes pre-release got (kept in the package cache under their checksum) are the ones production gets.
        $produced.State | Should -Be 'ProdDeployed'
        (Get-ReleaseDeployment -DeploymentId ($produced.Runs | Where-Object Stage -EQ 'Production').DeploymentId).PackageMd5 | Should -Be $frozen
        Test-Path -Path (Join-Path -Path $script:Fleet.Agents[1].DataDirectory -ChildPath "packages/$frozen.pkg") | Should -BeTrue

        if ($Kind -eq 'SQLite') {
            # Without a copy of the frozen bytes (another machine, an emptied cache) the changed file is refused before any push.
            $other = New-Release -Name 'frozen bytes, no copy' -PreEnvironment staging -ProdEnvironment prod
            Copy-Item -Path $script:Fleet.PackageV1 -Destination $package -Force
            $other | Add-ReleaseItem -Service $web -Version 1.0.0 -PackageUrl $package
            $env:BUILD_REQUESTEDFOR = 'bob'
            $other | Approve-Release
            $other | Lock-Release
            Invoke-ReleaseScan -Force | Select-Object -ExpandProperty State | Should -Be 'PreDeployed'
            Copy-Item -Path $script:Fleet.PackageV2 -Destination $package -Force
            Remove-Item -Path (Join-Path -Path (Split-Path -Path $script:StorePath) -ChildPath 'packages') -Recurse -Force

            $after = $other | Start-ReleaseStage -Stage Production -Force -RetryCount 0 -PassThru -ErrorAction SilentlyContinue

            $after.State | Should -Be 'PreDeployed'
            ($after.Runs | Where-Object Stage -EQ 'Production').Error | Should -BeLike 'PackageChecksumMismatch:*'
        }
    }

    It 'refuses illegal events and edits of a frozen release by stable ids and leaves the store as it was' {
        $web = "web$($script:Counter)"
        $release = Initialize-ApprovedRelease -Service $web
        { $release | Start-ReleaseStage -Stage Production -Force -ErrorAction Stop } | Should -Throw -ErrorId 'ReleaseTransitionInvalid,ReleaseTools.Commands.StartReleaseStageCommand'
        { $release | Complete-Release -ErrorAction Stop } | Should -Throw -ErrorId 'ReleaseTransitionInvalid,ReleaseTools.Commands.CompleteReleaseCommand'
        $error[0].Exception.Message | Should -BeLike '*Events allowed now: cancel, confirm_tag.*'
        $error[0].TargetObject | Should -Be $release.ReleaseId
        $release | Lock-Release
        $before = Get-Release -ReleaseId $release.ReleaseId | ConvertTo-Json -Depth 5

        { $release | Add-ReleaseItem -Service $web -Version 9.9.9 -PackageUrl $script:Fleet.PackageV2 -ErrorAction Stop } | Should -Throw -ErrorId 'ReleaseFrozen,ReleaseTools.Commands.AddReleaseItemCommand'
        { $release | Set-Release -Description 'changed' -ErrorAction Stop } | Should -Throw -ErrorId 'ReleaseFrozen,ReleaseTools.Commands.SetReleaseCommand'
        { $release | Approve-Release -ErrorAction Stop } | Should -Throw -ErrorId 'ReleaseTransitionInvalid,ReleaseTools.Commands.ApproveReleaseCommand'
        { $release | Deny-Release -ErrorAction Stop } | Should -Throw -ErrorId 'ReleaseTransitionInvalid,ReleaseTools.Commands.DenyReleaseCommand'
        { Get-Release -ReleaseId r-20990101-000000-000000 -ErrorAction Stop } | Should -Throw -ErrorId 'ReleaseNotFound,ReleaseTools.Commands.GetReleaseCommand'

        Get-Release -ReleaseId $release.ReleaseId | ConvertTo-Json -Depth 5 | Should -Be $before
    }

    It 'returns an approved release to review when it is edited, and applies the store''s approval rules' {
        $web = "web$($script:Counter)"
        Set-ReleasePolicy -RequiredApprovals 2 -AllowSelfApproval $false -Confirm:$false
        (Get-ReleasePolicy).RequiredApprovals | Should -Be 2
        $env:BUILD_REQUESTEDFOR = 'alice'
        $release = New-Release -Name 'rules' -PreEnvironment staging -ProdEnvironment prod
        $release | Add-ReleaseItem -Service $web -Version 1.0.0 -PackageUrl $script:Fleet.PackageV1

        { $release | Approve-Release -ErrorAction Stop } | Should -Throw -ErrorId 'ReleaseSelfApprovalDenied,ReleaseTools.Commands.ApproveReleaseCommand'
        $env:BUILD_REQUESTEDFOR = 'bob'
        ($release | Approve-Release -PassThru).State | Should -Be 'PendingReview'
        { $release | Approve-Release -ErrorAction Stop } | Should -Throw -ErrorId 'ReleaseAlreadyApproved,ReleaseTools.Commands.ApproveReleaseCommand'
        $env:BUILD_REQUESTEDFOR = 'carol'
        $approved = $release | Approve-Release -PassThru
        $approved.State | Should -Be 'Approved'
        $approved.Approvals.Approver | Should -Be 'bob', 'carol'

        $env:BUILD_REQUESTEDFOR = 'alice'
        $edited = $release | Add-ReleaseItem -Service $web -Version 1.0.1 -PackageUrl $script:Fleet.PackageV2 -PassThru -WarningVariable warned 3>$null
        $edited.State | Should -Be 'PendingReview'
        $edited.Revision | Should -Be 3
        $edited.History.Event | Select-Object -Last 1 | Should -Be 'edit'
        $warned | Should -BeLike '*back in review*'
        $edited.Items.Version | Should -Be '1.0.1'
    }

    It 'waits for a state as a pipeline gate, failing fast when it can no longer be reached' {
        $release = Initialize-ApprovedRelease -Service "web$($script:Counter)"
        (Wait-Release -ReleaseId $release.ReleaseId -State Approved, Tagged -Timeout 5).State | Should -Be 'Approved'
        { Wait-Release -ReleaseId $release.ReleaseId -State Tagged -Timeout 1 -PollInterval 0.1 -ErrorAction Stop } |
            Should -Throw -ErrorId 'ReleaseWaitTimeout,ReleaseTools.Commands.WaitReleaseCommand'
        $release | Stop-Release -Comment 'not this week' -Force
        { Wait-Release -ReleaseId $release.ReleaseId -State Accepted -Timeout 5 -ErrorAction Stop } |
            Should -Throw -ErrorId 'ReleaseWaitUnreachable,ReleaseTools.Commands.WaitReleaseCommand'
    }
}
