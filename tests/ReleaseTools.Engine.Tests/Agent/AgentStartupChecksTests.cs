using System.Net;
using System.Security.Cryptography;
using ReleaseTools.Agent.Security;
using ReleaseTools.Agent.Storage;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>
/// What the agent checks before it listens (docs/agent.md, section 2): every authorized key verifies a signature with the
/// configured hash, the data directory's folders take a file, and a configured service directory the agent cannot
/// write is an error in its log.
/// </summary>
public sealed class AgentStartupChecksTests
{
    [Theory]
    [InlineData(FloydHashAlgorithm.Sha1)]
    [InlineData(FloydHashAlgorithm.Sha256)]
    public void A_real_authorized_key_passes_the_verification_check(FloydHashAlgorithm algorithm)
    {
        using var temp = new TempDirectory("startup-keys");
        using var testKeys = TestKeys.Create(temp.Path);
        using var keys = AuthorizedKeys.Load(new[] { testKeys.PublicKeyPath }, Array.Empty<string>());

        keys.RequireCanVerify(algorithm);
    }

    [Fact]
    public void A_key_the_cryptography_library_will_not_verify_with_is_refused_naming_the_key()
    {
        using var key = new ScriptedRsa(verify: () => throw new CryptographicException("digest not allowed by policy"));

        var error = Assert.Throws<InvalidOperationException>(() =>
            AuthorizedKeys.RequireCanVerify(key, "The RSA key 'PUBLIC KEY' in the authorized key file 'deploy.pub.pem'", FloydHashAlgorithm.Sha1));

        Assert.Contains("'deploy.pub.pem'", error.Message);
        Assert.Contains("cannot verify", error.Message);
        Assert.Contains("digest not allowed by policy", error.Message);
        Assert.Contains("hashAlgorithm", error.Message);
    }

    [Fact]
    public void A_key_that_accepts_a_signature_that_cannot_be_valid_is_refused()
    {
        using var key = new ScriptedRsa(verify: () => true);

        var error = Assert.Throws<InvalidOperationException>(() =>
            AuthorizedKeys.RequireCanVerify(key, "The RSA key 'PUBLIC KEY' in the authorized key file 'deploy.pub.pem'", FloydHashAlgorithm.Sha256));

        Assert.Contains("cannot be valid", error.Message);
    }

    [Fact]
    public void The_write_probe_leaves_nothing_in_the_folder_it_checks()
    {
        using var temp = new TempDirectory("startup-probe");

        Assert.Null(WriteProbe.Check(temp.Path));
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp.Path));
    }

    [Fact]
    public void The_write_probe_reports_a_directory_that_cannot_be_created()
    {
        using var temp = new TempDirectory("startup-probe");
        var file = temp.Combine("not-a-folder");
        File.WriteAllText(file, "a file where a folder of the path should be");

        Assert.Contains("is a file", WriteProbe.CheckCreatable(Path.Combine(file, "web")));
        Assert.NotNull(WriteProbe.Check(file));
        Assert.Null(WriteProbe.CheckCreatable(temp.Combine("web", "releases")));
        Assert.False(Directory.Exists(temp.Combine("web")), "checking a directory the agent would create must not create it");
    }

    [Fact]
    public async Task An_agent_whose_data_directory_is_checked_starts_with_no_probe_left_behind()
    {
        await using var harness = await AgentHarness.StartAsync();

        var leftovers = Directory.EnumerateFiles(harness.DataDirectory, ".write-probe.*", SearchOption.AllDirectories).ToList();
        Assert.Empty(leftovers);
        Assert.True(Directory.Exists(Path.Combine(harness.DataDirectory, "tmp")));
    }

    [Fact]
    public async Task A_service_directory_the_agent_cannot_create_is_an_error_at_start_and_the_agent_serves_on()
    {
        using var temp = new TempDirectory("startup-service-dir");
        using var keys = TestKeys.Create(temp.CreateDirectory("keys"));
        var blocker = temp.Combine("srv");
        File.WriteAllText(blocker, "a file where the service's parent folder should be");
        var config = temp.Combine("agent.yaml");
        File.WriteAllText(config, $"services:\n  web:\n    directory: {Path.Combine(blocker, "web")}\n");

        await using var agent = await AgentProcess.StartAsync(temp.Combine("data"), new[] { keys.PublicKeyPath }, new[] { "--config", config, "--log-level", "Warning" });

        Assert.Contains($"cannot write the directory {Path.Combine(blocker, "web")} of web", agent.RecentOutput);
        Assert.Contains("is a file", agent.RecentOutput);
        using var client = FloydClient.Create(keys.Rsa);
        var health = await client.CheckHealthAsync(new FloydEndpoint { InstanceId = "web-01", Host = "127.0.0.1", Port = agent.Port }, CancellationToken.None);
        Assert.True(health.Healthy);
    }

    /// <summary>An RSA key whose verification answers as scripted: a platform library that refuses a digest, or one that accepts anything.</summary>
    private sealed class ScriptedRsa : RSA
    {
        private readonly Func<bool> _verify;

        public ScriptedRsa(Func<bool> verify)
        {
            _verify = verify;
            LegalKeySizesValue = new[] { new KeySizes(2048, 2048, 0) };
            KeySizeValue = 2048;
        }

        public override bool VerifyHash(byte[] hash, byte[] signature, HashAlgorithmName hashAlgorithm, RSASignaturePadding padding) => _verify();

        public override RSAParameters ExportParameters(bool includePrivateParameters) => throw new NotSupportedException();

        public override void ImportParameters(RSAParameters parameters) => throw new NotSupportedException();
    }
}
