using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Agent.Hosting;

/// <summary>
/// Before a fresh agent listens, it rehearses deployments against a private copy of itself: a second agent in this
/// process over a scratch data directory (<c>&lt;dataDir&gt;/rehearsal</c>, removed after), on an ephemeral loopback
/// port, trusting only a key made for the rehearsal that never leaves memory. It releases three versions of a service of
/// its own (a single file, a zip and a tar.gz), each as a client deploys it: health, ping with the upload ticket,
/// package push, config, activation, the verify ping, status.
/// Why: the published agent runs with tiered compilation off (docs/performance.md), so the first time a fresh process
/// runs a method it compiles it and loads its types, on the request that needs it. Paid here, that work no longer lands
/// on the first deployment an operator sends, which then costs what later ones cost (docs/performance.md, agent
/// warm-up). The real agent's keys, data directory, services and listeners are not involved: nothing the rehearsal does
/// is visible to a client, and no hook runs. It never stops the agent: a failure is logged as a warning.
/// </summary>
internal static class StartupRehearsal
{
    private const string FolderName = "rehearsal";
    private const string Service = "rehearsal";
    private const string Environment = "rehearsal";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The rehearsal's key, started on a worker thread as soon as the agent begins starting: generating an RSA-2048 key
    /// costs about as much as the rest of the rehearsal, and a random amount (50 to several hundred milliseconds), so it
    /// overlaps the agent's own start-up this way.
    /// </summary>
    public static Task<RSA> CreateKeyAsync() => Task.Run(() =>
    {
        var key = RSA.Create(2048);
        // The key is generated lazily, on its first use.
        key.ExportParameters(includePrivateParameters: false);
        return key;
    });

    public static async Task RunAsync(FloydAgentOptions options, Task<RSA> key, ILogger logger, CancellationToken cancellationToken)
    {
        var scratch = ScratchFolder(options);
        var started = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            RemoveScratch(scratch);
            Directory.CreateDirectory(scratch);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            using var rsa = await key;
            await RehearseAsync(options, rsa, scratch, timeout.Token);
            // What the copy allocated is garbage now; returned to the system, so the agent's resident set is its own.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            logger.LogInformation("Rehearsed three deployments on a private copy of the agent in {Milliseconds} ms, so that the first real one costs what later ones do (--no-rehearsal skips this).",
                started.ElapsedMilliseconds);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("The agent's start-up rehearsal of a deployment failed ({Reason}). The agent serves anyway; its first deployment will take longer.", ex.Message);
        }
        finally
        {
            try
            {
                RemoveScratch(scratch);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                logger.LogWarning("The agent could not remove its rehearsal folder {Folder}: {Reason}", scratch, ex.Message);
            }
        }
    }

    private static string ScratchFolder(FloydAgentOptions options) => Path.Combine(Path.GetFullPath(options.DataDirectory), FolderName);

    private static async Task RehearseAsync(FloydAgentOptions options, RSA key, string scratch, CancellationToken cancellationToken)
    {
        // The defaults, not the agent's own limits, clock or services: a small limit or a test's clock must not fail the
        // rehearsal. Only the hash algorithm is the agent's, so the signature code that runs is the one its clients use.
        var rehearsalOptions = new FloydAgentOptions
        {
            DataDirectory = Path.Combine(scratch, "data"),
            Urls = new[] { "http://127.0.0.1:0" },
            AuthorizedKeyPems = new[] { key.ExportSubjectPublicKeyInfoPem() },
            HashAlgorithm = options.HashAlgorithm,
            ReplayCacheCapacity = 1_000,
            IsRehearsalCopy = true,
        };

        await using var agent = await FloydAgentHost.StartAsync(rehearsalOptions, cancellationToken: cancellationToken);
        using var client = FloydClient.Create(key, new FloydClientOptions { HashAlgorithm = options.HashAlgorithm });
        var endpoint = new FloydEndpoint { InstanceId = Service, Host = agent.BaseUri.Host, Port = agent.BaseUri.Port };
        await client.CheckHealthAsync(endpoint, cancellationToken);

        var packages = Path.Combine(scratch, "packages");
        Directory.CreateDirectory(packages);
        var content = new byte[256 * 1024];
        RandomNumberGenerator.Fill(content);
        await DeployAsync(client, endpoint, "1.0.0", WriteSingleFile(packages, content), cancellationToken);
        await DeployAsync(client, endpoint, "1.0.1", WriteZip(packages, content), cancellationToken);
        await DeployAsync(client, endpoint, "1.0.2", WriteTarGzip(packages, content), cancellationToken);
        await client.GetStatusAsync(endpoint, cancellationToken);
    }

    private static async Task DeployAsync(FloydClient client, FloydEndpoint endpoint, string version, string packagePath, CancellationToken cancellationToken)
    {
        string md5;
        await using (var package = File.OpenRead(packagePath))
        {
            md5 = Convert.ToHexStringLower(await MD5.HashDataAsync(package, cancellationToken));
        }

        var config = Encoding.UTF8.GetBytes($"version: {version}\n");
        var fversion = FVersion.Compute(Service, Environment, version, FVersion.ConfigIdentity(config));
        var ping = new PingRequest
        {
            Service = Service,
            Version = version,
            FVersion = fversion,
            PackageMd5 = md5,
            PackageBytes = new FileInfo(packagePath).Length,
            Message = "start-up rehearsal",
        };

        await client.PingAsync(endpoint, ping, cancellationToken);
        await client.PushPackageAsync(endpoint, new PackagePush
        {
            Service = Service,
            Version = version,
            FVersion = fversion,
            FilePath = packagePath,
            FileName = Path.GetFileName(packagePath),
            Md5 = md5,
        }, cancellationToken);
        await client.PushConfigAsync(endpoint, new ConfigPush { Service = Service, Version = version, FVersion = fversion, FileName = "app.yaml", Content = config }, cancellationToken);
        await client.ActivateAsync(endpoint, new ActivateRequest { Service = Service, Version = version, FVersion = fversion }, cancellationToken);
        await client.PingAsync(endpoint, ping with { PackageBytes = null }, cancellationToken);
    }

    private static string WriteSingleFile(string folder, byte[] content)
    {
        var path = Path.Combine(folder, "service.bin");
        File.WriteAllBytes(path, content);
        return path;
    }

    private static string WriteZip(string folder, byte[] content)
    {
        var path = Path.Combine(folder, "service.zip");
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        using (var entry = zip.CreateEntry("bin/service.bin").Open())
        {
            entry.Write(content);
        }

        zip.CreateEntry("README").Open().Dispose();
        return path;
    }

    private static string WriteTarGzip(string folder, byte[] content)
    {
        var path = Path.Combine(folder, "service.tar.gz");
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        using var tar = new TarWriter(gzip);
        tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "bin/"));
        tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "bin/service.bin") { DataStream = new MemoryStream(content) });
        tar.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "service") { LinkName = "bin/service.bin" });
        return path;
    }

    private static void RemoveScratch(string scratch)
    {
        // As retention removes an installed release: the agent marks files read-only only through their Unix mode,
        // which does not keep their folder from being deleted.
        if (Directory.Exists(scratch))
        {
            Directory.Delete(scratch, recursive: true);
        }
    }
}
