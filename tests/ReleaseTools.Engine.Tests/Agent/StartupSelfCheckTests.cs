using System.Net;
using System.Net.Http;
using ReleaseTools.Agent.Hosting;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>At start the agent asks its own GET /health through the address it bound (StartupSelfCheck says why).</summary>
public sealed class StartupSelfCheckTests
{
    [Fact]
    public async Task A_started_agent_has_answered_its_own_health_check_once()
    {
        await using var harness = await AgentHarness.StartAsync();

        Assert.Contains("floyd_requests_total{endpoint=\"/health\",status=\"200\"} 1", await MetricsAsync(harness));
    }

    [Fact]
    public async Task The_check_can_be_switched_off()
    {
        await using var harness = await AgentHarness.StartAsync(options => options with { CheckHealthOnStart = false });

        Assert.DoesNotContain("endpoint=\"/health\"", await MetricsAsync(harness));
    }

    [Fact]
    public async Task An_agent_bound_to_every_address_checks_itself_through_loopback()
    {
        await using var harness = await AgentHarness.StartAsync(options => options with { Urls = ["http://0.0.0.0:0"] });

        Assert.Contains("floyd_requests_total{endpoint=\"/health\",status=\"200\"} 1",
            await MetricsAsync(harness, new Uri($"http://127.0.0.1:{harness.Agent.Port}/")));
    }

    [Fact]
    public async Task An_https_agent_checks_itself_against_the_certificate_it_serves()
    {
        // Self-signed and not trusted by this machine: the agent accepts it from itself because it is the one it serves.
        using var certificate = AgentTlsTests.SelfSigned();
        using var files = new ReleaseTools.Testing.TempDirectory("selfcheck-tls");
        var pfx = files.Combine("agent.pfx");
        File.WriteAllBytes(pfx, certificate.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12, "agent-secret"));
        await using var harness = await AgentHarness.StartAsync(options => options with
        {
            Urls = ["https://127.0.0.1:0"],
            TlsCertificatePath = pfx,
            TlsCertificatePassword = "agent-secret",
        });

        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true };
        Assert.Contains("floyd_requests_total{endpoint=\"/health\",status=\"200\"} 1", await MetricsAsync(harness, harness.Agent.BaseUri, handler));
    }

    private static async Task<string> MetricsAsync(AgentHarness harness, Uri? baseUri = null, HttpMessageHandler? handler = null)
    {
        using var http = handler == null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        http.Timeout = TimeSpan.FromSeconds(30);
        using var response = await http.GetAsync(new Uri(baseUri ?? harness.Agent.BaseUri, "/metrics"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }
}
