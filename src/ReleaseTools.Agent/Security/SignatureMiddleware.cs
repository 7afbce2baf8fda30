using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using ReleaseTools.Agent.Hosting;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Agent.Security;

/// <summary>
/// Checks the signature headers of every signed endpoint before any body byte is read (so a rejected push with
/// <c>Expect: 100-continue</c> never uploads), then hashes the body as it streams. JSON bodies are small: they are
/// read and verified here. Multipart handlers call <see cref="SignedRequest.VerifyAsync"/> themselves after streaming
/// the file to a temporary name, and commit only after it succeeds.
/// </summary>
public sealed class SignatureMiddleware
{
    /// <summary>
    /// Paths are exact: routing alone would also match <c>/PING</c> or <c>/config/</c>, and a variant that escaped the
    /// signature check here must never reach a handler, so every other spelling is a 404 before routing.
    /// </summary>
    private static readonly HashSet<string> UnsignedPaths = new(StringComparer.Ordinal) { FloydProtocol.HealthPath, FloydProtocol.MetricsPath };

    private static readonly HashSet<string> SignedPaths = new(StringComparer.Ordinal)
    {
        FloydProtocol.PingPath, FloydProtocol.PackagePath, FloydProtocol.ConfigPath, FloydProtocol.ActivatePath, FloydProtocol.StatusPath,
    };

    private static readonly HashSet<string> StreamedPaths = new(StringComparer.Ordinal)
    {
        FloydProtocol.PackagePath, FloydProtocol.ConfigPath,
    };

    private readonly RequestDelegate _next;

    public SignatureMiddleware(RequestDelegate next) => _next = next;

    public async Task InvokeAsync(HttpContext context, FloydAgentOptions options, AuthorizedKeys keys, AgentIdentity identity, ReplayCache replayCache,
        UploadTickets tickets, AgentMetrics metrics)
    {
        var path = context.Request.Path.Value ?? "";
        // Nothing is read of a body until the request has earned it: unsigned endpoints take none, a JSON request up to
        // MaxJsonBytes, a push only what its ticket allows. Kestrel enforces the limit on every read, its own draining
        // of an unread body included, so a refused request cannot make the agent read on.
        var bodyLimit = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        LimitBody(bodyLimit, 0);
        if (UnsignedPaths.Contains(path))
        {
            await _next(context);
            return;
        }

        if (!SignedPaths.Contains(path))
        {
            throw new FloydRejection(StatusCodes.Status404NotFound, FloydErrorCodes.NotFound,
                $"No Floyd endpoint {context.Request.Method} {Printable(path)}; paths are lowercase, without a trailing slash.");
        }

        RequireSingleHeaders(context.Request.Headers, path);
        var now = options.TimeProvider.GetUtcNow();
        var timestampText = context.Request.Headers[FloydProtocol.TimeStampHeader].ToString();
        var authorizationText = context.Request.Headers[FloydProtocol.AuthorizationHeader].ToString();
        if (string.IsNullOrEmpty(timestampText) || string.IsNullOrEmpty(authorizationText))
        {
            throw new FloydRejection(StatusCodes.Status401Unauthorized, FloydErrorCodes.SignatureMissing,
                $"Every request to {path} must carry the '{FloydProtocol.TimeStampHeader}' and '{FloydProtocol.AuthorizationHeader}' headers.");
        }

        if (!FloydAuthorization.TryParse(authorizationText, out var authorization, out var unknownScheme))
        {
            throw unknownScheme != null
                ? new FloydRejection(StatusCodes.Status401Unauthorized, FloydErrorCodes.SignatureAlgorithmMismatch,
                    $"Unknown authorization scheme '{Printable(unknownScheme)}'; this agent expects '{FloydProtocol.SchemeFor(options.HashAlgorithm)}'.")
                : new FloydRejection(StatusCodes.Status401Unauthorized, FloydErrorCodes.SignatureMalformed,
                    $"The '{FloydProtocol.AuthorizationHeader}' header must be '<scheme> <base64 signature>'.");
        }

        if (authorization!.Algorithm is { } requested && requested != options.HashAlgorithm)
        {
            throw new FloydRejection(StatusCodes.Status401Unauthorized, FloydErrorCodes.SignatureAlgorithmMismatch,
                $"The request is signed with {FloydProtocol.SchemeFor(requested)} but this agent is configured for {FloydProtocol.SchemeFor(options.HashAlgorithm)}; configure the same hash algorithm on the client and the agent.");
        }

        if (!FloydTimestamp.TryParse(timestampText, out var nanoseconds))
        {
            throw new FloydRejection(StatusCodes.Status401Unauthorized, FloydErrorCodes.TimestampInvalid,
                $"The '{FloydProtocol.TimeStampHeader}' header must be nanoseconds since the Unix epoch as decimal digits.");
        }

        var signedAt = FloydTimestamp.ToDateTimeOffset(nanoseconds);
        var offset = now - signedAt;
        if (offset.Duration() > options.ClockSkew)
        {
            throw new FloydRejection(StatusCodes.Status401Unauthorized, FloydErrorCodes.TimestampStale,
                $"The request TimeStamp is {Math.Abs(offset.TotalSeconds):0} s {(offset > TimeSpan.Zero ? "old" : "in the future")}; the agent accepts {options.ClockSkew.TotalSeconds:0} s either way. Check both clocks (NTP).");
        }

        RequireThisAgent(context, identity);
        var signatureText = Convert.ToBase64String(authorization.Signature);
        if (replayCache.HasSeen(signatureText, now))
        {
            throw new FloydRejection(StatusCodes.Status401Unauthorized, FloydErrorCodes.SignatureReplayed,
                "This exact signed request was already received; every request needs a fresh TimeStamp and signature.");
        }

        var streamed = StreamedPaths.Contains(path);
        var limit = Math.Min(options.MaxBodyBytes, options.MaxJsonBytes);
        if (streamed)
        {
            var ticket = RedeemTicket(context, path, tickets, now);
            limit = ticket.Bytes + UploadLimits.FramingAllowance;
            context.Features.Set(ticket);
        }

        if (context.Request.ContentLength is long declared && declared > limit)
        {
            throw new FloydRejection(StatusCodes.Status413PayloadTooLarge, FloydErrorCodes.BodyTooLarge,
                streamed
                    ? $"The body is {declared} bytes; its upload ticket allows {limit} (the file's {limit - UploadLimits.FramingAllowance} bytes and {UploadLimits.FramingAllowance} of framing)."
                    : $"The body is {declared} bytes; this agent accepts at most {limit} bytes on {path}.");
        }

        LimitBody(bodyLimit, limit);

        var signatureBase = new FloydSignatureBase(options.HashAlgorithm);
        var body = new HashingRequestStream(context.Request.Body, signatureBase);
        var signed = new SignedRequest(signatureBase, body, timestampText, PathAndQuery(context), authorization.Signature,
            signedAt + options.ClockSkew, keys, replayCache, options.TimeProvider);
        context.Features.Set(signed);
        try
        {
            if (!streamed)
            {
                context.Request.Body = await ReadSmallBodyAsync(body, limit, path, context.RequestAborted);
                await signed.VerifyAsync(context.RequestAborted);
            }
            else
            {
                context.Request.Body = body;
            }

            await _next(context);
        }
        finally
        {
            metrics.BytesReceived.WithLabels(path.ToLowerInvariant()).Inc(body.BytesRead);
            signed.Dispose();
        }
    }

    /// <summary>
    /// Protocol 1.1: the signed URI names the agent it is meant for, so the same signed bytes sent to another agent
    /// that trusts the same key are refused there. The check needs only the request line, so nothing is read first.
    /// </summary>
    private static void RequireThisAgent(HttpContext context, AgentIdentity identity)
    {
        var named = context.Request.Query[FloydProtocol.AgentQueryParameter];
        if (named.Count == 0)
        {
            throw new FloydRejection(StatusCodes.Status421MisdirectedRequest, FloydErrorCodes.AgentMismatch,
                $"This agent speaks Floyd protocol {FloydProtocol.Version}: a signed request must name it with '?{FloydProtocol.AgentQueryParameter}=<agentId from GET /health>' in the signed URI. Update the client.");
        }

        if (named.Count > 1 || !string.Equals(named[0], identity.Id, StringComparison.Ordinal))
        {
            throw new FloydRejection(StatusCodes.Status421MisdirectedRequest, FloydErrorCodes.AgentMismatch,
                $"The request was signed for agent '{Printable(named.ToString())}', not for this agent ('{identity.Id}'); it is refused so that a request for one instance cannot be replayed to another.");
        }
    }

    /// <summary>
    /// Protocol 1.1, section 2.5: a push is read only if it names a ticket that a signed ping issued for it. The ticket
    /// is spent here, before the body is read, so it admits one body at most, whatever becomes of it.
    /// </summary>
    private static UploadTicket RedeemTicket(HttpContext context, string path, UploadTickets tickets, DateTimeOffset now)
    {
        var named = context.Request.Query[FloydProtocol.TicketQueryParameter];
        if (named.Count != 1 || string.IsNullOrEmpty(named[0]))
        {
            throw new FloydRejection(StatusCodes.Status401Unauthorized, FloydErrorCodes.UploadTicketInvalid,
                $"A push must name, in its signed URI ('&{FloydProtocol.TicketQueryParameter}=…'), the upload ticket a signed ping issued for it (ping with 'upload'); nothing was read.");
        }

        var ticket = tickets.Redeem(named[0]!, now);
        if (ticket == null)
        {
            throw new FloydRejection(StatusCodes.Status401Unauthorized, FloydErrorCodes.UploadTicketInvalid,
                "The upload ticket is unknown, already used or expired (tickets are single-use, live for the clock-skew window and do not survive a restart of the agent); ask for a new one with a ping. Nothing was read.");
        }

        if (ticket.Path != path)
        {
            throw new FloydRejection(StatusCodes.Status401Unauthorized, FloydErrorCodes.UploadTicketInvalid,
                $"The upload ticket was issued for {ticket.Path}, not {path}; nothing was read.");
        }

        var contentMd5 = context.Request.Headers[FloydProtocol.ContentMd5Header].ToString();
        if (!string.IsNullOrWhiteSpace(contentMd5) && Endpoints.MultipartReceiver.Md5HexFromHeader(contentMd5) is { } declared && declared != ticket.Md5Hex)
        {
            throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.UploadTicketMismatch,
                $"Content-MD5 says {declared}, but the upload ticket was issued for a file with MD5 {ticket.Md5Hex}; nothing was read.");
        }

        return ticket;
    }

    /// <summary>
    /// A header the protocol reads must appear once: two values would be joined with a comma, and which of them the
    /// client meant is not for the agent to guess (docs/floyd-protocol.md, section 1).
    /// </summary>
    private static void RequireSingleHeaders(IHeaderDictionary headers, string path)
    {
        foreach (var name in new[] { FloydProtocol.TimeStampHeader, FloydProtocol.AuthorizationHeader })
        {
            if (headers[name].Count > 1)
            {
                throw new FloydRejection(StatusCodes.Status401Unauthorized, FloydErrorCodes.SignatureMalformed,
                    $"The '{name}' header appears more than once; send it once.");
            }
        }

        if (headers[FloydProtocol.ContentMd5Header].Count > 1)
        {
            throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.Md5HeaderInvalid,
                $"The '{FloydProtocol.ContentMd5Header}' header appears more than once; send it once.");
        }

        if (headers.ContentType.Count > 1)
        {
            throw new FloydRejection(StatusCodes.Status400BadRequest,
                StreamedPaths.Contains(path) ? FloydErrorCodes.MultipartMalformed : FloydErrorCodes.InvalidRequest,
                "The 'Content-Type' header appears more than once; send it once.");
        }
    }

    private static void LimitBody(IHttpMaxRequestBodySizeFeature? feature, long limit)
    {
        if (feature is { IsReadOnly: false })
        {
            feature.MaxRequestBodySize = limit;
        }
    }

    /// <summary>The request target exactly as received; it is what the client signed.</summary>
    private static string PathAndQuery(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (!string.IsNullOrEmpty(raw))
        {
            if (raw[0] == '/')
            {
                return raw;
            }

            if (Uri.TryCreate(raw, UriKind.Absolute, out var absolute))
            {
                return absolute.PathAndQuery;
            }
        }

        return context.Request.PathBase + context.Request.Path + context.Request.QueryString;
    }

    private static async Task<Stream> ReadSmallBodyAsync(Stream body, long limit, string path, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                throw new FloydRejection(StatusCodes.Status413PayloadTooLarge, FloydErrorCodes.BodyTooLarge,
                    $"The body is larger than the {limit} bytes this agent accepts on {path}.");
            }

            buffer.Write(chunk, 0, read);
        }

        buffer.Position = 0;
        return buffer;
    }

    private static string Printable(string text) => new(text.Where(c => c >= ' ' && c < 127).Take(40).ToArray());
}
