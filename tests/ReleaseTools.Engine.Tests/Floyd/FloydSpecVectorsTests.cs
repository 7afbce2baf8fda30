using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Floyd.Wire;
using ReleaseTools.Engine.Tests.Agent;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Floyd;

/// <summary>
/// The test vectors of docs/floyd-protocol.md section 9, read from the document itself so the published text and
/// what the code does cannot drift apart.
/// </summary>
public sealed class FloydSpecVectorsTests
{
    private static readonly Lazy<SpecVectors> Vectors = new(SpecVectors.Load);

    public static IEnumerable<object[]> SignatureVectorNames() => SpecVectors.Load().Signatures.Select(v => new object[] { v.Name });

    public static IEnumerable<object[]> FVersionVectorIndexes() => SpecVectors.Load().FVersions.Select((_, i) => new object[] { i });

    [Fact]
    public void The_spec_has_at_least_three_signature_vectors_covering_both_algorithms_and_three_fversion_vectors()
    {
        Assert.True(Vectors.Value.Signatures.Count >= 3);
        Assert.Contains(Vectors.Value.Signatures, v => v.Algorithm == "sha1");
        Assert.Contains(Vectors.Value.Signatures, v => v.Algorithm == "sha256");
        Assert.True(Vectors.Value.FVersions.Count >= 3);
        Assert.Contains(Vectors.Value.FVersions, v => v.Md5Base64Url.StartsWith('-'));
    }

    [Theory]
    [MemberData(nameof(SignatureVectorNames))]
    public void Signature_vector_matches_the_signature_base_hash_and_authorization_header(string name)
    {
        var vector = Vectors.Value.Signatures.Single(v => v.Name == name);
        var algorithm = vector.Algorithm == "sha256" ? FloydHashAlgorithm.Sha256 : FloydHashAlgorithm.Sha1;
        var body = Encoding.UTF8.GetBytes(vector.BodyUtf8);
        using var key = PrivateKeyLoader.LoadFromText(Vectors.Value.KeyPem);
        var signer = new FloydRequestSigner(key, algorithm);

        var signatureBase = FloydSignatureBase.Compose(body, vector.Timestamp, vector.PathAndQuery);
        var hash = FloydSignatureBase.ComputeHash(algorithm, body, vector.Timestamp, vector.PathAndQuery);
        var authorization = signer.FormatAuthorization(signer.Sign(body, vector.Timestamp, vector.PathAndQuery));

        Assert.Equal(vector.SignatureBaseHex, Convert.ToHexStringLower(signatureBase));
        Assert.Equal(vector.HashHex, Convert.ToHexStringLower(hash));
        Assert.Equal(vector.Authorization, authorization);
    }

    [Theory]
    [MemberData(nameof(FVersionVectorIndexes))]
    public void FVersion_vector_matches(int index)
    {
        var vector = Vectors.Value.FVersions[index];

        var configMd5 = FVersion.ConfigIdentity(Encoding.UTF8.GetBytes(vector.Config));
        var layout = Encoding.UTF8.GetBytes($"{vector.Service}\n{vector.Environment}\n{vector.Version}\n{configMd5}");

        Assert.Equal(vector.ConfigMd5Hex, configMd5);
        Assert.Equal(vector.LayoutHex, Convert.ToHexStringLower(layout));
        Assert.Equal(vector.FVersion, FVersion.Compute(vector.Service, vector.Environment, vector.Version, configMd5));
        Assert.Equal(vector.Md5Base64Url.TrimStart('-'), vector.FVersion);
    }

    [Fact]
    public void The_ping_vector_body_is_exactly_what_the_client_serializes()
    {
        var vector = Vectors.Value.Signatures.Single(v => v.PathAndQuery == "/ping");
        var parsed = JsonSerializer.Deserialize<PingRequestBody>(vector.BodyUtf8, FloydJson.Options)!;

        var serialized = JsonSerializer.SerializeToUtf8Bytes(parsed, FloydJson.Options);

        Assert.Equal(vector.BodyUtf8, Encoding.UTF8.GetString(serialized));
    }

    [Fact]
    public async Task The_agent_accepts_the_1_1_ping_vector_once_when_its_clock_reads_the_vector_time_and_refuses_the_1_0_one()
    {
        var vector = Vectors.Value.Signatures.Single(v => v.Name == "ping-sha1-v11");
        var legacy = Vectors.Value.Signatures.Single(v => v.PathAndQuery == "/ping");
        FloydTimestamp.TryParse(vector.Timestamp, out var nanoseconds);
        using var key = PrivateKeyLoader.LoadFromText(Vectors.Value.KeyPem);
        var clock = new FixedTimeProvider(FloydTimestamp.ToDateTimeOffset(nanoseconds).AddSeconds(30));
        var agentId = vector.PathAndQuery.Split("agent=")[1];
        await using var harness = await AgentHarness.StartAsync(o => o with
        {
            TimeProvider = clock,
            AgentId = agentId,
            AuthorizedKeyFiles = Array.Empty<string>(),
            AuthorizedKeyPems = new[] { key.ExportSubjectPublicKeyInfoPem() },
        });
        var body = Encoding.UTF8.GetBytes(vector.BodyUtf8);

        var accepted = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri(vector.PathAndQuery), body, "application/json", (vector.Timestamp, vector.Authorization)));
        var replayed = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri(vector.PathAndQuery), body, "application/json", (vector.Timestamp, vector.Authorization)));
        var original = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, new Uri(harness.Agent.BaseUri, legacy.PathAndQuery), Encoding.UTF8.GetBytes(legacy.BodyUtf8), "application/json", (legacy.Timestamp, legacy.Authorization)));

        Assert.Equal(HttpStatusCode.OK, accepted.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, replayed.Status);
        Assert.Equal(FloydErrorCodes.SignatureReplayed, replayed.Error);
        Assert.Equal(HttpStatusCode.MisdirectedRequest, original.Status);
        Assert.Equal(FloydErrorCodes.AgentMismatch, original.Error);
    }

    [Fact]
    public async Task The_agent_verifies_the_instance_vector_for_its_instance_and_refuses_it_for_any_other()
    {
        var vector = Vectors.Value.Signatures.Single(v => v.Name == "activate-sha1-v11-instance");
        FloydTimestamp.TryParse(vector.Timestamp, out var nanoseconds);
        using var key = PrivateKeyLoader.LoadFromText(Vectors.Value.KeyPem);
        var clock = new FixedTimeProvider(FloydTimestamp.ToDateTimeOffset(nanoseconds).AddSeconds(30));
        var agentId = vector.PathAndQuery.Split("agent=")[1].Split('&')[0];
        await using var harness = await AgentHarness.StartAsync(o => o with
        {
            TimeProvider = clock,
            AgentId = agentId,
            AuthorizedKeyFiles = Array.Empty<string>(),
            AuthorizedKeyPems = new[] { key.ExportSubjectPublicKeyInfoPem() },
        });
        var body = Encoding.UTF8.GetBytes(vector.BodyUtf8);
        var otherInstance = vector.PathAndQuery.Replace("instance=port-8082", "instance=port-8081", StringComparison.Ordinal);

        var elsewhere = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri(otherInstance), body, "application/json", (vector.Timestamp, vector.Authorization)));
        var accepted = await RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, harness.Uri(vector.PathAndQuery), body, "application/json", (vector.Timestamp, vector.Authorization)));

        Assert.Contains("&instance=port-8082", vector.PathAndQuery);
        Assert.Equal((HttpStatusCode.Unauthorized, FloydErrorCodes.SignatureInvalid), (elsewhere.Status, elsewhere.Error));
        // Verified, and then refused for what it asks: the instance holds no package (nothing was pushed to it).
        Assert.Equal((HttpStatusCode.Conflict, FloydErrorCodes.PackageMissing), (accepted.Status, accepted.Error));
    }

    private sealed record SignatureVector(string Name, string Algorithm, string BodyUtf8, string Timestamp, string PathAndQuery, string SignatureBaseHex, string HashHex, string Authorization);

    private sealed record FVersionVector(string Service, string Environment, string Version, string Config, string ConfigMd5Hex, string LayoutHex, string Md5Base64Url, string FVersion);

    private sealed record SpecVectors(string KeyPem, IReadOnlyList<SignatureVector> Signatures, IReadOnlyList<FVersionVector> FVersions)
    {
        public static SpecVectors Load()
        {
            var spec = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "floyd-protocol.md"));
            var key = FencedBlockAfter(spec, "<!-- floyd-test-vectors:key -->");
            using var json = JsonDocument.Parse(FencedBlockAfter(spec, "<!-- floyd-test-vectors:json -->"));
            var options = new JsonSerializerOptions { PropertyNameCaseInsensitive = true };
            var signatures = json.RootElement.GetProperty("signatureVectors").Deserialize<List<SignatureVector>>(options)!;
            var fversions = json.RootElement.GetProperty("fversionVectors").Deserialize<List<FVersionVector>>(options)!;
            return new SpecVectors(key, signatures, fversions);
        }

        private static string FencedBlockAfter(string text, string marker)
        {
            var at = text.IndexOf(marker, StringComparison.Ordinal);
            Assert.True(at >= 0, $"docs/floyd-protocol.md lost its marker {marker}");
            var match = Regex.Match(text[at..], "```[a-z]*\\n(?<body>.*?)\\n```", RegexOptions.Singleline);
            Assert.True(match.Success, $"No fenced block after {marker}");
            return match.Groups["body"].Value;
        }
    }
}
