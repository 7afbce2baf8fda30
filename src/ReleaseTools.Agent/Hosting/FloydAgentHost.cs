using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Prometheus;
using ReleaseTools.Agent.Activation;
using ReleaseTools.Agent.Endpoints;
using ReleaseTools.Agent.Security;
using ReleaseTools.Agent.Storage;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Agent.Hosting;

/// <summary>
/// Builds and starts a Floyd agent. The command-line program and in-process tests and benchmarks use this same code;
/// <c>beforeFloyd</c> lets a test put middleware in front of the protocol (fail the first requests, add delay).
/// </summary>
public static class FloydAgentHost
{
    public static async Task<RunningFloydAgent> StartAsync(FloydAgentOptions options, Action<IApplicationBuilder>? beforeFloyd = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            throw new ArgumentException("A data directory is required (--data-dir).", nameof(options));
        }

        var keys = AuthorizedKeys.Load(options.AuthorizedKeyFiles, options.AuthorizedKeyPems);
        try
        {
            keys.RequireCanVerify(options.HashAlgorithm);
        }
        catch
        {
            keys.Dispose();
            throw;
        }

        var certificate = AgentListeners.LoadCertificate(options.TlsCertificatePath, options.TlsCertificateKeyPath, options.TlsCertificatePassword);
        var identity = AgentIdentity.Load(Path.GetFullPath(options.DataDirectory), options.AgentId);
        // Made while the agent builds; unobserved when the start fails before the rehearsal (its handle is then finalized).
        var rehearsalKey = options.RehearseOnStart && !options.IsRehearsalCopy ? StartupRehearsal.CreateKeyAsync() : null;
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = Array.Empty<string>(),
            ApplicationName = typeof(FloydAgentHost).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });

        // Under systemd: readiness notification (Type=notify) and log lines with journald priorities; as a Windows
        // service: the service control manager's start and stop. Both do nothing when run from a shell or a test.
        if (!options.IsRehearsalCopy)
        {
            builder.Host.UseSystemd();
            builder.Host.UseWindowsService(service => service.ServiceName = "FloydAgent");
        }

        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(options.MinimumLogLevel);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        if (options.ConsoleLogging && Microsoft.Extensions.Hosting.Systemd.SystemdHelpers.IsSystemdService())
        {
            builder.Logging.AddSystemdConsole(console =>
            {
                console.UseUtcTimestamp = true;
            });
        }
        else if (options.ConsoleLogging)
        {
            builder.Logging.AddSimpleConsole(console =>
            {
                console.SingleLine = true;
                console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                console.UseUtcTimestamp = true;
            });
        }

        if (!options.IsRehearsalCopy && OperatingSystem.IsWindows() && Microsoft.Extensions.Hosting.WindowsServices.WindowsServiceHelpers.IsWindowsService())
        {
            AddServiceEventLog(builder.Logging);
        }

        // Set once the services exist; the server's refusals come only after it starts.
        Action<int, string>? onServerRejection = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.RequestHeadersTimeout = options.RequestHeadersTimeout;
            var serverRejections = new ServerRejections(kestrel.Limits, (status, code) => onServerRejection?.Invoke(status, code));
            AgentListeners.Configure(kestrel, options, certificate, serverRejections);
            // The ceiling; SignatureMiddleware lowers it per request to what the request has earned (section 2.5).
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes + UploadLimits.FramingAllowance;
            kestrel.AddServerHeader = false;
        });

        // Kestrel's socket reads go into 128 KiB blocks instead of 4 KiB ones (LargeBlockMemoryPool says why).
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>, LargeBlockMemoryPool.Factory>();
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(keys);
        builder.Services.AddSingleton(identity);
        builder.Services.AddSingleton(_ => new ReplayJournal(Path.GetFullPath(options.DataDirectory)));
        builder.Services.AddSingleton(services => new ReplayCache(options.ReplayCacheCapacity, services.GetRequiredService<ReplayJournal>(), options.TimeProvider.GetUtcNow()));
        builder.Services.AddSingleton(new UploadTickets());
        builder.Services.AddSingleton<AgentMetrics>();
        builder.Services.AddSingleton<ReleaseRepository>();
        builder.Services.AddSingleton<ReleaseLayout>();
        builder.Services.AddSingleton<HookRunner>();
        builder.Services.AddSingleton<HealthGate>();
        builder.Services.AddSingleton<ReleaseActivator>();

        var app = builder.Build();
        app.Services.GetRequiredService<ReleaseRepository>().Initialize();
        // A service whose directory the agent cannot write is the operator's to fix; the agent serves the others meanwhile.
        foreach (var (service, directory, reason) in app.Services.GetRequiredService<ReleaseLayout>().UnwritableConfiguredDirectories())
        {
            app.Logger.LogError("The agent cannot write the directory {Directory} of {Service}: {Reason}. Its deployments will fail until the agent's user may write there (for example with 'install -d -o <agent user> <directory>').",
                directory, service, reason);
        }

        // Before listening: the replay memory of the previous run is back before the first request is checked.
        app.Services.GetRequiredService<ReplayCache>();
        // Before listening: a client never sees a release an interrupted activation left half switched.
        await app.Services.GetRequiredService<ReleaseActivator>().RecoverAsync(cancellationToken);
        var metrics = app.Services.GetRequiredService<AgentMetrics>();
        var rejectionLogger = app.Services.GetRequiredService<ILogger<ServerRejections>>();
        onServerRejection = (status, code) =>
        {
            metrics.Requests.WithLabels("other", status.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
            metrics.Rejections.WithLabels(code).Inc();
            rejectionLogger.LogWarning("The HTTP server refused a request before the agent's code saw it: {Status} {ErrorCode}", status, code);
        };

        app.Use((context, next) =>
        {
            // On every answer, errors included (those of test middleware too), so a client can tell a 1.1 agent from any response.
            context.Response.OnStarting(() =>
            {
                context.Response.Headers[FloydProtocol.ProtocolHeader] = FloydProtocol.Version;
                return Task.CompletedTask;
            });
            return next(context);
        });
        beforeFloyd?.Invoke(app);
        app.UseMiddleware<ErrorMiddleware>();
        app.Use((context, next) =>
        {
            // prometheus-net answers any method on its path; the protocol offers only GET (and HEAD).
            if (string.Equals(context.Request.Path.Value, FloydProtocol.MetricsPath, StringComparison.OrdinalIgnoreCase) &&
                !HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
            {
                throw new FloydRejection(StatusCodes.Status405MethodNotAllowed, FloydErrorCodes.NotFound,
                    $"No Floyd endpoint {context.Request.Method} {FloydProtocol.MetricsPath}; use GET.");
            }

            return next(context);
        });
        app.UseMiddleware<SignatureMiddleware>();
        app.UseRouting();
        FloydEndpoints.Map(app);
        app.MapMetrics(FloydProtocol.MetricsPath, metrics.Registry);

        if (rehearsalKey != null)
        {
            await StartupRehearsal.RunAsync(options, rehearsalKey, app.Logger, cancellationToken);
        }

        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? Array.Empty<string>();
        if (options.CheckHealthOnStart && !options.IsRehearsalCopy)
        {
            await StartupSelfCheck.RunAsync(addresses, certificate, app.Logger, cancellationToken);
        }

        app.Logger.LogInformation("Floyd agent {AgentId} (protocol {Protocol}) serving {DataDirectory} on {Addresses} ({Scheme})",
            identity.Id, FloydProtocol.Version, Path.GetFullPath(options.DataDirectory), string.Join(", ", addresses), FloydProtocol.SchemeFor(options.HashAlgorithm));
        return new RunningFloydAgent(app, addresses, Path.GetFullPath(options.DataDirectory), keys, identity.Id, certificate);
    }

    /// <summary>A Windows service has no console: its log goes to the Application event log, source "FloydAgent".</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("windows")]
    private static void AddServiceEventLog(ILoggingBuilder logging) =>
        logging.AddEventLog(eventLog => eventLog.SourceName = "FloydAgent");
}

/// <summary>A started agent; disposing it stops it.</summary>
public sealed class RunningFloydAgent : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly AuthorizedKeys _keys;
    private readonly System.Security.Cryptography.X509Certificates.X509Certificate2? _certificate;
    private int _disposed;

    internal RunningFloydAgent(WebApplication app, IReadOnlyList<string> addresses, string dataDirectory, AuthorizedKeys keys, string agentId,
        System.Security.Cryptography.X509Certificates.X509Certificate2? certificate)
    {
        _certificate = certificate;
        AgentId = agentId;
        _app = app;
        _keys = keys;
        Addresses = addresses;
        DataDirectory = dataDirectory;
        BaseUri = new Uri(addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) ?? addresses.First());
    }

    public IReadOnlyList<string> Addresses { get; }

    public Uri BaseUri { get; }

    public int Port => BaseUri.Port;

    public string Host => BaseUri.Host;

    public string DataDirectory { get; }

    /// <summary>The identity signed requests must name (<c>?agent=</c>).</summary>
    public string AgentId { get; }

    public AgentMetrics Metrics => _app.Services.GetRequiredService<AgentMetrics>();

    /// <summary>Completes when the host is asked to stop (SIGTERM, Ctrl+C) or <see cref="DisposeAsync"/> runs.</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _app.StopAsync(timeout.Token);
        }
        finally
        {
            await _app.DisposeAsync();
            _keys.Dispose();
            _certificate?.Dispose();
        }
    }
}
