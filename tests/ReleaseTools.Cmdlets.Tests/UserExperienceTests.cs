using System.Collections;
using System.Management.Automation;
using System.Text.RegularExpressions;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>
/// What users read and what their tab key offers: completion from a real store, verbose lines naming the store and
/// the key, and error messages that give the cause once and the fix once, against real agents.
/// </summary>
public sealed class UserExperienceTests : IClassFixture<AgentFleet>
{
    private const string RegisterFleet = """
        $i = 0
        $Ports | ForEach-Object {
            $i++
            [pscustomobject]@{ InstanceId = "$Service-0$i"; Service = $Service; Environment = $(if ($i -eq 1) { 'staging' } else { 'prod' }); Host = '127.0.0.1'; Port = $_ }
        } | Register-ServiceInstance

        """;

    private readonly AgentFleet _fleet;

    public UserExperienceTests(AgentFleet fleet) => _fleet = fleet;

    /// <summary>What TabExpansion2 offers at the end of <paramref name="line"/>, as the tab key would.</summary>
    private List<string> Complete(string line)
    {
        var result = _fleet.Shell.Invoke("param($Line) (TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches | ForEach-Object CompletionText",
            new Hashtable { ["Line"] = line }).ThrowOnError();
        return result.Output.Select(o => o.ToString()).ToList();
    }

    [Fact]
    public void Tab_completes_instance_ids_environments_deployment_ids_and_the_versions_an_instance_can_roll_back_to()
    {
        var store = _fleet.NewStorePath();
        _fleet.Invoke(store, "$Service = 'tabs'\n" + RegisterFleet + """
            Invoke-Deployment -Service tabs -Version 1.0.0 -PackageUrl $V1 -Force | Out-Null
            Invoke-Deployment -Service tabs -Version 2.0.0 -PackageUrl $V2 -Force | Out-Null
            """).ThrowOnError();
        var runs = _fleet.Invoke(store, "Get-ReleaseDeployment | ForEach-Object DeploymentId").ThrowOnError().Output.Select(o => o.ToString()).ToList();
        var at = $"-StorePath '{store}'";

        Assert.Equal(new[] { "tabs-01", "tabs-02", "tabs-03" }, Complete($"Get-ServiceInstance {at} -InstanceId "));
        Assert.Equal(new[] { "tabs-02", "tabs-03" }, Complete($"Invoke-Deployment {at} -Environment prod -InstanceId tabs-0"));
        Assert.Equal(new[] { "tabs-01" }, Complete($"Test-ServiceInstance {at} -Environment staging -InstanceId "));
        Assert.Equal(new[] { "prod", "staging" }, Complete($"Get-ServiceInstance {at} -Service tabs -Environment "));
        Assert.Equal(new[] { "prod" }, Complete($"Invoke-Rollback {at} -Environment p"));
        // Newest first, whole ids: what Get-ReleaseDeployment lists.
        Assert.Equal(runs, Complete($"Get-ReleaseDeployment {at} -DeploymentId "));
        // An instance at 2.0.0 can go back to 1.0.0 only; the file system is never offered instead.
        Assert.Equal(new[] { "1.0.0" }, Complete($"Invoke-Rollback {at} -InstanceId tabs-01 -Version "));
        // Nothing failed, so nothing can be resumed.
        Assert.Empty(Complete($"Resume-Deployment {at} -DeploymentId "));
    }

    [Fact]
    public void Resume_Deployment_completes_only_runs_that_can_be_resumed()
    {
        var store = _fleet.NewStorePath();
        var ports = new[] { _fleet.Agents[0].Port, AgentFleet.ClosedPort() };
        var failedRun = _fleet.Invoke(store, "$Service = 'tabfail'\n" + RegisterFleet + """
            @(Invoke-Deployment -Service tabfail -Version 1.0.0 -PackageUrl $V1 -RetryCount 0 -Force -ErrorAction SilentlyContinue)[0].DeploymentId
            """, ports).Output.Single().ToString();

        Assert.Equal(new[] { failedRun }, Complete($"Resume-Deployment -StorePath '{store}' -DeploymentId "));
    }

    [Fact]
    public void Completion_with_no_store_offers_nothing_and_creates_no_store()
    {
        var store = _fleet.NewStorePath();

        Assert.Empty(Complete($"Get-ServiceInstance -StorePath '{store}' -InstanceId "));
        Assert.False(File.Exists(store));
    }

    [Fact]
    public void Verbose_names_the_store_and_where_it_came_from_for_reading_cmdlets_too()
    {
        var store = _fleet.NewStorePath();
        _fleet.Invoke(store, "$Service = 'talk'\n" + RegisterFleet).ThrowOnError();

        var explicitStore = _fleet.Shell.Invoke("param($Store) Get-ServiceInstance -StorePath $Store -Verbose", new Hashtable { ["Store"] = store }).ThrowOnError();
        Assert.Contains($"Using the store '{store}' (from -StorePath).", explicitStore.Verbose);
        Assert.Contains("3 registered instance(s) matched.", explicitStore.Verbose);

        var fromEnvironment = _fleet.Shell.Invoke("""
            param($Store)
            $PSDefaultParameterValues = @{}
            $env:RELEASETOOLS_STORE = $Store
            try { Get-ReleaseDeployment -Verbose; Get-InstanceVersionHistory -InstanceId talk-01 -Verbose }
            finally { $env:RELEASETOOLS_STORE = $null }
            """, new Hashtable { ["Store"] = store }).ThrowOnError();
        Assert.Contains($"Using the store '{store}' (from the RELEASETOOLS_STORE environment variable).", fromEnvironment.Verbose);
        Assert.Contains("0 recorded run(s) matched (newest first, at most 20).", fromEnvironment.Verbose);
        Assert.Contains("talk-01: 0 history entries (at most 50).", fromEnvironment.Verbose);
    }

    [Fact]
    public void Verbose_names_the_key_file_and_the_signature_scheme_of_cmdlets_that_sign()
    {
        var store = _fleet.NewStorePath();
        _fleet.Invoke(store, "$Service = 'keys'\n" + RegisterFleet).ThrowOnError();

        var test = _fleet.Invoke(store, "Test-ServiceInstance -Service keys -Verbose").ThrowOnError();
        Assert.Contains($"Signing requests with the key '{_fleet.Keys.Pkcs8PrivateKeyPath}' (from -PrivateKeyPath).", test.Verbose);
        Assert.Contains("Signatures use Floyd-RSA-SHA1 (-SignatureAlgorithm SHA1); the agents' --hash-algorithm must match.", test.Verbose);
        Assert.Contains(test.Verbose, line => line.StartsWith("Using the store '", StringComparison.Ordinal));

        var fromEnvironment = _fleet.Shell.Invoke("""
            param($Store, $Key, $Package)
            $PSDefaultParameterValues = @{}
            $env:RELEASETOOLS_PRIVATE_KEY = $Key
            try { Invoke-Deployment -StorePath $Store -Service keys -Version 1.0.0 -PackageUrl $Package -WhatIf -Verbose }
            finally { $env:RELEASETOOLS_PRIVATE_KEY = $null }
            """, new Hashtable { ["Store"] = store, ["Key"] = _fleet.Keys.Pkcs8PrivateKeyPath, ["Package"] = _fleet.PackageV1 }).ThrowOnError();
        Assert.Contains($"Signing requests with the key '{_fleet.Keys.Pkcs8PrivateKeyPath}' (from the RELEASETOOLS_PRIVATE_KEY environment variable).", fromEnvironment.Verbose);
    }

    [Fact]
    public void An_unreachable_agent_error_gives_its_cause_once_and_its_fix_once_in_whole_sentences()
    {
        var store = _fleet.NewStorePath();
        var run = _fleet.Invoke(store, "$Service = 'down'\n" + RegisterFleet + """
            Invoke-Deployment -Service down -Version 1.0.0 -PackageUrl $V1 -RetryCount 0 -Force
            """, new[] { AgentFleet.ClosedPort() });

        var error = Assert.Single(run.Errors);
        AssertCauseOnceFixOnce(error);
        Assert.StartsWith("Deployment of down 1.0.0 to instance 'down-01' failed: The agent did not answer: Floyd ping to instance 'down-01' (127.0.0.1:", error.ErrorDetails.Message);
        Assert.EndsWith("Connection refused.", error.ErrorDetails.Message);
        Assert.StartsWith("Start the agent, or correct its address with Register-ServiceInstance", error.ErrorDetails.RecommendedAction);
        Assert.EndsWith("to retry only the instances that did not succeed.", error.ErrorDetails.RecommendedAction);
    }

    [Fact]
    public async Task A_signature_the_agent_does_not_trust_and_an_algorithm_mismatch_each_say_what_they_are()
    {
        using var directory = new TempDirectory("rt-ux-keys");
        using var otherKey = TestKeys.Create(directory.CreateDirectory("other"));
        await using var distrusting = await AgentProcess.StartAsync(directory.CreateDirectory("distrusting"), new[] { otherKey.PublicKeyPath });
        await using var sha256 = await AgentProcess.StartAsync(directory.CreateDirectory("sha256"), new[] { _fleet.Keys.PublicKeyPath }, new[] { "--hash-algorithm", "sha256" });
        var store = _fleet.NewStorePath();

        var run = _fleet.Invoke(store, "$Service = 'sign'\n" + RegisterFleet + """
            Invoke-Deployment -Service sign -Version 1.0.0 -PackageUrl $V1 -RetryCount 0 -FailureTolerance 2 -Force
            """, new[] { distrusting.Port, sha256.Port });

        Assert.Equal(2, run.Errors.Count);
        var untrusted = Assert.Single(run.Errors, e => e.TargetObject as string == "sign-01");
        Assert.StartsWith("FloydSignatureRejected,", untrusted.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.SecurityError, untrusted.CategoryInfo.Category);
        Assert.Contains("rejected the request signature", untrusted.ErrorDetails.Message);
        Assert.StartsWith("Make the agent trust the public half of the key in use", untrusted.ErrorDetails.RecommendedAction);
        AssertCauseOnceFixOnce(untrusted);

        var mismatch = Assert.Single(run.Errors, e => e.TargetObject as string == "sign-02");
        Assert.StartsWith("FloydSignatureAlgorithmMismatch,", mismatch.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.SecurityError, mismatch.CategoryInfo.Category);
        Assert.Contains("checks signatures with another hash algorithm", mismatch.ErrorDetails.Message);
        Assert.Contains("Floyd-RSA-SHA1", mismatch.ErrorDetails.Message);
        Assert.Contains("Floyd-RSA-SHA256", mismatch.ErrorDetails.Message);
        Assert.StartsWith("Pass the agent's hash algorithm with -SignatureAlgorithm", mismatch.ErrorDetails.RecommendedAction);
        AssertCauseOnceFixOnce(mismatch);
    }

    [Theory]
    [InlineData("not-a-checksum")]
    [InlineData("9e107d9d372bb6826bd81d3542a419d")]
    public void A_bad_Checksum_stops_at_once_with_a_message_of_ours_not_a_regex(string checksum)
    {
        var store = _fleet.NewStorePath();
        _fleet.Invoke(store, "$Service = 'sum'\n" + RegisterFleet).ThrowOnError();

        var run = _fleet.Invoke(store, $"Get-ServiceInstance -Service sum | Invoke-Deployment -Version 1.0.0 -PackageUrl $V1 -Checksum '{checksum}' -Force");

        // Statement-terminating, before the first piped instance is collected: nothing else was written.
        Assert.Empty(run.Output);
        var error = Assert.Single(run.Errors);
        Assert.Equal("PackageChecksumInvalid,ReleaseTools.Commands.InvokeDeploymentCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Equal(checksum, error.TargetObject);
        Assert.Equal($"The checksum '{checksum}' is not an MD5 value. Give 32 hexadecimal digits (as md5sum prints) or base64 of the 16 bytes.", error.Exception.Message);
        Assert.Empty(_fleet.Invoke(store, "Get-ReleaseDeployment").ThrowOnError().Output);
    }

    [Fact]
    public void WhatIf_of_a_resume_reads_as_one_sentence()
    {
        var store = _fleet.NewStorePath();
        var ports = new[] { _fleet.Agents[0].Port, AgentFleet.ClosedPort() };
        var failedRun = _fleet.Invoke(store, "$Service = 'again'\n" + RegisterFleet + """
            @(Invoke-Deployment -Service again -Version 1.0.0 -PackageUrl $V1 -RetryCount 0 -Force -ErrorAction SilentlyContinue)[0].DeploymentId
            """, ports).Output.Single().ToString();

        var whatIf = _fleet.Invoke(store, $"Resume-Deployment -DeploymentId {failedRun} -WhatIf").ThrowOnError();

        var said = Assert.Single(whatIf.Information, i => i.Tags.Contains("WhatIf")).MessageData.ToString();
        Assert.Equal($"Performing the operation \"Retry the 1 of its 2 instances that did not succeed\" on target \"deployment {failedRun}\".", said);
    }

    /// <summary>The message states the cause and no advice; the recommended action is one piece of advice; no sentences run together.</summary>
    private static void AssertCauseOnceFixOnce(ErrorRecord error)
    {
        var message = error.ErrorDetails.Message;
        var fix = error.ErrorDetails.RecommendedAction;
        Assert.False(string.IsNullOrWhiteSpace(fix));
        Assert.Equal(message, error.Exception.Message);
        Assert.DoesNotContain("Resume-Deployment", message);
        Assert.DoesNotMatch(@"\b(Check|Make|Start|Pass|Fix) (that|the|sure)\b", message);
        Assert.Single(Regex.Matches(fix, "Resume-Deployment"));
        // "Connection refused Check that ..." is two sentences run together.
        Assert.DoesNotMatch(@"[a-z0-9)] [A-Z][a-z]+ (that|the)\b", message);
        Assert.DoesNotContain("..", message);
        Assert.EndsWith(".", message);
    }
}
