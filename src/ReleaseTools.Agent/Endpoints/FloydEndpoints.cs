using System.Reflection;
using Microsoft.AspNetCore.Http.Features;
using System.Text.Json;
using ReleaseTools.Agent.Activation;
using ReleaseTools.Agent.Hosting;
using ReleaseTools.Agent.Security;
using ReleaseTools.Agent.Storage;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Floyd.Wire;

namespace ReleaseTools.Agent.Endpoints;

/// <summary>The handlers of docs/floyd-protocol.md. Signature checks happen before them (<see cref="SignatureMiddleware"/>).</summary>
public static class FloydEndpoints
{
    private static readonly string AgentVersion =
        typeof(FloydEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion?.Split('+')[0]
        ?? typeof(FloydEndpoints).Assembly.GetName().Version?.ToString() ?? "0.0.0";

    /// <summary>The wire options, refusing a repeated key: "last one wins" would let what was logged differ from what is acted on.</summary>
    public static void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet(FloydProtocol.HealthPath, HealthAsync);
        routes.MapPost(FloydProtocol.PingPath, PingAsync);
        routes.MapPost(FloydProtocol.PackagePath, PackageAsync);
        routes.MapPost(FloydProtocol.ConfigPath, ConfigAsync);
        routes.MapPost(FloydProtocol.ActivatePath, ActivateAsync);
        routes.MapGet(FloydProtocol.StatusPath, StatusAsync);
    }

    private static Task HealthAsync(HttpContext context)
    {
        var options = context.RequestServices.GetRequiredService<FloydAgentOptions>();
        return WriteAsync(context, StatusCodes.Status200OK, new HealthBody
        {
            Status = "ok",
            AgentVersion = AgentVersion,
            HashAlgorithm = options.HashAlgorithm == FloydHashAlgorithm.Sha256 ? "sha256" : "sha1",
            Protocol = FloydProtocol.Version,
            AgentId = context.RequestServices.GetRequiredService<AgentIdentity>().Id,
            Features = new List<string> { FloydProtocol.InstancesFeature },
        });
    }

    private static async Task PingAsync(HttpContext context)
    {
        var repository = context.RequestServices.GetRequiredService<ReleaseRepository>();
        var logger = context.RequestServices.GetRequiredService<ILogger<ReleaseRepository>>();
        var body = await ReadJsonAsync<PingRequestBody>(context);
        var service = InstanceParameter.SlotOf(context, FloydNames.RequireService(body.Service));
        var version = FloydNames.RequireVersion(body.Version);
        var fversion = FloydNames.RequireFVersion(body.FVersion);
        if (body.PackageMd5 != null && !FloydNames.IsMd5Hex(body.PackageMd5))
        {
            throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.InvalidRequest, "packageMd5 must be 32 hexadecimal digits when given.");
        }

        var package = repository.GetVersion(service, version);
        var havePackage = package != null && repository.HasPackageBytes(package.PackageMd5) &&
                          (body.PackageMd5 == null || string.Equals(package.PackageMd5, body.PackageMd5, StringComparison.OrdinalIgnoreCase));
        var config = repository.GetConfig(service, fversion);
        var haveConfig = config != null && config.Version == version;
        var active = repository.GetActive(service);
        var ticket = body.Upload is { } upload ? IssueTicket(context, upload, service, version, fversion) : null;
        var message = body.Message ?? "";
        logger.LogInformation("Ping for {Service} {Version} (fversion {FVersion}): needPackage={NeedPackage} needConfig={NeedConfig}; message: {Message}",
            service, version, fversion, !havePackage, !haveConfig, message.Length > 500 ? message[..500] : message);
        await WriteAsync(context, StatusCodes.Status200OK, new PingResponseBody
        {
            NeedPackage = !havePackage,
            NeedConfig = !haveConfig,
            CurrentVersion = active?.Version,
            CurrentFVersion = active?.FVersion,
            UploadTicket = ticket?.Id,
        });
    }

    /// <summary>
    /// The ping is signed and already verified here, so it may reserve one push (section 2.5): the push must then name
    /// the ticket in its signed URI, and carry exactly these bytes for exactly this release.
    /// </summary>
    private static UploadTicket IssueTicket(HttpContext context, UploadRequestBody upload, string service, string version, string fversion)
    {
        var options = context.RequestServices.GetRequiredService<FloydAgentOptions>();
        if (upload.Path is not (FloydProtocol.PackagePath or FloydProtocol.ConfigPath))
        {
            throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.InvalidRequest,
                $"upload.path must be '{FloydProtocol.PackagePath}' or '{FloydProtocol.ConfigPath}'.");
        }

        if (upload.Md5 == null || !FloydNames.IsMd5Hex(upload.Md5) || upload.Bytes is not long bytes || bytes < 0)
        {
            throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.InvalidRequest,
                "An upload ticket needs upload.md5 (32 hexadecimal digits) and upload.bytes (the file's size, 0 or more).");
        }

        var limit = options.MaxBodyBytes;
        if (bytes > limit)
        {
            throw new FloydRejection(StatusCodes.Status413PayloadTooLarge, FloydErrorCodes.BodyTooLarge,
                $"The file is {bytes} bytes; this agent accepts at most {limit} bytes on {upload.Path} (--max-body-bytes). Nothing was sent.");
        }

        var now = options.TimeProvider.GetUtcNow();
        return context.RequestServices.GetRequiredService<UploadTickets>().Issue(upload.Path, service, version, fversion,
            upload.Md5.ToLowerInvariant(), bytes, now + options.ClockSkew, now);
    }

    private static async Task PackageAsync(HttpContext context)
    {
        var repository = context.RequestServices.GetRequiredService<ReleaseRepository>();
        var metrics = context.RequestServices.GetRequiredService<AgentMetrics>();
        var logger = context.RequestServices.GetRequiredService<ILogger<ReleaseRepository>>();
        var signed = context.Features.GetRequiredFeature<SignedRequest>();
        var expected = MultipartReceiver.Md5HexFromHeader(context.Request.Headers[FloydProtocol.ContentMd5Header].ToString())
            ?? throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.Md5HeaderInvalid,
                $"A package push needs a '{FloydProtocol.ContentMd5Header}' header with the base64 MD5 of the file.");

        var received = await MultipartReceiver.ReceiveAsync(context, repository, requireValidFileName: false, context.RequestAborted);
        using var receipt = received.Receipt;
        await signed.VerifyAsync(context.RequestAborted);
        if (!string.Equals(received.Md5Hex, expected, StringComparison.Ordinal))
        {
            logger.LogWarning("Package for {Service} {Version} rejected: MD5 {Actual} differs from Content-MD5 {Expected}",
                received.Service, received.Version, received.Md5Hex, expected);
            throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.PackageMd5Mismatch,
                $"The package received has MD5 {received.Md5Hex} but Content-MD5 says {expected}; nothing was stored. The file was damaged on the way or changed while being sent.");
        }

        var result = await repository.CommitPackageAsync(receipt, received.Version, received.Md5Hex, received.FileName, received.Bytes, context.RequestAborted);
        result.Service = received.Service;
        if (!result.AlreadyStored)
        {
            metrics.PackagesStored.Inc();
        }

        logger.LogInformation("Package {Service} {Version}: {Bytes} bytes, MD5 {Md5}, {Outcome}",
            received.Service, received.Version, received.Bytes, received.Md5Hex, result.AlreadyStored ? "already stored" : "stored");
        await WriteAsync(context, StatusCodes.Status200OK, result);
    }

    private static async Task ConfigAsync(HttpContext context)
    {
        var repository = context.RequestServices.GetRequiredService<ReleaseRepository>();
        var logger = context.RequestServices.GetRequiredService<ILogger<ReleaseRepository>>();
        var signed = context.Features.GetRequiredFeature<SignedRequest>();
        var headerValue = context.Request.Headers[FloydProtocol.ContentMd5Header].ToString();
        var expected = MultipartReceiver.Md5HexFromHeader(headerValue);
        if (!string.IsNullOrWhiteSpace(headerValue) && expected == null)
        {
            throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.Md5HeaderInvalid,
                $"The '{FloydProtocol.ContentMd5Header}' header must be the base64 of a 16-byte MD5.");
        }

        var received = await MultipartReceiver.ReceiveAsync(context, repository, requireValidFileName: true, context.RequestAborted);
        using var receipt = received.Receipt;
        await signed.VerifyAsync(context.RequestAborted);
        if (expected != null && !string.Equals(received.Md5Hex, expected, StringComparison.Ordinal))
        {
            throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.PackageMd5Mismatch,
                $"The config received has MD5 {received.Md5Hex} but Content-MD5 says {expected}; nothing was stored.");
        }

        await repository.CommitConfigAsync(receipt, received.Version, received.FVersion, received.FileName, received.Md5Hex, context.RequestAborted);
        logger.LogInformation("Config {FileName} for {Service} {Version} stored as fversion {FVersion}", received.FileName, received.Service, received.Version, received.FVersion);
        await WriteAsync(context, StatusCodes.Status200OK, new ConfigReceiptBody
        {
            Service = received.Service,
            Version = received.Version,
            FVersion = received.FVersion,
            FileName = received.FileName,
            Md5 = received.Md5Hex,
        });
    }

    private static async Task ActivateAsync(HttpContext context)
    {
        var activator = context.RequestServices.GetRequiredService<ReleaseActivator>();
        var metrics = context.RequestServices.GetRequiredService<AgentMetrics>();
        var body = await ReadJsonAsync<ActivateRequestBody>(context);
        var service = FloydNames.RequireService(body.Service);
        var slot = InstanceParameter.SlotOf(context, service);
        var version = FloydNames.RequireVersion(body.Version);
        var fversion = FloydNames.RequireFVersion(body.FVersion);
        var result = await activator.ActivateAsync(slot, version, fversion, body.Reactivate, context.RequestAborted);
        result.Service = service;
        metrics.Activations.Inc();
        await WriteAsync(context, StatusCodes.Status200OK, result);
    }

    private static Task StatusAsync(HttpContext context)
    {
        var repository = context.RequestServices.GetRequiredService<ReleaseRepository>();
        return WriteAsync(context, StatusCodes.Status200OK, repository.GetStatus());
    }

    private static async Task<T> ReadJsonAsync<T>(HttpContext context) where T : class
    {
        try
        {
            // The signature check has already read the (small) body into memory: parse that buffer as it is, which also
            // spares the first request compiling the serializer's asynchronous path.
            var body = context.Request.Body is MemoryStream buffered && buffered.TryGetBuffer(out var bytes)
                ? JsonSerializer.Deserialize<T>(bytes.AsSpan((int)buffered.Position), AgentJson.StrictWire)
                : await JsonSerializer.DeserializeAsync<T>(context.Request.Body, AgentJson.StrictWire, context.RequestAborted);
            return body ?? throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.InvalidRequest, "The body must be a JSON object.");
        }
        catch (JsonException ex)
        {
            // The serializer's own message names .NET types; say where and what to check instead.
            var where = ex.LineNumber is { } line ? $" at {ex.Path ?? "$"} (line {line + 1}, byte {ex.BytePositionInLine ?? 0})" : "";
            throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.InvalidRequest,
                $"The body is not the JSON object this request takes{where}: check the field names and types, and that no key appears twice.");
        }
    }

    public static async Task WriteAsync<T>(HttpContext context, int status, T body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        await JsonSerializer.SerializeAsync(context.Response.Body, body, AgentJson.Wire, context.RequestAborted);
    }
}
