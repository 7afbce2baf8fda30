using System.Collections;
using System.Management.Automation;
using System.Security.Cryptography;
using System.Text;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>The webhook cmdlets as users type them, against a real store file and a real webhook receiver on loopback.</summary>
public sealed class WebhookTests : IClassFixture<ModulePackagingTests.Session>, IDisposable
{
    private const string Token = "T0TEAM/B0CHANNEL/xoxSECRETTOKEN42";
    private readonly PowerShellSession _shell;
    private readonly TempDirectory _directory = new("rt-webhooks");
    private readonly WebhookReceiver _receiver = new();

    public WebhookTests(ModulePackagingTests.Session session) => _shell = session.Shell;

    public void Dispose()
    {
        _receiver.Dispose();
        _directory.Dispose();
    }

    private string StorePath => _directory.Combine("store.db");

    /// <summary>A SecureString as Get-Secret or Read-Host -AsSecureString hands one over (the hosted session has no ConvertTo-SecureString).</summary>
    private const string SecureFunction = "function Secure([string] $text) { $s = [System.Security.SecureString]::new(); foreach ($c in $text.ToCharArray()) { $s.AppendChar($c) }; $s }; ";

    private PowerShellResult Invoke(string script, string? url = null) =>
        _shell.Invoke("param($Store, $Url) " + SecureFunction + script, new Hashtable { ["Store"] = StorePath, ["Url"] = url ?? _receiver.Url("services/" + Token) });

    [Fact]
    public void A_registered_webhook_is_listed_with_its_token_hidden_tested_for_real_and_logged()
    {
        var registered = Invoke("Register-ReleaseWebhook -Name releases-slack -Url $Url -Format Slack -PassThru -Store $Store").ThrowOnError();

        var webhook = Assert.Single(registered.Output);
        Assert.Equal("ReleaseTools.ReleaseWebhook", webhook.TypeNames[0]);
        Assert.Equal($"http://127.0.0.1:{_receiver.Port}/services/***", webhook.Properties["Url"].Value);
        var listed = Assert.Single(Invoke("Get-ReleaseWebhook -Name RELEASES-* -Store $Store").ThrowOnError().Output);
        Assert.Equal(("releases-slack", "Slack", true, false), ((string)listed.Properties["Name"].Value, listed.Properties["Format"].Value.ToString(), (bool)listed.Properties["Enabled"].Value, (bool)listed.Properties["HasSecret"].Value));

        var tested = Invoke("Get-ReleaseWebhook -Store $Store | Test-ReleaseWebhook -Store $Store").ThrowOnError();

        var result = Assert.Single(tested.Output);
        Assert.Equal("ReleaseTools.ReleaseNotification", result.TypeNames[0]);
        Assert.Equal(("releases-slack", "test", "Delivered", 1, 200), ((string)result.Properties["Webhook"].Value, (string)result.Properties["ReleaseId"].Value,
            result.Properties["Status"].Value.ToString(), (int)result.Properties["Attempts"].Value, (int)result.Properties["LastStatusCode"].Value));
        Assert.Empty(tested.Warnings);
        var post = Assert.Single(_receiver.Received("services/" + Token)).Json;
        Assert.StartsWith("Release ReleaseTools test notice (test): test", post.GetProperty("text").GetString());
        var logged = Assert.Single(Invoke("Get-ReleaseNotification -ReleaseId test -Store $Store").ThrowOnError().Output);
        Assert.Equal(result.Properties["NoticeId"].Value, logged.Properties["NoticeId"].Value);
        Assert.Equal("Delivered", logged.Properties["Status"].Value.ToString());

        var shown = Invoke("Get-ReleaseWebhook -Store $Store; Get-ReleaseNotification -Store $Store").ThrowOnError().Output;
        var text = string.Join("\n", shown.SelectMany(o => o.Properties.Select(p => p.Value?.ToString())));
        Assert.DoesNotContain("xoxSECRETTOKEN42", text);
        Assert.Contains("releases-slack", text);
    }

    [Fact]
    public void A_secret_given_as_a_SecureString_signs_the_generic_payload()
    {
        Invoke("Register-ReleaseWebhook audit $Url -Secret (Secure 'audit-key-7') -Store $Store").ThrowOnError();

        Assert.True((bool)Assert.Single(Invoke("Get-ReleaseWebhook -Store $Store").ThrowOnError().Output).Properties["HasSecret"].Value);
        Invoke("Test-ReleaseWebhook -Name audit -Store $Store").ThrowOnError();

        var post = Assert.Single(_receiver.Received("services/" + Token));
        var expected = "sha256=" + Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes("audit-key-7"), post.Body)).ToLowerInvariant();
        Assert.Equal(expected, post.Header("X-ReleaseTools-Signature-256"));
        Assert.Equal("releasetools.release-notice/1", post.Json.GetProperty("schema").GetString());
    }

    [Fact]
    public void A_webhook_answering_500_then_200_is_retried_and_one_that_refuses_is_a_warning_and_a_failed_row_not_an_error()
    {
        _receiver.Script("services/flaky", 500, 200);
        _receiver.Script("services/" + Token, new WebhookAnswer(404, "no_service"));
        Invoke("Register-ReleaseWebhook -Name flaky -Url $Url -Store $Store", _receiver.Url("services/flaky")).ThrowOnError();
        Invoke("Register-ReleaseWebhook -Name gone -Url $Url -Format Slack -Store $Store").ThrowOnError();

        var tested = Invoke("Test-ReleaseWebhook -Store $Store");

        Assert.Empty(tested.Errors);
        Assert.Null(tested.Terminating);
        var byName = tested.Output.ToDictionary(o => (string)o.Properties["Webhook"].Value);
        Assert.Equal(("Delivered", 2), (byName["flaky"].Properties["Status"].Value.ToString(), (int)byName["flaky"].Properties["Attempts"].Value));
        Assert.Equal(("Failed", 1, "HTTP 404 Not Found: no_service"), (byName["gone"].Properties["Status"].Value.ToString(), (int)byName["gone"].Properties["Attempts"].Value, (string)byName["gone"].Properties["Error"].Value));
        var warning = Assert.Single(tested.Warnings);
        Assert.Equal($"Webhook 'gone' (http://127.0.0.1:{_receiver.Port}/services/***) did not receive release test (test): HTTP 404 Not Found: no_service", warning);
        Assert.Equal(2, _receiver.Received("services/flaky").Count);
        var failed = Assert.Single(Invoke("Get-ReleaseNotification -Status Failed -Store $Store").ThrowOnError().Output);
        Assert.Equal("gone", failed.Properties["Webhook"].Value);
    }

    [Theory]
    [InlineData("Register-ReleaseWebhook -Name bad -Url 'ftp://files.example.test/hook/T0TOKEN' -Store $Store", "WebhookUrlInvalid", "ftp://files.example.test/hook/***")]
    [InlineData("Register-ReleaseWebhook -Name bad -Url 'https://hooks.example.test/x/y' -Format Teams -Secret (Secure 's') -Store $Store", "WebhookSecretInvalid", "***")]
    [InlineData("Register-ReleaseWebhook -Name 'bad name' -Url 'https://hooks.example.test/x' -Store $Store", "WebhookNameInvalid", "bad name")]
    public void Bad_input_is_refused_by_a_stable_id_with_the_redacted_value_as_target_and_nothing_is_written(string script, string errorId, string target)
    {
        var result = Invoke(script);

        var error = Assert.Single(result.Errors);
        Assert.Equal(errorId + ",ReleaseTools.Commands.RegisterReleaseWebhookCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Equal(target, error.TargetObject);
        Assert.Empty(Invoke("Get-ReleaseWebhook -Store $Store").ThrowOnError().Output);
    }

    [Fact]
    public void A_second_registration_of_a_name_is_refused_unless_forced_and_unregistering_follows_WhatIf_and_wildcards()
    {
        Invoke("Register-ReleaseWebhook -Name ops -Url $Url -Store $Store").ThrowOnError();

        var again = Invoke("Register-ReleaseWebhook -Name OPS -Url $Url -Format Slack -Store $Store");
        var exists = Assert.Single(again.Errors);
        Assert.Equal(("WebhookExists,ReleaseTools.Commands.RegisterReleaseWebhookCommand", ErrorCategory.ResourceExists, (object)"OPS"), (exists.FullyQualifiedErrorId, exists.CategoryInfo.Category, exists.TargetObject));
        Assert.Equal("Generic", Assert.Single(Invoke("Get-ReleaseWebhook -Store $Store").ThrowOnError().Output).Properties["Format"].Value.ToString());
        Invoke("Register-ReleaseWebhook -Name OPS -Url $Url -Format Slack -Force -Disabled -Store $Store").ThrowOnError();
        var replaced = Assert.Single(Invoke("Get-ReleaseWebhook -Store $Store").ThrowOnError().Output);
        Assert.Equal(("Slack", false), (replaced.Properties["Format"].Value.ToString(), (bool)replaced.Properties["Enabled"].Value));

        Invoke("Unregister-ReleaseWebhook -Name o* -WhatIf -Store $Store").ThrowOnError();
        Assert.Single(Invoke("Get-ReleaseWebhook -Store $Store").ThrowOnError().Output);
        var missing = Invoke("Unregister-ReleaseWebhook -Name nothing-here -Force -Store $Store");
        Assert.Equal("WebhookNotFound,ReleaseTools.Commands.UnregisterReleaseWebhookCommand", Assert.Single(missing.Errors).FullyQualifiedErrorId);
        var removed = Invoke("Get-ReleaseWebhook -Store $Store | Unregister-ReleaseWebhook -Force -PassThru -Store $Store").ThrowOnError();
        Assert.Equal("OPS", Assert.Single(removed.Output).Properties["Name"].Value);
        Assert.Empty(Invoke("Get-ReleaseWebhook -Store $Store").ThrowOnError().Output);
    }

    [Fact]
    public void A_disabled_webhook_keeps_its_url_and_secret_gets_no_notice_and_a_delivered_test_result_enables_it()
    {
        Invoke("Register-ReleaseWebhook -Name ops -Url $Url -Secret (Secure 'ops-key') -Disabled -Store $Store").ThrowOnError();
        Invoke("Register-ReleaseWebhook -Name chat -Url $Url -Format Slack -Store $Store").ThrowOnError();

        var disabled = Invoke("Disable-ReleaseWebhook -Name ch* -PassThru -Store $Store").ThrowOnError();
        Assert.False((bool)Assert.Single(disabled.Output).Properties["Enabled"].Value);

        var enabled = Invoke("Test-ReleaseWebhook -Name ops -Store $Store | Where-Object Status -eq Delivered | Enable-ReleaseWebhook -PassThru -Store $Store").ThrowOnError();

        var ops = Assert.Single(enabled.Output);
        Assert.Equal(("ops", true, true), ((string)ops.Properties["Name"].Value, (bool)ops.Properties["Enabled"].Value, (bool)ops.Properties["HasSecret"].Value));
        var listed = Invoke("Get-ReleaseWebhook -Store $Store").ThrowOnError().Output.ToDictionary(o => (string)o.Properties["Name"].Value, o => (bool)o.Properties["Enabled"].Value);
        Assert.Equal(new Dictionary<string, bool> { ["chat"] = false, ["ops"] = true }, listed);
        Invoke("Enable-ReleaseWebhook -Name chat -WhatIf -Store $Store").ThrowOnError();
        Assert.False(Invoke("Get-ReleaseWebhook chat -Store $Store").ThrowOnError().Output.Single().Properties["Enabled"].Value is true);
        var missing = Invoke("Disable-ReleaseWebhook -Name nothing -Store $Store");
        Assert.Equal("WebhookNotFound,ReleaseTools.Commands.DisableReleaseWebhookCommand", Assert.Single(missing.Errors).FullyQualifiedErrorId);
    }
}
