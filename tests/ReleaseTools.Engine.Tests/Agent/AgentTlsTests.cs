using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>
/// HTTPS end to end (docs/floyd-protocol.md, section 11.4): a real agent on loopback serving a real self-signed
/// certificate, and a client that pins it by its SHA-256 fingerprint or else refuses it before sending anything.
/// </summary>
public sealed class AgentTlsTests
{
    [Fact]
    public async Task A_release_deploys_over_https_to_an_agent_whose_self_signed_certificate_is_pinned()
    {
        using var certificate = SelfSigned();
        using var files = new TempDirectory("floyd-tls");
        var pfx = files.Combine("agent.pfx");
        File.WriteAllBytes(pfx, certificate.Export(X509ContentType.Pkcs12, "agent-secret"));
        await using var harness = await AgentHarness.StartAsync(o => o with
        {
            Urls = new[] { "https://127.0.0.1:0" },
            TlsCertificatePath = pfx,
            TlsCertificatePassword = "agent-secret",
        });
        var endpoint = harness.Endpoint with { UseTls = true };
        using var client = harness.CreateClient(new FloydClientOptions
        {
            // As people copy it from 'openssl x509 -fingerprint -sha256': colons and capitals.
            TrustedAgentCertificates = new[] { string.Join(":", Convert.ToHexString(SHA256.HashData(certificate.RawData)).Chunk(2).Select(c => new string(c))) },
        });
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0");

        await release.DeployAsync(client, endpoint);

        Assert.StartsWith("https://", harness.Agent.BaseUri.ToString());
        var status = await client.GetStatusAsync(endpoint, CancellationToken.None);
        Assert.Equal("1.0.0", Assert.Single(status.Services).ActiveVersion);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_client_refuses_an_https_agent_it_neither_trusts_nor_pins_before_any_request_is_read(bool pinAnother)
    {
        using var certificate = SelfSigned();
        using var files = new TempDirectory("floyd-tls");
        var pfx = files.Combine("agent.pfx");
        File.WriteAllBytes(pfx, certificate.Export(X509ContentType.Pkcs12, (string?)null));
        await using var harness = await AgentHarness.StartAsync(o => o with { Urls = new[] { "https://127.0.0.1:0" }, TlsCertificatePath = pfx });
        using var other = SelfSigned();
        using var client = harness.CreateClient(new FloydClientOptions
        {
            TrustedAgentCertificates = pinAnother ? new[] { AgentCertificatePins.Fingerprint(other) } : Array.Empty<string>(),
        });
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0");

        var error = await Assert.ThrowsAsync<FloydException>(() => release.DeployAsync(client, harness.Endpoint with { UseTls = true }));

        Assert.Null(error.StatusCode);
        Assert.Contains("TLS certificate was refused", error.Message);
        Assert.Contains(pinAnother ? "none of the pinned agent certificates" : "does not chain to a root this machine trusts", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(harness.DataDirectory, "services")));
        Assert.Empty(harness.StoredPackageFiles());
    }

    [Fact]
    public async Task An_endpoint_s_own_pin_decides_for_that_agent_over_the_client_wide_pins()
    {
        using var certificate = SelfSigned();
        using var files = new TempDirectory("floyd-tls");
        var pfx = files.Combine("agent.pfx");
        File.WriteAllBytes(pfx, certificate.Export(X509ContentType.Pkcs12, (string?)null));
        await using var harness = await AgentHarness.StartAsync(o => o with { Urls = new[] { "https://127.0.0.1:0" }, TlsCertificatePath = pfx });
        using var other = SelfSigned();
        var release = TestRelease.Create(harness.Temp, "billing", "1.0.0");
        // The client trusts another certificate everywhere; this endpoint pins the agent's own.
        using var pinnedHere = harness.CreateClient(new FloydClientOptions { TrustedAgentCertificates = new[] { AgentCertificatePins.Fingerprint(other) } });
        using var pinnedWrong = harness.CreateClient(new FloydClientOptions { TrustedAgentCertificates = new[] { AgentCertificatePins.Fingerprint(certificate) } });
        var endpoint = harness.Endpoint with { UseTls = true };

        await release.DeployAsync(pinnedHere, endpoint with { TrustedCertificate = AgentCertificatePins.Fingerprint(certificate).ToUpperInvariant() });
        var refused = await Assert.ThrowsAsync<FloydException>(() => pinnedWrong.PingAsync(endpoint with { TrustedCertificate = AgentCertificatePins.Fingerprint(other) }, release.Ping(), CancellationToken.None));

        Assert.Equal("1.0.0", Assert.Single((await pinnedHere.GetStatusAsync(endpoint with { TrustedCertificate = AgentCertificatePins.Fingerprint(certificate) }, CancellationToken.None)).Services).ActiveVersion);
        Assert.True(refused.IsUnreachable);
        Assert.Contains("not the certificate pinned for the instance", refused.Message);
    }

    [Fact]
    public async Task The_agent_program_serves_https_with_a_pem_certificate_and_key_given_on_its_command_line()
    {
        using var key = RSA.Create(2048);
        using var certificate = SelfSigned(key);
        using var temp = new TempDirectory("floyd-tls");
        using var keys = TestKeys.Create(temp.CreateDirectory("keys"));
        var certificatePath = temp.WriteFile("tls/agent.crt", System.Text.Encoding.ASCII.GetBytes(certificate.ExportCertificatePem()));
        var keyPath = temp.WriteFile("tls/agent.key", System.Text.Encoding.ASCII.GetBytes(key.ExportPkcs8PrivateKeyPem()));

        await using var agent = await AgentProcess.StartAsync(temp.Combine("data"), new[] { keys.PublicKeyPath },
            new[] { "--urls", "https://127.0.0.1:0", "--tls-certificate", certificatePath, "--tls-certificate-key", keyPath });
        using var client = FloydClient.Create(keys.Rsa, new FloydClientOptions { TrustedAgentCertificates = new[] { AgentCertificatePins.Fingerprint(certificate) } });
        var endpoint = new FloydEndpoint { InstanceId = "tls", Host = agent.BaseUri.Host, Port = agent.BaseUri.Port, UseTls = true };

        var health = await client.CheckHealthAsync(endpoint, CancellationToken.None);
        var status = await client.GetStatusAsync(endpoint, CancellationToken.None);

        Assert.Equal("https", agent.BaseUri.Scheme);
        Assert.True(health.Healthy);
        Assert.Equal("1.1", health.ProtocolVersion);
        Assert.Empty(status.Services);
    }

    [Fact]
    public async Task An_https_address_without_a_certificate_stops_the_agent_at_start()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => AgentHarness.StartAsync(o => o with { Urls = new[] { "https://127.0.0.1:0" } }));

        Assert.Contains("--tls-certificate", error.Message);
    }

    internal static X509Certificate2 SelfSigned(RSA? key = null)
    {
        using var own = key == null ? RSA.Create(2048) : null;
        var request = new CertificateRequest("CN=floyd-agent", key ?? own!, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(new OidCollection { new("1.3.6.1.5.5.7.3.1") }, critical: false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }
}
