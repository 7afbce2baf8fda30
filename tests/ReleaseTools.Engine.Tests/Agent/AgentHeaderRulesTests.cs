using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Floyd.Wire;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>
/// What docs/floyd-protocol.md settles that an earlier text left open: repeated headers, the one spelling of
/// Content-MD5, and the key forms --authorized-key takes; each provoked against a real agent on loopback.
/// </summary>
public sealed class AgentHeaderRulesTests
{
    [Theory]
    [InlineData("TimeStamp", FloydErrorCodes.SignatureMalformed, 401)]
    [InlineData("Authorization", FloydErrorCodes.SignatureMalformed, 401)]
    [InlineData("Content-MD5", FloydErrorCodes.Md5HeaderInvalid, 400)]
    public async Task A_protocol_header_sent_twice_is_refused_not_joined(string repeated, string error, int status)
    {
        await using var harness = await AgentHarness.StartAsync();
        var body = RawFloyd.PingBody("billing");
        var target = harness.Target("/ping");
        var (timestamp, authorization) = RawFloyd.Sign(harness.Keys.Rsa, FloydHashAlgorithm.Sha1, body, target);
        var headers = new List<(string, string)> { ("TimeStamp", timestamp), ("Authorization", authorization), ("Content-MD5", RawFloyd.Md5Base64(body)) };
        headers.Add(headers.First(h => h.Item1 == repeated));
        var head = $"POST {target} HTTP/1.1\r\nHost: {harness.Agent.BaseUri.Authority}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n" +
                   string.Concat(headers.Select(h => $"{h.Item1}: {h.Item2}\r\n")) + "\r\n";

        var answer = await RawSocket.ExchangeAsync(harness.Agent.BaseUri, Encoding.ASCII.GetBytes(head).Concat(body).ToArray());

        Assert.Equal(status, RawSocket.Status(answer));
        var errorBody = JsonSerializer.Deserialize<ErrorBody>(RawSocket.Body(answer), FloydJson.Options)!;
        Assert.Equal(error, errorBody.Error);
        Assert.Contains("more than once", errorBody.Message);
    }

    [Theory]
    [InlineData(" {0} ", true)]          // the one spelling, whitespace around it ignored
    [InlineData("{0}", true)]
    [InlineData("{1}", false)]           // unpadded
    [InlineData("{2}", false)]           // lowercase hex of the digest
    [InlineData("{3}", false)]           // space inside
    public async Task Content_md5_is_the_padded_standard_base64_of_the_file_part_only(string format, bool accepted)
    {
        await using var harness = await AgentHarness.StartAsync();
        var file = new byte[3000];
        new Random(7).NextBytes(file);
        var digest = MD5.HashData(file);
        var base64 = Convert.ToBase64String(digest);
        var value = string.Format(System.Globalization.CultureInfo.InvariantCulture, format,
            base64, base64.TrimEnd('='), Convert.ToHexStringLower(digest), base64[..10] + " " + base64[10..]);
        var (body, contentType) = RawFloyd.PackageBody("billing", "1.0.0", "fv1", file);

        var response = await harness.PostSignedAsync(await harness.PushTargetAsync("/package", "billing", "1.0.0", "fv1", file), body, contentType, value);

        if (accepted)
        {
            Assert.Equal(HttpStatusCode.OK, response.Status);
            Assert.Single(harness.StoredPackageFiles());
        }
        else
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.Status);
            Assert.Equal(FloydErrorCodes.Md5HeaderInvalid, response.Error);
            Assert.Empty(harness.StoredPackageFiles());
        }
    }

    [Theory]
    [InlineData("spki")]
    [InlineData("pkcs1-public")]
    [InlineData("pkcs8-private")]
    [InlineData("two-keys-with-text-between")]
    public async Task The_authorized_key_forms_the_spec_lists_are_accepted(string form)
    {
        using var key = RSA.Create(2048);
        using var other = RSA.Create(2048);
        var pem = form switch
        {
            "spki" => key.ExportSubjectPublicKeyInfoPem(),
            "pkcs1-public" => key.ExportRSAPublicKeyPem(),
            "pkcs8-private" => key.ExportPkcs8PrivateKeyPem(),
            _ => other.ExportSubjectPublicKeyInfoPem() + "\n# deployer key of the release team\n" + key.ExportSubjectPublicKeyInfoPem(),
        };
        await using var harness = await AgentHarness.StartAsync(o => o with { AuthorizedKeyFiles = Array.Empty<string>(), AuthorizedKeyPems = new[] { pem } });

        var response = await harness.PostSignedAsync("/ping", RawFloyd.PingBody("billing"), key: key);

        Assert.Equal(HttpStatusCode.OK, response.Status);
    }

    [Theory]
    [InlineData("openssh", "No PEM key found")]
    [InlineData("certificate", "not an RSA key")]
    [InlineData("encrypted-private", "not an RSA key")]
    [InlineData("ec", "not an RSA key")]
    public async Task Other_key_forms_stop_the_agent_at_start_with_a_message_naming_the_problem(string form, string expected)
    {
        using var key = RSA.Create(2048);
        var pem = form switch
        {
            "openssh" => "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 deployer@example",
            "certificate" => PemEncoding.WriteString("CERTIFICATE",
                new CertificateRequest("CN=agent", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1)).RawData),
            "encrypted-private" => key.ExportEncryptedPkcs8PrivateKeyPem("secret", new PbeParameters(PbeEncryptionAlgorithm.Aes128Cbc, HashAlgorithmName.SHA256, 1000)),
            _ => ECDsa.Create(ECCurve.NamedCurves.nistP256).ExportSubjectPublicKeyInfoPem(),
        };

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            AgentHarness.StartAsync(o => o with { AuthorizedKeyFiles = Array.Empty<string>(), AuthorizedKeyPems = new[] { pem } }));

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public async Task Health_discloses_exactly_what_section_5_1_lists()
    {
        await using var harness = await AgentHarness.StartAsync();

        var health = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Get, new Uri(harness.Agent.BaseUri, "/health"), Array.Empty<byte>(), "application/json", null));

        using var document = JsonDocument.Parse(health.Text);
        Assert.Equal(new[] { "agentId", "agentVersion", "features", "hashAlgorithm", "protocol", "status" },
            document.RootElement.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(new[] { "instances" }, document.RootElement.GetProperty("features").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal(harness.Agent.AgentId, document.RootElement.GetProperty("agentId").GetString());
    }
}
