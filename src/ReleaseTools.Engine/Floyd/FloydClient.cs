using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Floyd.Wire;

namespace ReleaseTools.Engine.Floyd
{
    /// <summary>
    /// The Floyd protocol client: every request signed with one <see cref="FloydRequestSigner"/>, sent through one
    /// HttpClient over one handler (one connection pool for every agent of the run), bounded by the per-step timeout of
    /// <see cref="FloydClientOptions"/>. A client serves one run, so the handler is not rotated as a factory would for a
    /// long-lived process; a plain client also spares every request a factory's logging handlers, and a fresh PowerShell
    /// session the dependency-injection container it would load and compile.
    /// Every failure becomes a <see cref="FloydException"/>; cancellation by the caller stays an OperationCanceledException.
    /// The RSA key stays owned by the caller.
    /// </summary>
    public sealed class FloydClient : IFloydClient, IDisposable
    {
        /// <summary>An agent's protocol as its /health said: 1.1 with an identity to bind, or the original 1.0.</summary>
        private sealed class AgentProtocol
        {
            private AgentProtocol(string version, string? agentId, bool supportsInstances)
            {
                Version = version;
                AgentId = agentId;
                SupportsInstances = supportsInstances;
            }

            /// <summary>The agent lists the feature "instances" (section 4.1): it honours <c>instance=</c> rather than ignore it.</summary>
            public bool SupportsInstances { get; }

            public string Version { get; }

            /// <summary>Null for a 1.0 agent: its requests carry no query and lose the 1.1 protections.</summary>
            public string? AgentId { get; }

            public static AgentProtocol From(HealthBody body)
            {
                var speaks11 = body.Protocol != null && System.Version.TryParse(body.Protocol, out var version) && version >= new System.Version(1, 1);
                return speaks11 && !string.IsNullOrEmpty(body.AgentId)
                    ? new AgentProtocol(body.Protocol!, body.AgentId, body.Features?.Contains(FloydProtocol.InstancesFeature) == true)
                    : new AgentProtocol("1.0", null, false);
            }
        }

        private const int MaxResponseBytes = 1024 * 1024;
        private static readonly MediaTypeHeaderValue JsonMediaType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };

        private readonly HttpClient _http;
        private readonly FloydRequestSigner _signer;
        /// <summary>What each agent (by base URI) said in /health: its identity when it speaks 1.1, null when it speaks only 1.0.</summary>
        private readonly ConcurrentDictionary<string, AgentProtocol> _protocols = new ConcurrentDictionary<string, AgentProtocol>(StringComparer.OrdinalIgnoreCase);
        /// <summary>The certificate each https agent (by scheme, host and port) is pinned to by its endpoint, when it is.</summary>
        private readonly ConcurrentDictionary<string, string> _endpointPins = new ConcurrentDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        /// <summary>Package push bodies hashed once for this client's pushes (one run), by file, MD5, name and fields.</summary>
        private readonly ConcurrentDictionary<string, Lazy<Task<PreparedPushBody>>> _preparedBodies = new ConcurrentDictionary<string, Lazy<Task<PreparedPushBody>>>(StringComparer.Ordinal);
        /// <summary>Package upload tickets a ping brought along (<see cref="PingRequest.PackageBytes"/>), by <see cref="TicketKey"/>; each is taken once.</summary>
        private readonly ConcurrentDictionary<string, string> _pingTickets = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        private int _disposed;

        private FloydClient(RSA privateKey, FloydClientOptions options)
        {
            Options = options;
            _signer = new FloydRequestSigner(privateKey, options.HashAlgorithm);

            _http = new HttpClient(CreateHandler(options, _endpointPins), disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        }

        public FloydClientOptions Options { get; }

        private static HttpClientHandler CreateHandler(FloydClientOptions options, ConcurrentDictionary<string, string> endpointPins)
        {
            var handler = new HttpClientHandler
            {
                AllowAutoRedirect = false,
                UseCookies = false,
                AutomaticDecompression = System.Net.DecompressionMethods.None,
            };
            var pins = AgentCertificatePins.From(options.TrustedAgentCertificates);
            // A pin (the endpoint's own, else the options') replaces chain and name checks; without one the machine's trust store decides.
            handler.ServerCertificateCustomValidationCallback = (request, certificate, _, errors) =>
                request.RequestUri != null && endpointPins.TryGetValue(request.RequestUri.GetLeftPart(UriPartial.Authority), out var pinned)
                    ? certificate != null && string.Equals(AgentCertificatePins.Fingerprint(certificate), pinned, StringComparison.Ordinal)
                    : pins.Count > 0
                        ? certificate != null && pins.Contains(AgentCertificatePins.Fingerprint(certificate))
                        : errors == System.Net.Security.SslPolicyErrors.None;

            try
            {
                // Parallel pushes to one agent share this pool; the per-step timeouts bound each request instead.
                handler.MaxConnectionsPerServer = Math.Max(1, options.MaxConnectionsPerServer);
            }
            catch (PlatformNotSupportedException)
            {
                // Older .NET Framework handlers size the pool through ServicePointManager instead; keep their default.
            }

            return handler;
        }

        public static FloydClient Create(RSA privateKey, FloydClientOptions? options = null)
        {
            if (privateKey == null) throw new ArgumentNullException(nameof(privateKey));
            return new FloydClient(privateKey, options ?? new FloydClientOptions());
        }

        public async Task<AgentHealth> CheckHealthAsync(FloydEndpoint endpoint, CancellationToken cancellationToken)
        {
            // /health is unsigned by design (load balancers probe it), so no signature is made here.
            var uri = BuildUri(endpoint, FloydStep.Health, FloydProtocol.HealthPath);
            RememberPin(endpoint, uri);
            var text = await ExchangeAsync(endpoint, FloydStep.Health, Options.HealthTimeout,
                () => new HttpRequestMessage(HttpMethod.Get, uri), cancellationToken).ConfigureAwait(false);
            var body = Deserialize<HealthBody>(endpoint, FloydStep.Health, text);
            var protocol = AgentProtocol.From(body);
            _protocols[endpoint.BaseUri.ToString()] = protocol;
            return new AgentHealth
            {
                Healthy = string.Equals(body.Status, "ok", StringComparison.Ordinal),
                AgentVersion = body.AgentVersion,
                ProtocolVersion = protocol.Version,
                AgentId = protocol.AgentId,
                SupportsInstances = protocol.SupportsInstances,
            };
        }

        /// <summary>
        /// The signed request target for <paramref name="path"/>. To a 1.1 agent it names the agent (and, for a push,
        /// the multipart boundary and its upload ticket) in the query, which the signature covers; to an agent of the
        /// original protocol it is the bare path, as that protocol defines.
        /// </summary>
        private async Task<Uri> SignedTargetAsync(FloydEndpoint endpoint, FloydStep step, TimeSpan stepTimeout, string path, string? boundary, CancellationToken cancellationToken)
        {
            var protocol = await ProtocolOfAsync(endpoint, step, stepTimeout, cancellationToken).ConfigureAwait(false);
            return SignedTarget(endpoint, step, protocol, path, boundary, null);
        }

        private static Uri SignedTarget(FloydEndpoint endpoint, FloydStep step, AgentProtocol protocol, string path, string? boundary, string? ticket)
        {
            var baseUri = BuildUri(endpoint, step, path);
            if (protocol.AgentId == null)
            {
                return baseUri;
            }

            var query = FloydProtocol.AgentQueryParameter + "=" + Uri.EscapeDataString(protocol.AgentId);
            // /status answers for every instance of the agent, so it names none.
            if (endpoint.AgentInstance != null && path != FloydProtocol.StatusPath)
            {
                query += "&" + FloydProtocol.InstanceQueryParameter + "=" + Uri.EscapeDataString(endpoint.AgentInstance);
            }

            if (boundary != null)
            {
                query += "&" + FloydProtocol.BoundaryQueryParameter + "=" + Uri.EscapeDataString(boundary);
            }

            if (ticket != null)
            {
                query += "&" + FloydProtocol.TicketQueryParameter + "=" + Uri.EscapeDataString(ticket);
            }

            return new UriBuilder(baseUri) { Query = query }.Uri;
        }

        /// <summary>Every request to an endpoint starts at health or here, so its pin is known before its TLS handshake.</summary>
        private void RememberPin(FloydEndpoint endpoint, Uri uri)
        {
            if (endpoint.UseTls && endpoint.TrustedCertificate != null)
            {
                _endpointPins[uri.GetLeftPart(UriPartial.Authority)] = AgentCertificatePins.Normalize(endpoint.TrustedCertificate)
                    ?? throw LocalFailure(endpoint, FloydStep.Health, $"'{endpoint.TrustedCertificate}' is not a SHA-256 certificate fingerprint", null);
            }
        }

        /// <summary>What the agent's /health said, learnt once per client and agent (part of the step, within its time).</summary>
        private async Task<AgentProtocol> ProtocolOfAsync(FloydEndpoint endpoint, FloydStep step, TimeSpan stepTimeout, CancellationToken cancellationToken)
        {
            // First, so an instance whose host no URL can carry fails as unaddressable before its base URI is formed.
            var health = BuildUri(endpoint, step, FloydProtocol.HealthPath);
            RememberPin(endpoint, health);
            if (!_protocols.TryGetValue(endpoint.BaseUri.ToString(), out var protocol))
            {
                var timeout = stepTimeout < Options.HealthTimeout ? stepTimeout : Options.HealthTimeout;
                var text = await ExchangeAsync(endpoint, step, timeout,
                    () => new HttpRequestMessage(HttpMethod.Get, health), cancellationToken).ConfigureAwait(false);
                protocol = AgentProtocol.From(Deserialize<HealthBody>(endpoint, step, text));
                _protocols[endpoint.BaseUri.ToString()] = protocol;
            }

            if (endpoint.AgentInstance != null && !protocol.SupportsInstances)
            {
                // Such an agent ignores instance= and would act on the service's default instance instead: never send it.
                throw new FloydException(endpoint.InstanceId, step,
                    $"Floyd {Describe(step)} to {Where(endpoint)} was not sent: the instance is agent instance '{endpoint.AgentInstance}', but the agent " +
                    $"(protocol {protocol.Version}) does not announce support for several instances of a service, so it would deploy over the service's " +
                    "default instance. Upgrade the agent to one that lists 'instances' in the features of /health, or register the instance without -AgentInstance if it is the agent's only instance.",
                    agentErrorCode: FloydErrorCodes.AgentInstancesUnsupported);
            }

            return protocol;
        }

        /// <summary>
        /// Protocol 1.1, section 2.5: a signed ping reserves the push (its endpoint, release, file MD5 and size), so the
        /// agent reads no push body that no key holder asked for. Null when the agent issues no tickets.
        /// </summary>
        private async Task<string?> RequestUploadTicketAsync(FloydEndpoint endpoint, FloydStep step, TimeSpan timeout, string path,
            string service, string version, string fversion, string md5Hex, long bytes, CancellationToken cancellationToken)
        {
            var body = new PingRequestBody
            {
                Service = service,
                Version = version,
                FVersion = fversion,
                Message = $"ReleaseTools upload ticket for {path}",
                Upload = new UploadRequestBody { Path = path, Md5 = md5Hex, Bytes = bytes },
            };
            var text = await SendJsonAsync(endpoint, step, timeout, FloydProtocol.PingPath, body, cancellationToken).ConfigureAwait(false);
            return Deserialize<PingResponseBody>(endpoint, step, text).UploadTicket;
        }

        public async Task<PingResponse> PingAsync(FloydEndpoint endpoint, PingRequest request, CancellationToken cancellationToken)
        {
            if (request == null) throw new ArgumentNullException(nameof(request));
            var body = new PingRequestBody
            {
                Service = request.Service,
                Version = request.Version,
                FVersion = request.FVersion,
                PackageMd5 = string.IsNullOrEmpty(request.PackageMd5) ? null : request.PackageMd5,
                Message = request.Message,
            };
            // A package push usually follows this ping: a 1.1 agent can issue its ticket now (section 2.5), which saves the
            // push a signed round trip of its own. A 1.0 agent knows no `upload` member, so it is never sent one.
            string? ticketKey = null;
            if (request.PackageBytes is long packageBytes && packageBytes >= 0 && body.PackageMd5 != null &&
                (await ProtocolOfAsync(endpoint, FloydStep.Ping, Options.PingTimeout, cancellationToken).ConfigureAwait(false)).AgentId != null)
            {
                var md5 = body.PackageMd5.Trim().ToLowerInvariant();
                body.Upload = new UploadRequestBody { Path = FloydProtocol.PackagePath, Md5 = md5, Bytes = packageBytes };
                ticketKey = TicketKey(endpoint, FloydProtocol.PackagePath, request.Service, request.Version, request.FVersion, md5, packageBytes);
            }

            string text;
            try
            {
                text = await SendJsonAsync(endpoint, FloydStep.Ping, Options.PingTimeout, FloydProtocol.PingPath, body, cancellationToken).ConfigureAwait(false);
            }
            catch (FloydException ex) when (ticketKey != null && ex.AgentErrorCode == FloydErrorCodes.BodyTooLarge)
            {
                // The package is over this agent's limit. That is the push's failure, not the ping's: the agent may hold
                // the package already and need no push at all, so ask once more without the ticket.
                body.Upload = null;
                ticketKey = null;
                text = await SendJsonAsync(endpoint, FloydStep.Ping, Options.PingTimeout, FloydProtocol.PingPath, body, cancellationToken).ConfigureAwait(false);
            }

            var response = Deserialize<PingResponseBody>(endpoint, FloydStep.Ping, text);
            if (ticketKey != null && !string.IsNullOrEmpty(response.UploadTicket))
            {
                _pingTickets[ticketKey] = response.UploadTicket!;
            }

            return new PingResponse
            {
                NeedPackage = response.NeedPackage,
                NeedConfig = response.NeedConfig,
                CurrentVersion = response.CurrentVersion,
                CurrentFVersion = response.CurrentFVersion,
            };
        }

        Task IFloydClient.PushPackageAsync(FloydEndpoint endpoint, PackagePush push, CancellationToken cancellationToken) =>
            PushPackageAsync(endpoint, push, cancellationToken);

        /// <summary>Streams the package file to the agent; the result says whether the agent already held those bytes.</summary>
        public async Task<PackagePushResult> PushPackageAsync(FloydEndpoint endpoint, PackagePush push, CancellationToken cancellationToken)
        {
            if (push == null) throw new ArgumentNullException(nameof(push));
            long length;
            try
            {
                length = new FileInfo(push.FilePath).Length;
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is ArgumentException || ex is NotSupportedException)
            {
                throw LocalFailure(endpoint, FloydStep.Package, $"cannot read the package file '{push.FilePath}': {ex.Message}", ex);
            }

            var fileName = string.IsNullOrEmpty(push.FileName) ? Path.GetFileName(push.FilePath) : push.FileName!;
            var text = await SendMultipartAsync(endpoint, FloydStep.Package, Options.PackageTimeout, FloydProtocol.PackagePath,
                push.Service, push.Version, push.FVersion, fileName, length, () => new FileStream(push.FilePath, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true),
                push.Md5, cancellationToken, push.OnBytesSent,
                SharedBodyKey(push.FilePath, length, push.Md5, fileName, Fields(push.Service, push.Version, push.FVersion)),
                push.Md5ComputedFromFile ? Packages.Md5Hex.ToBytes(push.Md5) : null).ConfigureAwait(false);
            var receipt = Deserialize<PackageReceiptBody>(endpoint, FloydStep.Package, text);
            return new PackagePushResult { Md5 = receipt.Md5 ?? "", Bytes = receipt.Bytes, AlreadyStored = receipt.AlreadyStored };
        }

        public async Task PushConfigAsync(FloydEndpoint endpoint, ConfigPush push, CancellationToken cancellationToken)
        {
            if (push == null) throw new ArgumentNullException(nameof(push));
            var content = push.Content ?? Array.Empty<byte>();
            await SendMultipartAsync(endpoint, FloydStep.Config, Options.ConfigTimeout, FloydProtocol.ConfigPath,
                push.Service, push.Version, push.FVersion, push.FileName, content.Length, () => new MemoryStream(content, writable: false),
                null, cancellationToken).ConfigureAwait(false);
        }

        public async Task<ActivationResult> ActivateAsync(FloydEndpoint endpoint, ActivateRequest request, CancellationToken cancellationToken)
        {
            if (request == null) throw new ArgumentNullException(nameof(request));
            var body = new ActivateRequestBody { Service = request.Service, Version = request.Version, FVersion = request.FVersion, Reactivate = request.Reactivate };
            var text = await SendJsonAsync(endpoint, FloydStep.Activate, Options.ActivateTimeout, FloydProtocol.ActivatePath, body, cancellationToken).ConfigureAwait(false);
            var response = Deserialize<ActivateResponseBody>(endpoint, FloydStep.Activate, text);
            return new ActivationResult
            {
                HealthCheck = response.HealthCheck,
                PreviousVersion = response.PreviousVersion,
                Hooks = (response.Hooks ?? new List<HookReportBody>()).Select(h => new HookRun
                {
                    Stage = h.Stage ?? "",
                    Source = h.Source ?? "",
                    ExitCode = h.ExitCode,
                    TimedOut = h.TimedOut,
                    Duration = TimeSpan.FromMilliseconds(h.DurationMs),
                    Output = h.Output ?? "",
                }).ToList(),
            };
        }

        public async Task<AgentStatus> GetStatusAsync(FloydEndpoint endpoint, CancellationToken cancellationToken)
        {
            var uri = await SignedTargetAsync(endpoint, FloydStep.Status, Options.PingTimeout, FloydProtocol.StatusPath, null, cancellationToken).ConfigureAwait(false);
            var timestamp = FloydTimestamp.Next();
            var signature = _signer.Sign(Array.Empty<byte>(), timestamp, uri.PathAndQuery);
            var text = await ExchangeAsync(endpoint, FloydStep.Status, Options.PingTimeout, () =>
            {
                var message = new HttpRequestMessage(HttpMethod.Get, uri);
                AddSignature(message, timestamp, signature);
                return message;
            }, cancellationToken).ConfigureAwait(false);
            var status = Deserialize<StatusBody>(endpoint, FloydStep.Status, text);
            return new AgentStatus
            {
                Services = (status.Services ?? new List<ServiceStatusBody>()).Select(s => new AgentServiceStatus
                {
                    Service = s.Service ?? "",
                    Instance = s.Instance,
                    ActiveVersion = s.ActiveVersion,
                    ActiveFVersion = s.ActiveFVersion,
                    StoredVersions = (IReadOnlyList<string>?)s.StoredVersions?.ToArray() ?? Array.Empty<string>(),
                }).ToArray(),
            };
        }

        private async Task<string> SendJsonAsync<TBody>(FloydEndpoint endpoint, FloydStep step, TimeSpan timeout, string path, TBody body, CancellationToken cancellationToken)
        {
            var uri = await SignedTargetAsync(endpoint, step, timeout, path, null, cancellationToken).ConfigureAwait(false);
            var bytes = JsonSerializer.SerializeToUtf8Bytes(body, FloydJson.Options);
            var timestamp = FloydTimestamp.Next();
            var signature = _signer.Sign(bytes, timestamp, uri.PathAndQuery);
            return await ExchangeAsync(endpoint, step, timeout, () =>
            {
                var content = new ByteArrayContent(bytes);
                content.Headers.ContentType = JsonMediaType;
                var message = new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
                AddSignature(message, timestamp, signature);
                return message;
            }, cancellationToken).ConfigureAwait(false);
        }

        private async Task<string> SendMultipartAsync(FloydEndpoint endpoint, FloydStep step, TimeSpan timeout, string path,
            string service, string version, string fversion, string fileName, long fileLength, Func<Stream> openFile,
            string? expectedMd5Hex, CancellationToken cancellationToken, Action<long>? onFileBytesSent = null, string? sharedBodyKey = null,
            byte[]? md5OfFile = null)
        {
            try
            {
                return await SendMultipartOnceAsync(endpoint, step, timeout, path, service, version, fversion, fileName, fileLength, openFile,
                    expectedMd5Hex, cancellationToken, onFileBytesSent, sharedBodyKey, md5OfFile).ConfigureAwait(false);
            }
            catch (FloydException ex) when (ex.AgentErrorCode == FloydErrorCodes.UploadTicketInvalid)
            {
                // The agent forgot the ticket (it restarted, or it expired while the file was hashed): the push was refused
                // before its body was read, so asking for a new ticket and sending once more costs one ping.
                return await SendMultipartOnceAsync(endpoint, step, timeout, path, service, version, fversion, fileName, fileLength, openFile,
                    expectedMd5Hex, cancellationToken, onFileBytesSent, sharedBodyKey, md5OfFile).ConfigureAwait(false);
            }
        }

        private async Task<string> SendMultipartOnceAsync(FloydEndpoint endpoint, FloydStep step, TimeSpan timeout, string path,
            string service, string version, string fversion, string fileName, long fileLength, Func<Stream> openFile,
            string? expectedMd5Hex, CancellationToken cancellationToken, Action<long>? onFileBytesSent, string? sharedBodyKey, byte[]? md5OfFile)
        {
            var fields = Fields(service, version, fversion);
            var protocol = await ProtocolOfAsync(endpoint, step, timeout, cancellationToken).ConfigureAwait(false);
            // The body can be gigabytes, so it is never buffered: one pass streams the exact bytes that will be sent
            // (fixed boundary, file read in chunks) through the signature hash and the file's MD5; another re-reads the
            // file while writing the same bytes to the socket. Memory stays one chunk buffer whatever the package size.
            // A body shared by many pushes (sharedBodyKey: a package to every instance of a release) is hashed once per
            // client where the runtime can copy a hash state, and each push only appends its own timestamp and target.
            // The file's MD5 is computed on the way unless the caller's was taken from the file itself in this run
            // (md5OfFile): then the agent's Content-MD5 check is what refuses bytes changed since.
            FloydSignatureBase signatureBase;
            string boundary;
            byte[]? computedMd5;
            try
            {
                if (sharedBodyKey != null && ShareBodyHashes)
                {
                    var prepared = await PreparedBodyAsync(sharedBodyKey + (md5OfFile != null ? "\nmd5-of-file" : ""), fields, fileName, fileLength, openFile,
                        computeMd5: md5OfFile == null, cancellationToken).ConfigureAwait(false);
                    signatureBase = prepared.CopySignatureBase();
                    boundary = prepared.Boundary;
                    computedMd5 = prepared.FileMd5;
                }
                else
                {
                    var hashed = await HashBodyAsync(fields, fileName, fileLength, openFile, computeMd5: md5OfFile == null, cancellationToken).ConfigureAwait(false);
                    signatureBase = hashed.SignatureBase;
                    boundary = hashed.Boundary;
                    computedMd5 = hashed.FileMd5;
                }
            }
            catch (UnsendableBodyException ex)
            {
                throw LocalFailure(endpoint, step, ex.Message, ex.InnerException);
            }

            Uri uri;
            string timestamp;
            byte[] signature;
            var md5 = computedMd5 ?? md5OfFile!;
            using (signatureBase)
            {
                if (computedMd5 != null && !string.IsNullOrEmpty(expectedMd5Hex) &&
                    !string.Equals(FVersion.ToLowerHex(computedMd5), expectedMd5Hex!.Trim(), StringComparison.OrdinalIgnoreCase))
                {
                    throw new FloydException(endpoint.InstanceId, step,
                        $"Floyd {Describe(step)} to {Where(endpoint)} was not sent: the MD5 of '{fileName}' is {FVersion.ToLowerHex(md5)}, not the expected " +
                        $"{expectedMd5Hex}; the file changed after it was checked.")
                    {
                        PackageFileChanged = true,
                    };
                }

                // The request target comes last in the signature base, so the ticket (which names the MD5 just computed)
                // can be asked for after the body is hashed, and the body is still read only once to sign it.
                string? ticket = null;
                if (protocol.AgentId != null)
                {
                    var md5Hex = FVersion.ToLowerHex(md5);
                    // A ticket the instance's ping brought for exactly this file is used once; a refused one is not kept,
                    // so the second attempt (upload_ticket_invalid) asks a new one.
                    ticket = _pingTickets.TryRemove(TicketKey(endpoint, path, service, version, fversion, md5Hex, fileLength), out var fromPing)
                        ? fromPing
                        : await RequestUploadTicketAsync(endpoint, step, timeout, path, service, version, fversion, md5Hex, fileLength, cancellationToken)
                            .ConfigureAwait(false);
                }

                uri = SignedTarget(endpoint, step, protocol, path, boundary, ticket);
                // Taken after the body is hashed: hashing a large package must not eat into the agent's clock-skew window.
                timestamp = FloydTimestamp.Next();
                signature = _signer.SignHash(signatureBase.Complete(timestamp, uri.PathAndQuery));
            }

            var content = new FloydMultipartContent(fields, fileName, fileLength, openFile, boundary);
            var sent = false;
            return await ExchangeAsync(endpoint, step, timeout, () =>
            {
                if (sent)
                {
                    throw new InvalidOperationException("A multipart request is sent once.");
                }

                sent = true;
                content.Headers.ContentMD5 = md5;
                content.OnFileBytesSent = onFileBytesSent;
                var message = new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
                // The agent answers 401/413 from the headers alone; with 100-continue a rejected push sends no body.
                message.Headers.ExpectContinue = true;
                AddSignature(message, timestamp, signature);
                return message;
            }, cancellationToken, content).ConfigureAwait(false);
        }

        /// <summary>A body that cannot be signed (unreadable file, a boundary that cannot be avoided); the push names its own instance.</summary>
        private sealed class UnsendableBodyException : Exception
        {
            public UnsendableBodyException(string message, Exception? inner) : base(message, inner) { }
        }

        /// <summary>
        /// Streams the body through a new signature base and the file through MD5. The file is also searched for the
        /// boundary: if its bytes hold it, the agent would end the part there, so another boundary is drawn.
        /// </summary>
        private async Task<PreparedPushBody> HashBodyAsync(IEnumerable<KeyValuePair<string, string>> fields, string fileName,
            long fileLength, Func<Stream> openFile, bool computeMd5, CancellationToken cancellationToken)
        {
            for (var attempt = 1; ; attempt++)
            {
                FloydMultipartContent content;
                try
                {
                    content = new FloydMultipartContent(fields, fileName, fileLength, openFile, NewBoundary());
                }
                catch (ArgumentException ex)
                {
                    throw new UnsendableBodyException(ex.Message, ex);
                }

                var signatureBase = _signer.BeginSignatureBase();
                Interlocked.Increment(ref _bodiesHashed);
                using (content)
                using (var fileMd5 = computeMd5 ? IncrementalHash.CreateHash(HashAlgorithmName.MD5) : null)
                {
                    try
                    {
                        await content.WriteBodyAsync(new SignatureBaseStream(signatureBase), fileMd5 == null ? null : fileMd5.AppendData, scanForDelimiter: true,
                            cancellationToken).ConfigureAwait(false);
                        return new PreparedPushBody(content.Boundary, signatureBase, fileMd5?.GetHashAndReset());
                    }
                    catch (BoundaryInContentException) when (attempt < 5)
                    {
                        signatureBase.Dispose();
                    }
                    catch (BoundaryInContentException ex)
                    {
                        signatureBase.Dispose();
                        throw new UnsendableBodyException($"'{fileName}' contains every multipart boundary tried", ex);
                    }
                    catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException)
                    {
                        signatureBase.Dispose();
                        throw new UnsendableBodyException($"cannot read '{fileName}': {ex.Message}", ex);
                    }
                    catch
                    {
                        signatureBase.Dispose();
                        throw;
                    }
                }
            }
        }

        /// <summary>The body shared under <paramref name="key"/>, hashed by the first push that needs it; a failed or cancelled preparation is tried again by the next.</summary>
        private async Task<PreparedPushBody> PreparedBodyAsync(string key, IEnumerable<KeyValuePair<string, string>> fields,
            string fileName, long fileLength, Func<Stream> openFile, bool computeMd5, CancellationToken cancellationToken)
        {
            var lazy = _preparedBodies.GetOrAdd(key, _ => new Lazy<Task<PreparedPushBody>>(() => HashBodyAsync(fields, fileName, fileLength, openFile, computeMd5, cancellationToken)));
            try
            {
                return await lazy.Value.ConfigureAwait(false);
            }
            catch
            {
                ((ICollection<KeyValuePair<string, Lazy<Task<PreparedPushBody>>>>)_preparedBodies).Remove(new KeyValuePair<string, Lazy<Task<PreparedPushBody>>>(key, lazy));
                throw;
            }
        }

        /// <summary>What a ticket is bound to (section 2.5): the agent and its instance, the endpoint, the release and the file.</summary>
        private static string TicketKey(FloydEndpoint endpoint, string path, string service, string version, string fversion, string md5Hex, long bytes) =>
            string.Join("\n", endpoint.BaseUri.ToString(), endpoint.AgentInstance ?? "", path, service, version, fversion, md5Hex,
                bytes.ToString(System.Globalization.CultureInfo.InvariantCulture));

        /// <summary>What makes two package pushes' bodies identical: the file (by path, size and MD5), its name and the fields.</summary>
        private static string? SharedBodyKey(string filePath, long length, string? md5, string fileName, IEnumerable<KeyValuePair<string, string>> fields) =>
            string.IsNullOrEmpty(md5)
                ? null
                : string.Join("\n", new[] { Path.GetFullPath(filePath), length.ToString(System.Globalization.CultureInfo.InvariantCulture), md5!.Trim().ToLowerInvariant(), fileName }
                    .Concat(fields.Select(f => f.Key + "=" + f.Value)));

        private async Task<string> ExchangeAsync(FloydEndpoint endpoint, FloydStep step, TimeSpan timeout, Func<HttpRequestMessage> createRequest,
            CancellationToken cancellationToken, FloydMultipartContent? streamedContent = null)
        {
            ThrowIfDisposed();
            using var idle = new IdleWatch(Options.IdleTimeout);
            using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, idle.Token);
            timeoutSource.CancelAfter(timeout);
            HttpResponseMessage? response = null;
            using var request = createRequest();
            if (streamedContent != null)
            {
                streamedContent.SendCancellation = timeoutSource.Token;
                var reportSent = streamedContent.OnFileBytesSent;
                streamedContent.OnFileBytesSent = sent =>
                {
                    idle.Progress();
                    reportSent?.Invoke(sent);
                };
            }

            // An agent activating a release runs hooks and waits for a health gate before it answers, with no byte moving:
            // only the step's timeout bounds that wait. Every other step's clock runs from the start (connecting included).
            if (step != FloydStep.Activate)
            {
                idle.Progress();
            }

            try
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeoutSource.Token).ConfigureAwait(false);
                idle.Progress();
                var text = await ReadBoundedAsync(response.Content, idle.Progress, timeoutSource.Token).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    var failure = AgentFailure(endpoint, step, (int)response.StatusCode, text);
                    if (failure.AgentErrorCode == FloydErrorCodes.AgentMismatch)
                    {
                        // Another agent answers at this address now (reinstalled, or a port reused): learn it again next time.
                        _protocols.TryRemove(endpoint.BaseUri.ToString(), out _);
                    }

                    throw failure;
                }

                return text;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (OperationCanceledException ex) when (idle.Fired)
            {
                throw new FloydException(endpoint.InstanceId, step,
                    $"Floyd {Describe(step)} to {Where(endpoint)} stalled: nothing was {(response == null ? "sent or received" : "received")} for " +
                    $"{idle.Limit.TotalSeconds:0.#} s (the idle timeout){(response == null ? ", and no answer came" : " while reading the answer")}.",
                    statusCode: response == null ? (int?)null : (int)response.StatusCode, isTransient: true, isUnreachable: response == null, innerException: ex);
            }
            catch (OperationCanceledException ex)
            {
                throw new FloydException(endpoint.InstanceId, step,
                    $"Floyd {Describe(step)} to {Where(endpoint)} timed out after {timeout.TotalSeconds:0.#} s{(response == null ? " without an answer" : " while reading the answer")}.",
                    statusCode: response == null ? (int?)null : (int)response.StatusCode, isTransient: true, isUnreachable: response == null, innerException: ex);
            }
            catch (HttpRequestException ex) when (IsCertificateRefusal(ex))
            {
                // The handshake failed on our side: say which trust decided, in the user's terms, not the runtime's.
                var why = endpoint.TrustedCertificate != null
                    ? "it is not the certificate pinned for the instance (its -AgentCertificateFingerprint)"
                    : Options.TrustedAgentCertificates.Count > 0
                        ? "it is none of the pinned agent certificates"
                        : "it does not chain to a root this machine trusts, or does not name the host; pin it with Register-ServiceInstance -AgentCertificateFingerprint, or trust its CA";
                throw new FloydException(endpoint.InstanceId, step,
                    $"Floyd {Describe(step)} to {Where(endpoint)} was not sent: the agent's TLS certificate was refused: {why}",
                    isTransient: true, isUnreachable: true, innerException: ex);
            }
            catch (HttpRequestException ex)
            {
                throw new FloydException(endpoint.InstanceId, step,
                    $"Floyd {Describe(step)} to {Where(endpoint)} failed: {Innermost(ex)}",
                    statusCode: response == null ? (int?)null : (int)response.StatusCode, isTransient: true, isUnreachable: response == null, innerException: ex);
            }
            catch (IOException ex)
            {
                throw new FloydException(endpoint.InstanceId, step,
                    $"Floyd {Describe(step)} to {Where(endpoint)} broke off: {ex.Message}",
                    statusCode: response == null ? (int?)null : (int)response.StatusCode, isTransient: true, isUnreachable: response == null, innerException: ex);
            }
            finally
            {
                response?.Dispose();
            }
        }

        private static async Task<string> ReadBoundedAsync(HttpContent content, Action onChunk, CancellationToken cancellationToken)
        {
            using var stream = await content.ReadAsStreamAsync().ConfigureAwait(false);
            using var buffer = new MemoryStream();
            var chunk = new byte[8192];
            int read;
            while ((read = await stream.ReadAsync(chunk, 0, chunk.Length, cancellationToken).ConfigureAwait(false)) > 0)
            {
                onChunk();
                // An answer is a small JSON document; anything larger is cut rather than held.
                var room = MaxResponseBytes - (int)buffer.Length;
                if (room <= 0)
                {
                    break;
                }

                buffer.Write(chunk, 0, Math.Min(read, room));
            }

            return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        }

        private static FloydException AgentFailure(FloydEndpoint endpoint, FloydStep step, int status, string text)
        {
            string? code = null;
            string? agentMessage = null;
            ActivationFailureReport? activation = null;
            try
            {
                var error = JsonSerializer.Deserialize<ErrorBody>(text, FloydJson.Options);
                code = error?.Error;
                agentMessage = error?.Message;
                if (error?.Activation is { } report)
                {
                    activation = new ActivationFailureReport
                    {
                        FailedStep = report.FailedStep ?? "",
                        Detail = report.Detail ?? "",
                        Output = report.Output ?? "",
                        Reverted = report.Reverted,
                        ActiveVersion = report.ActiveVersion,
                        ActiveFVersion = report.ActiveFVersion,
                        RevertDetail = report.RevertDetail,
                    };
                }
            }
            catch (JsonException)
            {
                // Not the agent's JSON error body (a proxy page, say): keep a short excerpt as the message.
                agentMessage = text.Length > 200 ? text.Substring(0, 200) : text;
            }

            var transient = status >= 500 || status == 408 || status == 429;
            var what = code == null ? agentMessage : $"{code}: {agentMessage}";
            return new FloydException(endpoint.InstanceId, step,
                $"Floyd {Describe(step)} to {Where(endpoint)} was refused with HTTP {status}{(string.IsNullOrEmpty(what) ? "." : " (" + what + ")")}",
                statusCode: status, agentErrorCode: code, agentMessage: agentMessage, isTransient: transient) { Activation = activation };
        }

        private static T Deserialize<T>(FloydEndpoint endpoint, FloydStep step, string text) where T : class
        {
            try
            {
                var value = JsonSerializer.Deserialize<T>(text, FloydJson.Options);
                if (value != null)
                {
                    return value;
                }
            }
            catch (JsonException)
            {
            }

            throw new FloydException(endpoint.InstanceId, step,
                $"Floyd {Describe(step)} to {Where(endpoint)} returned an answer that is not the expected JSON; is a Floyd agent listening on that port?",
                statusCode: 200);
        }

        private static FloydException LocalFailure(FloydEndpoint endpoint, FloydStep step, string detail, Exception? inner) =>
            new FloydException(endpoint.InstanceId, step, $"Floyd {Describe(step)} to {Where(endpoint)} was not sent: {detail}.", innerException: inner);

        private void AddSignature(HttpRequestMessage message, string timestamp, byte[] signature)
        {
            message.Headers.TryAddWithoutValidation(FloydProtocol.TimeStampHeader, timestamp);
            message.Headers.TryAddWithoutValidation(FloydProtocol.AuthorizationHeader, _signer.FormatAuthorization(signature));
        }

        /// <summary>
        /// Whether package pushes with the same body share one hash of it: where the runtime can copy a hash state.
        /// Tests turn it off to exercise the per-push hashing older runtimes use.
        /// </summary>
        internal bool ShareBodyHashes { get; set; } = HashStateCopier.IsAvailable;

        /// <summary>How many times this client has streamed a push body through the signature hash.</summary>
        internal int BodiesHashed => Volatile.Read(ref _bodiesHashed);

        private int _bodiesHashed;

        /// <summary>Random, so no package can be built to contain it; tests replace it to force a collision.</summary>
        internal Func<string> NewBoundary { get; set; } = () => "floyd-" + Guid.NewGuid().ToString("N");

        private static Uri BuildUri(FloydEndpoint endpoint, FloydStep step, string path)
        {
            if (endpoint == null) throw new ArgumentNullException(nameof(endpoint));
            // A registry written before host names were validated may still hold one no URL can carry ("host:port"):
            // that instance cannot be addressed, which is its failure alone, never the run's.
            if (!Store.RegistrationRules.IsValidHost(endpoint.Host))
            {
                throw new FloydException(endpoint.InstanceId, step,
                    $"Instance {endpoint.InstanceId} cannot be addressed: '{endpoint.Host}' is not a host name or address. " +
                    "Register it again with Register-ServiceInstance -HostName <address> -Port <port>.", isUnreachable: true);
            }

            return new Uri(endpoint.BaseUri, path);
        }

        private static List<KeyValuePair<string, string>> Fields(string service, string version, string fversion) => new List<KeyValuePair<string, string>>
        {
            new KeyValuePair<string, string>(FloydProtocol.ServiceField, service ?? ""),
            new KeyValuePair<string, string>(FloydProtocol.VersionField, version ?? ""),
            new KeyValuePair<string, string>(FloydProtocol.FVersionField, fversion ?? ""),
        };

        private static bool IsCertificateRefusal(Exception ex)
        {
            for (var inner = ex.InnerException; inner != null; inner = inner.InnerException)
            {
                if (inner is System.Security.Authentication.AuthenticationException)
                {
                    return true;
                }
            }

            return false;
        }

        private static string Where(FloydEndpoint endpoint) => $"instance '{endpoint.InstanceId}' ({endpoint.Host}:{endpoint.Port})";

        private static string Describe(FloydStep step) => step switch
        {
            FloydStep.Health => "health check",
            FloydStep.Ping => "ping",
            FloydStep.Package => "package push",
            FloydStep.Config => "config push",
            FloydStep.Activate => "activation",
            FloydStep.Verify => "verification",
            FloydStep.Status => "status request",
            _ => step.ToString(),
        };

        private static string Innermost(Exception ex)
        {
            while (ex.InnerException != null)
            {
                ex = ex.InnerException;
            }

            return ex.Message;
        }

        private void ThrowIfDisposed()
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                throw new ObjectDisposedException(nameof(FloydClient));
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _http.Dispose();
                foreach (var prepared in _preparedBodies.Values)
                {
                    if (prepared.IsValueCreated && prepared.Value.Status == TaskStatus.RanToCompletion)
                    {
                        prepared.Value.Result.Dispose();
                    }
                }
            }
        }
    }
}
