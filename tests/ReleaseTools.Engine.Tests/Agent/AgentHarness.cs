using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using ReleaseTools.Agent.Hosting;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Floyd.Wire;
using ReleaseTools.Testing;

namespace ReleaseTools.Engine.Tests.Agent;

/// <summary>A real Floyd agent in this process on an ephemeral loopback port, with its own temp data directory and key.</summary>
internal sealed class AgentHarness : IAsyncDisposable
{
    private AgentHarness(TempDirectory temp, TestKeys keys, RunningFloydAgent agent, FloydAgentOptions options)
    {
        Temp = temp;
        Keys = keys;
        Agent = agent;
        Options = options;
        Endpoint = new FloydEndpoint { InstanceId = "test-instance", Host = agent.Host, Port = agent.Port };
    }

    public TempDirectory Temp { get; }
    public TestKeys Keys { get; }
    public RunningFloydAgent Agent { get; }
    public FloydAgentOptions Options { get; }
    public FloydEndpoint Endpoint { get; }
    public string DataDirectory => Agent.DataDirectory;

    public static async Task<AgentHarness> StartAsync(Func<FloydAgentOptions, FloydAgentOptions>? configure = null, Action<IApplicationBuilder>? beforeFloyd = null)
    {
        var temp = new TempDirectory("floyd-agent");
        var keys = TestKeys.Create(temp.CreateDirectory("keys"));
        var options = new FloydAgentOptions
        {
            DataDirectory = temp.Combine("data"),
            AuthorizedKeyFiles = new[] { keys.PublicKeyPath },
            MinimumLogLevel = Microsoft.Extensions.Logging.LogLevel.Warning,
            // Agents hosted in the test process: the first one compiles what the rest use, so a rehearsal would only
            // cost time. Agent processes, as operators run them, rehearse (StartupRehearsalTests).
            RehearseOnStart = false,
        };
        options = configure?.Invoke(options) ?? options;
        var agent = await FloydAgentHost.StartAsync(options, beforeFloyd);
        return new AgentHarness(temp, keys, agent, options);
    }

    public FloydClient CreateClient(FloydClientOptions? options = null, RSA? key = null) =>
        FloydClient.Create(key ?? Keys.Rsa, options ?? new FloydClientOptions { HashAlgorithm = Options.HashAlgorithm });

    /// <summary>The 1.1 request target of <paramref name="path"/> for this agent (see <see cref="RawFloyd.Target"/>).</summary>
    public string Target(string path) => RawFloyd.Target(Agent.AgentId, path);

    /// <summary>The URI of <see cref="Target"/>: a bare path like <c>/ping</c> gets this agent's 1.1 query; one with a query is used as it is.</summary>
    public Uri Uri(string path) => new(Agent.BaseUri, path.Contains('?') ? path : Target(path));

    /// <summary>A POST signed over exactly <paramref name="body"/> (with this harness's key unless another is given).</summary>
    public Task<RawResponse> PostSignedAsync(string path, byte[] body, string contentType = "application/json", string? contentMd5 = null,
        RSA? key = null, string? timestamp = null, string? signedPath = null) =>
        RawFloyd.SendAsync(RawFloyd.Request(HttpMethod.Post, Uri(path), body, contentType,
            RawFloyd.Sign(key ?? Keys.Rsa, Options.HashAlgorithm, body, Uri(signedPath ?? path).PathAndQuery, timestamp), contentMd5));

    /// <summary>
    /// The 1.1 target of a push of <paramref name="file"/>, with the single-use ticket a signed ping issued for it
    /// (section 2.5); <paramref name="md5Hex"/> and <paramref name="bytes"/> ask for a ticket for other bytes instead.
    /// </summary>
    public Task<string> PushTargetAsync(string path, string service, string version, string fversion, byte[] file, string? md5Hex = null, long? bytes = null) =>
        RawFloyd.PushTargetAsync(Agent.BaseUri, Agent.AgentId, Keys.Rsa, Options.HashAlgorithm, path, service, version, fversion, file, md5Hex, bytes);

    public string[] StoredPackageFiles() => Directory.GetFiles(Path.Combine(DataDirectory, "packages"));

    public string[] IncomingFiles() => Directory.GetFiles(Path.Combine(DataDirectory, "tmp"));

    public async ValueTask DisposeAsync()
    {
        await Agent.DisposeAsync();
        Keys.Dispose();
        Temp.Dispose();
    }
}

/// <summary>A release to deploy in tests: a package file on disk and a rendered config, with its fversion.</summary>
internal sealed record TestRelease(string Service, string Environment, string Version, string PackagePath, string PackageMd5, string ConfigFileName, byte[] Config, string FVersion)
{
    public static TestRelease Create(TempDirectory temp, string service, string version, int packageBytes = 256 * 1024, string environment = "prod", string? configText = null, int seed = 0)
    {
        var bytes = new byte[packageBytes];
        new Random(HashCode.Combine(service, version, seed)).NextBytes(bytes);
        var path = temp.WriteFile($"packages/{service}-{version}-{seed}.bin", bytes);
        var config = Encoding.UTF8.GetBytes(configText ?? $"service: {service}\nversion: {version}\n");
        var fversion = global::ReleaseTools.Engine.Floyd.FVersion.Compute(service, environment, version, global::ReleaseTools.Engine.Floyd.FVersion.ConfigIdentity(config));
        return new TestRelease(service, environment, version, path, Convert.ToHexStringLower(MD5.HashData(bytes)), "app.yaml", config, fversion);
    }

    /// <summary>A release of a real package file (zip, tar.gz or any file) with its rendered config.</summary>
    public static TestRelease FromPackage(string service, string version, string packagePath, string configText, string environment = "prod", string configFileName = "app.yaml")
    {
        var config = Encoding.UTF8.GetBytes(configText);
        var fversion = global::ReleaseTools.Engine.Floyd.FVersion.Compute(service, environment, version, global::ReleaseTools.Engine.Floyd.FVersion.ConfigIdentity(config));
        return new TestRelease(service, environment, version, packagePath, Convert.ToHexStringLower(MD5.HashData(File.ReadAllBytes(packagePath))), configFileName, config, fversion);
    }

    /// <summary>The release directory the agent installs this release into.</summary>
    public string ReleaseName => $"{Version}-{FVersion}";

    /// <summary>ping → package and config if needed → activate, returning the agent's answer (verify is the caller's).</summary>
    public async Task<ActivationResult> PushAndActivateAsync(FloydClient client, FloydEndpoint endpoint, CancellationToken cancellationToken = default)
    {
        var ping = await client.PingAsync(endpoint, Ping(), cancellationToken);
        if (ping.NeedPackage) await client.PushPackageAsync(endpoint, Package, cancellationToken);
        if (ping.NeedConfig) await client.PushConfigAsync(endpoint, ConfigPush, cancellationToken);
        return await client.ActivateAsync(endpoint, Activate, cancellationToken);
    }

    public PingRequest Ping(string message = "test deployment") => new() { Service = Service, Version = Version, FVersion = FVersion, PackageMd5 = PackageMd5, Message = message };
    public PackagePush Package => new() { Service = Service, Version = Version, FVersion = FVersion, FilePath = PackagePath, Md5 = PackageMd5 };
    public ConfigPush ConfigPush => new() { Service = Service, Version = Version, FVersion = FVersion, FileName = ConfigFileName, Content = Config };
    public ActivateRequest Activate => new() { Service = Service, Version = Version, FVersion = FVersion };

    /// <summary>ping → package (if needed) → config (if needed) → activate → verify, as the engine does it.</summary>
    public async Task DeployAsync(FloydClient client, FloydEndpoint endpoint, CancellationToken cancellationToken = default)
    {
        var ping = await client.PingAsync(endpoint, Ping(), cancellationToken);
        if (ping.NeedPackage) await client.PushPackageAsync(endpoint, Package, cancellationToken);
        if (ping.NeedConfig) await client.PushConfigAsync(endpoint, ConfigPush, cancellationToken);
        await client.ActivateAsync(endpoint, Activate, cancellationToken);
        var verify = await client.PingAsync(endpoint, Ping("verify"), cancellationToken);
        if (verify.CurrentFVersion != FVersion) throw new InvalidOperationException($"Activation of {Version} did not take: agent runs {verify.CurrentFVersion}.");
    }
}

/// <summary>Hand-made signed requests, for the cases the real client refuses to produce (tampering, replays, stale clocks).</summary>
internal static class RawFloyd
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };

    public const string DefaultBoundary = "raw-boundary-1234";

    /// <summary>
    /// A protocol 1.1 request target: the path with <c>?agent=</c> naming the agent and, for the two pushes, the
    /// <see cref="DefaultBoundary"/> their <see cref="Multipart"/> bodies use.
    /// </summary>
    public static string Target(string agentId, string path, string boundary = DefaultBoundary) =>
        path + "?agent=" + agentId + (path is "/package" or "/config" ? "&boundary=" + boundary : "");

    /// <summary>Asks the agent at <paramref name="baseUri"/> for an upload ticket with a signed ping and returns the push target naming it.</summary>
    public static async Task<string> PushTargetAsync(Uri baseUri, string agentId, RSA key, FloydHashAlgorithm algorithm, string path,
        string service, string version, string fversion, byte[] file, string? md5Hex = null, long? bytes = null, string? instance = null)
    {
        var instanceQuery = instance == null ? "" : "&instance=" + instance;
        var ping = Json(new PingRequestBody
        {
            Service = service, Version = version, FVersion = fversion, Message = "raw ticket",
            Upload = new UploadRequestBody { Path = path, Md5 = md5Hex ?? Convert.ToHexStringLower(MD5.HashData(file)), Bytes = bytes ?? file.Length },
        });
        var target = Target(agentId, "/ping") + instanceQuery;
        var response = await SendAsync(Request(HttpMethod.Post, new Uri(baseUri, target), ping, "application/json", Sign(key, algorithm, ping, target)));
        if (response.Status != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"The ticket ping was refused: {(int)response.Status} {response.Text}");
        }

        var ticket = JsonSerializer.Deserialize<PingResponseBody>(response.Text, FloydJson.Options)?.UploadTicket
            ?? throw new InvalidOperationException("The agent issued no upload ticket: " + response.Text);
        return path + "?agent=" + agentId + instanceQuery + "&boundary=" + DefaultBoundary + "&ticket=" + ticket;
    }

    public static byte[] Json(object body) => JsonSerializer.SerializeToUtf8Bytes(body, FloydJson.Options);

    public static byte[] PingBody(string service, string version = "1.0.0", string fversion = "abcDEF123_-x") =>
        Json(new PingRequestBody { Service = service, Version = version, FVersion = fversion, Message = "raw" });

    public static (byte[] Body, string ContentType) Multipart(IEnumerable<(string Name, string Value)> fields, string fileName, byte[] file, string boundary = DefaultBoundary)
    {
        var stream = new MemoryStream();
        void Write(string text) => stream.Write(Encoding.UTF8.GetBytes(text));
        foreach (var (name, value) in fields)
        {
            Write($"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n");
        }

        Write($"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{fileName}\"\r\nContent-Type: application/octet-stream\r\n\r\n");
        stream.Write(file);
        Write($"\r\n--{boundary}--\r\n");
        return (stream.ToArray(), $"multipart/form-data; boundary={boundary}");
    }

    public static (byte[] Body, string ContentType) PackageBody(string service, string version, string fversion, byte[] file) =>
        Multipart(new[] { ("service", service), ("version", version), ("fversion", fversion) }, "pkg.zip", file);

    /// <summary>The headers a client would send, signed over exactly these bytes.</summary>
    public static (string TimeStamp, string Authorization) Sign(RSA key, FloydHashAlgorithm algorithm, byte[] body, string pathAndQuery, string? timestamp = null)
    {
        var signer = new FloydRequestSigner(key, algorithm);
        var ts = timestamp ?? FloydTimestamp.Next();
        return (ts, signer.FormatAuthorization(signer.Sign(body, ts, pathAndQuery)));
    }

    public static HttpRequestMessage Request(HttpMethod method, Uri uri, byte[] body, string contentType, (string TimeStamp, string Authorization)? headers, string? contentMd5 = null)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        if (contentMd5 != null) content.Headers.TryAddWithoutValidation("Content-MD5", contentMd5);
        var request = new HttpRequestMessage(method, uri) { Content = method == HttpMethod.Get ? null : content };
        if (headers is { } h)
        {
            request.Headers.TryAddWithoutValidation("TimeStamp", h.TimeStamp);
            request.Headers.TryAddWithoutValidation("Authorization", h.Authorization);
        }

        return request;
    }

    public static async Task<RawResponse> SendAsync(HttpRequestMessage request)
    {
        using (request)
        using (var response = await Http.SendAsync(request))
        {
            var text = await response.Content.ReadAsStringAsync();
            string? error = null, message = null;
            if ((int)response.StatusCode >= 400)
            {
                var body = JsonSerializer.Deserialize<ErrorBody>(text, FloydJson.Options);
                error = body?.Error;
                message = body?.Message;
            }

            return new RawResponse(response.StatusCode, error, message, text);
        }
    }

    public static string Md5Base64(byte[] bytes) => Convert.ToBase64String(MD5.HashData(bytes));
}

internal sealed record RawResponse(HttpStatusCode Status, string? Error, string? Message, string Text);

/// <summary>A clock that stands still where a test puts it.</summary>
internal sealed class FixedTimeProvider : TimeProvider
{
    public FixedTimeProvider(DateTimeOffset now) => Now = now;

    public DateTimeOffset Now { get; set; }

    public override DateTimeOffset GetUtcNow() => Now;
}
