#Requires -Version 7.4
<#
    Release notifications as users type them: Register-, Get-, Test-, Unregister-ReleaseWebhook and
    Get-ReleaseNotification against a real SQLite store file and a real webhook receiver on loopback.
#>

BeforeAll {
    Import-Module -Name (Join-Path -Path $PSScriptRoot -ChildPath 'TestFleet.psm1') -Force
    $script:Artifacts = Get-BuildArtifactPath
    Import-Module -Name $script:Artifacts.ModuleManifest -Force
    $script:WorkDirectory = Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath "rt-notify-$([guid]::NewGuid().ToString('N'))"
    $null = New-Item -Path $script:WorkDirectory -ItemType Directory
    $script:Receiver = Start-WebhookReceiver
}

AfterAll {
    $script:Receiver.Dispose()
    Remove-Item -Path $script:WorkDirectory -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Release webhooks' {
    BeforeEach {
        $script:Store = Join-Path -Path $script:WorkDirectory -ChildPath "$([guid]::NewGuid().ToString('N')).db"
    }

    It 'registers a signed generic webhook, sends it a test notice the receiver can verify, and logs the delivery' {
        $path = "audit/$([guid]::NewGuid().ToString('N'))/tokenABC123"
        $secret = ConvertTo-SecureString -String 'pester-signing-key' -AsPlainText -Force
        $webhook = Register-ReleaseWebhook -Name audit -Url $script:Receiver.Url($path) -Secret $secret -PassThru -Store $script:Store

        $webhook.Url | Should -Be "http://127.0.0.1:$($script:Receiver.Port)/audit/***"
        $webhook.HasSecret | Should -BeTrue

        $result = Test-ReleaseWebhook -Name audit -Store $script:Store

        $result.Status | Should -Be 'Delivered'
        $request = @($script:Receiver.Received($path))
        $request.Count | Should -Be 1
        $hmac = [System.Security.Cryptography.HMACSHA256]::new([System.Text.Encoding]::UTF8.GetBytes('pester-signing-key'))
        $expected = 'sha256=' + [System.Convert]::ToHexString($hmac.ComputeHash($request[0].Body)).ToLowerInvariant()
        $request[0].Header('X-ReleaseTools-Signature-256') | Should -Be $expected
        $notice = $request[0].Text | ConvertFrom-Json
        $notice.schema | Should -Be 'releasetools.release-notice/1'
        $notice.event | Should -Be 'test'
        $notice.noticeId | Should -Be $result.NoticeId

        $logged = Get-ReleaseNotification -Webhook audit -Store $script:Store
        $logged.NoticeId | Should -Be $result.NoticeId
        $logged.Status | Should -Be 'Delivered'
    }

    It 'retries a 500, and reports a webhook that refuses as a warning and a Failed row, never showing its token' {
        $script:Receiver.Script('flaky/hook', [int[]]@(500, 200))
        $script:Receiver.Script('gone/xoxPESTERTOKEN', [ReleaseTools.Testing.WebhookAnswer[]]@([ReleaseTools.Testing.WebhookAnswer]::new(404, 'no_service')))
        Register-ReleaseWebhook -Name flaky -Url $script:Receiver.Url('flaky/hook') -Format Teams -Store $script:Store
        Register-ReleaseWebhook -Name gone -Url $script:Receiver.Url('gone/xoxPESTERTOKEN') -Format Slack -Store $script:Store

        $results = Test-ReleaseWebhook -Store $script:Store -WarningVariable warnings -WarningAction SilentlyContinue -ErrorVariable errors

        $errors | Should -BeNullOrEmpty
        ($results | Where-Object Webhook -eq flaky).Attempts | Should -Be 2
        ($results | Where-Object Webhook -eq flaky).Status | Should -Be 'Delivered'
        ($results | Where-Object Webhook -eq gone).Status | Should -Be 'Failed'
        $warnings.Count | Should -Be 1
        "$warnings" | Should -BeLike "Webhook 'gone' (http://127.0.0.1:*/gone/***) did not receive release test (test): HTTP 404 Not Found: no_service"
        (Get-ReleaseNotification -Status Failed -Store $script:Store).Webhook | Should -Be 'gone'
        (Get-ReleaseWebhook -Store $script:Store | Out-String) | Should -Not -BeLike '*xoxPESTERTOKEN*'
        (Get-ReleaseNotification -Store $script:Store | Format-List * | Out-String) | Should -Not -BeLike '*xoxPESTERTOKEN*'
    }

    It 'refuses a URL that is not http or https with WebhookUrlInvalid and writes nothing' {
        { Register-ReleaseWebhook -Name bad -Url 'file:///etc/passwd' -Store $script:Store -ErrorAction Stop } |
            Should -Throw -ErrorId 'WebhookUrlInvalid,ReleaseTools.Commands.RegisterReleaseWebhookCommand'
        Get-ReleaseWebhook -Store $script:Store | Should -BeNullOrEmpty
    }

    It 'removes a webhook piped from Get-ReleaseWebhook and keeps its delivery log' {
        Register-ReleaseWebhook -Name ops -Url $script:Receiver.Url('ops/hook') -Store $script:Store
        $null = Test-ReleaseWebhook -Name ops -Store $script:Store

        Get-ReleaseWebhook -Name ops -Store $script:Store | Unregister-ReleaseWebhook -Force -Store $script:Store

        Get-ReleaseWebhook -Store $script:Store | Should -BeNullOrEmpty
        (Get-ReleaseNotification -Store $script:Store).Webhook | Should -Be 'ops'
    }

    It 'mutes a webhook with Disable-ReleaseWebhook and turns it back on with Enable-ReleaseWebhook' {
        Register-ReleaseWebhook -Name mute -Url $script:Receiver.Url('mute/hook') -Store $script:Store

        (Disable-ReleaseWebhook -Name mute -PassThru -Store $script:Store).Enabled | Should -BeFalse
        (Get-ReleaseWebhook -Name mute -Store $script:Store).Enabled | Should -BeFalse

        (Get-ReleaseWebhook -Name mute -Store $script:Store | Enable-ReleaseWebhook -PassThru -Store $script:Store).Enabled | Should -BeTrue
    }
}
