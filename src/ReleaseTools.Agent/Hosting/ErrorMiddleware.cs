using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using ReleaseTools.Agent.Endpoints;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Floyd.Wire;

namespace ReleaseTools.Agent.Hosting;

/// <summary>Turns every refusal into the protocol's JSON error body and counts requests and rejections.</summary>
public sealed class ErrorMiddleware
{
    private static readonly HashSet<string> KnownPaths = new(StringComparer.Ordinal)
    {
        FloydProtocol.HealthPath, FloydProtocol.PingPath, FloydProtocol.PackagePath, FloydProtocol.ConfigPath,
        FloydProtocol.ActivatePath, FloydProtocol.StatusPath, FloydProtocol.MetricsPath,
    };

    private readonly RequestDelegate _next;
    private readonly ILogger<ErrorMiddleware> _logger;

    public ErrorMiddleware(RequestDelegate next, ILogger<ErrorMiddleware> logger)
    {
        _next = next;
        _logger = logger;
    }

    public async Task InvokeAsync(HttpContext context, AgentMetrics metrics)
    {
        // Only the protocol's own paths become label values: a scanner probing random paths must not grow the metrics.
        var path = (context.Request.Path.Value ?? "").ToLowerInvariant();
        var endpoint = KnownPaths.Contains(path) ? path : "other";
        try
        {
            await _next(context);
            if (context.Response.StatusCode is StatusCodes.Status404NotFound or StatusCodes.Status405MethodNotAllowed && !context.Response.HasStarted)
            {
                await RejectAsync(context, metrics, new FloydRejection(context.Response.StatusCode, FloydErrorCodes.NotFound,
                    $"No Floyd endpoint {context.Request.Method} {context.Request.Path}."));
            }
        }
        catch (FloydRejection rejection)
        {
            await RejectAsync(context, metrics, rejection);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await RejectAsync(context, metrics, new FloydRejection(StatusCodes.Status413PayloadTooLarge, FloydErrorCodes.BodyTooLarge,
                "The body is larger than this agent accepts."));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status408RequestTimeout)
        {
            // The server's own message names its setting (MinRequestBodyDataRate); say what happened instead.
            var rate = context.Features.Get<IHttpMinRequestBodyDataRateFeature>()?.MinDataRate;
            await RejectAsync(context, metrics, new FloydRejection(StatusCodes.Status408RequestTimeout, FloydErrorCodes.RequestTimeout,
                "The request body arrived too slowly" + (rate == null ? "" : $" (under {rate.BytesPerSecond:0} bytes a second after the first {rate.GracePeriod.TotalSeconds:0} s)") +
                "; nothing was stored. Send it again."));
        }
        catch (BadHttpRequestException ex)
        {
            // The server's messages for broken framing ("Bad chunk size data.", "Unexpected end of request content.") name no types.
            await RejectAsync(context, metrics, new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.InvalidRequest, ex.Message));
        }
        catch (InvalidDataException ex)
        {
            // MultipartReader's way of saying the body is not the multipart it claims to be.
            await RejectAsync(context, metrics, new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.MultipartMalformed, ex.Message));
        }
        catch (Exception ex) when (context.RequestAborted.IsCancellationRequested && ex is OperationCanceledException or IOException)
        {
            _logger.LogWarning("The client of {Method} {Path} went away before the request completed", context.Request.Method, context.Request.Path);
            metrics.Rejections.WithLabels("client_aborted").Inc();
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Unexpected failure in {Method} {Path}", context.Request.Method, context.Request.Path);
            await RejectAsync(context, metrics, new FloydRejection(StatusCodes.Status500InternalServerError, FloydErrorCodes.InternalError,
                "The agent failed unexpectedly; see its log."));
        }
        finally
        {
            metrics.Requests.WithLabels(endpoint, context.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
        }
    }

    private async Task RejectAsync(HttpContext context, AgentMetrics metrics, FloydRejection rejection)
    {
        metrics.Rejections.WithLabels(rejection.ErrorCode).Inc();
        _logger.LogWarning("Rejected {Method} {Path} with {Status} {ErrorCode}: {Reason}",
            context.Request.Method, context.Request.Path, rejection.StatusCode, rejection.ErrorCode, rejection.Message);
        if (context.Response.HasStarted)
        {
            context.Abort();
            return;
        }

        context.Response.Clear();
        if (context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true)
        {
            // The body may be unread, and the agent reads no more of a refused request than its limit allowed: the
            // connection closes after this answer, so the client does not send its next request into a closed socket.
            context.Response.Headers.Connection = "close";
        }

        await FloydEndpoints.WriteAsync(context, rejection.StatusCode, new ErrorBody { Error = rejection.ErrorCode, Message = rejection.Message, Activation = rejection.Activation });
    }
}
