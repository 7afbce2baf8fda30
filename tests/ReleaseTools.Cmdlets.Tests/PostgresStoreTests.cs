using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>
/// The built module against the real PostgreSQL test server: the same pipelines a team types with -Store or
/// RELEASETOOLS_STORE pointing at their shared server. Npgsql loads inside the module's own dependency context while
/// this test process has its own Npgsql loaded, as another module would.
/// </summary>
public sealed class PostgresStoreTests : IClassFixture<AgentFleet>, IDisposable
{
    private const string RegisterFleet = DeploymentPipelineTests.RegisterFleet;

    private readonly AgentFleet _fleet;
    private readonly List<string> _schemas = new();

    public PostgresStoreTests(AgentFleet fleet) => _fleet = fleet;

    private string NewServerStore()
    {
        var schema = PostgresTestServer.NewSchemaName();
        _schemas.Add(schema);
        return PostgresTestServer.ForSchema(schema);
    }

    public void Dispose()
    {
        foreach (var schema in _schemas)
        {
            PostgresTestServer.DropSchema(schema);
        }
    }

    [SkippableFact]
    public void Deploy_history_and_rollback_round_trip_on_a_PostgreSQL_store()
    {
        var store = NewServerStore();
        _fleet.Invoke(store, "$Service = 'pgshop'\n" + RegisterFleet + """
            Get-ServiceInstance -Service pgshop | Invoke-Deployment -Version 1.0.0 -PackageUrl $V1 -Force | Out-Null
            Get-ServiceInstance -Service pgshop | Invoke-Deployment -Version 2.0.0 -PackageUrl $V2 -BatchSize 2 -Force | Out-Null
            """).ThrowOnError();

        var rolledBack = _fleet.Invoke(store, "Get-ServiceInstance -Service pgshop -Version 2.0.0 | Invoke-Rollback -Force").ThrowOnError();
        var history = _fleet.Invoke(store, "Get-ServiceInstance -Service pgshop | Get-InstanceVersionHistory").ThrowOnError();
        var runs = _fleet.Invoke(store, "Get-ReleaseDeployment").ThrowOnError();

        Assert.Equal(3, rolledBack.Output.Count);
        Assert.All(rolledBack.Output, r => Assert.Equal("1.0.0", r.Properties["ToVersion"].Value?.ToString()));
        Assert.Equal(9, history.Output.Count);
        Assert.Equal(new[] { "Rollback", "Deploy", "Deploy" }, runs.Values<string>("Operation"));
        Assert.Equal(new[] { "1.0.0" }, _fleet.Invoke(store, "Get-ServiceInstance -Service pgshop").ThrowOnError().Values<string>("Version").Distinct());
        Assert.Equal(9L, PostgresTestServer.Scalar(_schemas[0], "SELECT count(*) FROM version_history"));
    }

    [SkippableFact]
    public void RELEASETOOLS_STORE_with_a_postgresql_url_selects_the_server_and_Store_is_an_alias_of_StorePath()
    {
        var store = NewServerStore();
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(store);
        var url = $"postgresql://{builder.Username}@{builder.Host}:{builder.Port}/{builder.Database}?search_path={builder.SearchPath}";
        _fleet.Shell.Invoke("param($Store) Register-ServiceInstance -InstanceId pg-01 -Service pgenv -Environment prod -HostName 127.0.0.1 -Port 7070 -Store $Store",
            new System.Collections.Hashtable { ["Store"] = store }).ThrowOnError();

        var listed = _fleet.Shell.Invoke("""
            param($Url)
            # Only the environment names the store here (other tests in this runspace set a default -StorePath).
            $PSDefaultParameterValues = @{}
            $before = $env:RELEASETOOLS_STORE
            try {
                $env:RELEASETOOLS_STORE = $Url
                Get-ServiceInstance -Service pgenv
            } finally {
                $env:RELEASETOOLS_STORE = $before
            }
            """, new System.Collections.Hashtable { ["Url"] = url }).ThrowOnError();

        Assert.Equal(new[] { "pg-01" }, listed.Values<string>("InstanceId"));
    }

    [Fact]
    public void An_unreachable_server_is_a_terminating_StoreUnavailable_error_that_never_shows_the_password()
    {
        var result = _fleet.Shell.Invoke("""
            param($Store)
            Get-ServiceInstance -StorePath $Store -Verbose 4>&1
            """, new System.Collections.Hashtable { ["Store"] = $"postgresql://ops:Sup3rSecret-pw@127.0.0.1:{AgentFleet.ClosedPort()}/releases" });

        var record = result.Terminating?.ErrorRecord ?? Assert.Single(result.Errors);
        Assert.Equal("StoreUnavailable,ReleaseTools.Commands.GetServiceInstanceCommand", record.FullyQualifiedErrorId);
        Assert.Equal(System.Management.Automation.ErrorCategory.OpenError, record.CategoryInfo.Category);
        var everything = string.Join("\n", new[] { record.ToString(), record.Exception.ToString(), record.TargetObject?.ToString() ?? "", record.CategoryInfo.ToString() }
            .Concat(result.Output.Select(o => o.ToString())).Concat(result.Errors.Select(e => e.ToString())));
        Assert.Contains("127.0.0.1", everything);
        Assert.DoesNotContain("Sup3rSecret", everything);
    }

    [SkippableFact]
    public void A_release_and_a_signed_webhook_move_to_PostgreSQL_and_the_release_goes_on_there()
    {
        var sqlite = _fleet.NewStorePath();
        var server = NewServerStore();
        var backup = Path.Combine(Path.GetDirectoryName(sqlite)!, Guid.NewGuid().ToString("N") + ".rtbackup");
        const string Secret = "Sup3r-signing-key-4471";
        using var receiver = new WebhookReceiver();
        var hookUrl = receiver.Url("releasetools/T0123/B0456/token-audit");
        var made = _fleet.Invoke(sqlite, $$"""
            # A SecureString as Get-Secret hands one over (the hosted session has no ConvertTo-SecureString).
            $secret = [System.Security.SecureString]::new(); foreach ($c in '{{Secret}}'.ToCharArray()) { $secret.AppendChar($c) }
            Register-ReleaseWebhook -Name audit -Url '{{hookUrl}}' -Secret $secret | Out-Null
            (New-Release -Name '2026.12 payments' -PreEnvironment staging -ProdEnvironment prod -Comment 'first cut').ReleaseId
            """).ThrowOnError();
        var releaseId = made.Output.Last().ToString();

        var moved = _fleet.Shell.Invoke("""
            param($Backup, $From, $To)
            Backup-ReleaseStore -Path $Backup -StorePath $From -Verbose 4>&1
            Restore-ReleaseStore -Path $Backup -Store $To -Confirm:$false -Verbose 4>&1
            """, new System.Collections.Hashtable { ["Backup"] = backup, ["From"] = sqlite, ["To"] = server }).ThrowOnError();
        var show = $"Get-Release -ReleaseId '{releaseId}' | ForEach-Object {{ '{{0}} {{1}} {{2}}' -f $_.State, $_.Revision, (($_.History | ForEach-Object {{ $_.Event + ':' + $_.Actor }}) -join ',') }}";
        var onServer = _fleet.Invoke(server, show).ThrowOnError();
        var approved = _fleet.Invoke(server, $"Approve-Release -ReleaseId '{releaseId}' -Force -PassThru | ForEach-Object {{ $_.State.ToString() }}").ThrowOnError();
        var webhook = _fleet.Invoke(server, "Get-ReleaseWebhook -Name audit | ForEach-Object { '{0} {1}' -f $_.HasSecret, $_.Url }").ThrowOnError();

        var outputs = moved.Output.Where(o => o.TypeNames[0] == "ReleaseTools.ReleaseStoreBackup").ToList();
        Assert.Equal(2, outputs.Count);
        Assert.All(outputs, o => Assert.Equal((4, 1L, 1L, 1L), ((int)o.Properties["FormatVersion"].Value, (long)o.Properties["Releases"].Value,
            (long)o.Properties["Webhooks"].Value, (long)o.Properties["WebhookDeliveries"].Value)));
        Assert.Equal(
            _fleet.Invoke(sqlite, show).ThrowOnError().Output.Select(o => o.ToString()),
            onServer.Output.Select(o => o.ToString()));
        Assert.StartsWith("PendingReview 1 create:", Assert.Single(onServer.Output).ToString());
        Assert.Equal("Approved", Assert.Single(approved.Output).ToString());
        Assert.StartsWith($"True http://127.0.0.1:{receiver.Port}/", Assert.Single(webhook.Output).ToString());

        // The restored webhook keeps its secret: the server's approval notice arrives signed, like the one sent before the move.
        var notices = receiver.Received("releasetools/T0123/B0456/token-audit");
        Assert.Equal(2, notices.Count);
        Assert.Contains("\"approve\"", notices[1].Text);
        Assert.All(notices, notice => Assert.Equal(
            "sha256=" + Convert.ToHexString(System.Security.Cryptography.HMACSHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Secret), notice.Body)).ToLowerInvariant(),
            notice.Header("X-ReleaseTools-Signature-256")));
        var everything = string.Join("\n", moved.Output.Select(o => o.ToString()).Concat(outputs.SelectMany(o => o.Properties.Select(p => p.Value?.ToString() ?? "")))
            .Concat(moved.Errors.Select(e => e.ToString())).Concat(webhook.Output.Select(o => o.ToString())));
        Assert.DoesNotContain(Secret, everything);
        Assert.DoesNotContain("token-audit", everything);
    }

    [SkippableFact]
    public void A_SQLite_store_moves_to_PostgreSQL_with_Backup_and_Restore_ReleaseStore()
    {
        var sqlite = _fleet.NewStorePath();
        var server = NewServerStore();
        var backup = Path.Combine(Path.GetDirectoryName(sqlite)!, Guid.NewGuid().ToString("N") + ".rtbackup");
        _fleet.Invoke(sqlite, "$Service = 'pgmove'\n" + RegisterFleet + """
            Get-ServiceInstance -Service pgmove | Invoke-Deployment -Version 1.0.0 -PackageUrl $V1 -ConfigPath $Config -ConfigValues @{ Level = 'info' } -Force | Out-Null
            """).ThrowOnError();

        var written = _fleet.Shell.Invoke("param($Backup, $From) Backup-ReleaseStore -Path $Backup -StorePath $From",
            new System.Collections.Hashtable { ["Backup"] = backup, ["From"] = sqlite }).ThrowOnError();
        var restored = _fleet.Shell.Invoke("param($Backup, $To) Restore-ReleaseStore -Path $Backup -Store $To -Confirm:$false",
            new System.Collections.Hashtable { ["Backup"] = backup, ["To"] = server }).ThrowOnError();
        var again = _fleet.Shell.Invoke("param($Backup, $To) Restore-ReleaseStore -Path $Backup -Store $To -Confirm:$false",
            new System.Collections.Hashtable { ["Backup"] = backup, ["To"] = server });

        var made = Assert.Single(written.Output);
        Assert.Equal("ReleaseTools.ReleaseStoreBackup", made.TypeNames[0]);
        Assert.Equal("Sqlite", made.Properties["SourceKind"].Value);
        Assert.Equal(3L, made.Properties["Instances"].Value);
        Assert.Equal(3L, made.Properties["HistoryRows"].Value);
        Assert.Equal(made.Properties["ContentDigest"].Value, Assert.Single(restored.Output).Properties["ContentDigest"].Value);
        var history = "Get-ServiceInstance -Service pgmove | Get-InstanceVersionHistory | ForEach-Object { '{0} {1} {2}' -f $_.InstanceId, $_.Version, $_.DeploymentId }";
        Assert.Equal(3, _fleet.Invoke(sqlite, history).ThrowOnError().Output.Count);
        Assert.Equal(
            _fleet.Invoke(sqlite, history).ThrowOnError().Output.Select(o => o.ToString()),
            _fleet.Invoke(server, history).ThrowOnError().Output.Select(o => o.ToString()));
        var refused = again.Terminating?.ErrorRecord ?? Assert.Single(again.Errors);
        Assert.Equal("StoreNotEmpty,ReleaseTools.Commands.RestoreReleaseStoreCommand", refused.FullyQualifiedErrorId);
    }

    [Fact]
    public void A_corrupt_backup_is_refused_with_BackupCorrupt_and_the_store_is_left_empty()
    {
        var sqlite = _fleet.NewStorePath();
        var corrupt = Path.Combine(Path.GetDirectoryName(sqlite)!, Guid.NewGuid().ToString("N") + ".rtbackup");
        Directory.CreateDirectory(Path.GetDirectoryName(corrupt)!);
        File.WriteAllBytes(corrupt, new byte[] { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3 });

        var result = _fleet.Shell.Invoke("param($Backup, $To) Restore-ReleaseStore -Path $Backup -StorePath $To -Confirm:$false",
            new System.Collections.Hashtable { ["Backup"] = corrupt, ["To"] = sqlite });

        var record = result.Terminating?.ErrorRecord ?? Assert.Single(result.Errors);
        Assert.Equal("BackupCorrupt,ReleaseTools.Commands.RestoreReleaseStoreCommand", record.FullyQualifiedErrorId);
        Assert.Equal(System.Management.Automation.ErrorCategory.InvalidData, record.CategoryInfo.Category);
        Assert.Empty(_fleet.Invoke(sqlite, "Get-ServiceInstance").ThrowOnError().Output);
    }
}
