using System;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment;

namespace ReleaseTools.Engine.Packages
{
    /// <summary>
    /// Validates, downloads and caches packages. A download streams to a cache file with the MD5 computed on the
    /// way (never the whole package in memory); an expected MD5 is checked before the package is handed out, so
    /// nothing wrong is ever pushed. A URL downloaded before is fetched with a conditional request, so an unchanged
    /// package costs one round trip instead of a transfer. One instance serves a whole engine and pools its connections.
    /// </summary>
    public sealed class PackageAcquirer : IDisposable
    {
        private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(30);
        private readonly HttpClient _http;

        public PackageAcquirer(PackageCache cache, long maxPackageBytes, TimeSpan downloadTimeout)
        {
            Cache = cache ?? throw new ArgumentNullException(nameof(cache));
            MaxPackageBytes = maxPackageBytes;
            DownloadTimeout = downloadTimeout;
            // Timeouts are applied per call with a token, because HttpClient.Timeout would also cut a slow but healthy download.
            _http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = true }) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        }

        public PackageCache Cache { get; }
        public long MaxPackageBytes { get; }
        public TimeSpan DownloadTimeout { get; }

        /// <summary>
        /// Checks that the package exists and is not too large without downloading it: HEAD for a URL (servers that
        /// refuse HEAD with 401/403/405/501 are let through, the download will tell), file size for a local path.
        /// </summary>
        public async Task<PackageProbeResult> ProbeAsync(PackageLocation location, CancellationToken cancellationToken)
        {
            if (location.IsLocal)
            {
                var length = LocalFile(location).Length;
                CheckSize(location, length);
                return new PackageProbeResult { Location = location, Length = length, Checked = true };
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var limit = DownloadTimeout < ProbeTimeout ? DownloadTimeout : ProbeTimeout;
            timeout.CancelAfter(limit);
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Head, location.Url);
                using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                // Some servers refuse HEAD outright, and presigned URLs are often signed for GET only (401/403 on HEAD):
                // the download, which still comes before any push, gives the verdict then.
                if (response.StatusCode == HttpStatusCode.MethodNotAllowed || response.StatusCode == HttpStatusCode.NotImplemented ||
                    response.StatusCode == HttpStatusCode.Forbidden || response.StatusCode == HttpStatusCode.Unauthorized)
                {
                    return new PackageProbeResult { Location = location, Checked = false };
                }

                if (!response.IsSuccessStatusCode)
                {
                    throw PackageHttpErrors.FromStatus(location, response, "HEAD");
                }

                var length = response.Content.Headers.ContentLength;
                if (length.HasValue)
                {
                    CheckSize(location, length.Value);
                }

                return new PackageProbeResult { Location = location, Length = length, Checked = true };
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw PackageHttpErrors.Timeout(location, limit, "check");
            }
            catch (HttpRequestException ex)
            {
                throw PackageHttpErrors.FromTransport(location, ex, "check");
            }
        }

        /// <summary>
        /// The package on local disk: from the cache when the expected MD5 is known and cached, otherwise downloaded
        /// (or copied, for a local file) into the cache. A mismatch with the expected MD5 fails with PackageChecksumMismatch.
        /// </summary>
        /// <param name="skipContentCheck">Accept a download without an expected MD5 even when it does not look like a package (see <see cref="PackageContentCheck"/>).</param>
        public async Task<AcquiredPackage> AcquireAsync(PackageLocation location, string? expectedMd5, PackageProgressCallback? progress,
            CancellationToken cancellationToken, bool skipContentCheck = false)
        {
            var expected = NormalizeChecksum(expectedMd5);
            if (expected != null)
            {
                var cached = Cache.TryGet(location, expected);
                if (cached != null)
                {
                    var length = new FileInfo(cached).Length;
                    progress?.Invoke(length, length, true);
                    return new AcquiredPackage { Source = location.Original, FilePath = cached, Md5 = expected, Length = length, FromCache = true };
                }
            }

            if (location.IsLocal && ReuseUnchangedLocal(location, expected) is { } unchanged)
            {
                progress?.Invoke(unchanged.Length, unchanged.Length, true);
                return unchanged;
            }

            // Without an expected MD5, a URL downloaded before is asked for "only if changed": an unchanged package is not
            // transferred again (304 Not Modified), and the cached copy's MD5 stands for it.
            var known = expected == null && !location.IsLocal ? Cache.TryGetValidators(location) : null;
            var checkContent = expected == null && !skipContentCheck;
            var temporary = Cache.NewTemporaryPath(location);
            try
            {
                Download download;
                if (location.IsLocal)
                {
                    var (localMd5, localLength, stamp) = await CopyLocalAsync(location, temporary, progress, cancellationToken).ConfigureAwait(false);
                    download = new Download { Md5 = localMd5, Length = localLength, LastModified = stamp };
                }
                else
                {
                    download = await DownloadAsync(location, temporary, progress, checkContent, known, cancellationToken).ConfigureAwait(false);
                }

                if (download.NotModified)
                {
                    var cached = Cache.MarkUsed(Cache.PathFor(location, known!.Md5));
                    if (checkContent)
                    {
                        PackageContentCheck.CheckBody(location, cached, known.Length);
                    }

                    progress?.Invoke(known.Length, known.Length, true);
                    return new AcquiredPackage { Source = location.Original, FilePath = cached, Md5 = known.Md5, Length = known.Length, FromCache = true };
                }

                var md5 = download.Md5;
                if (expected != null && !string.Equals(md5, expected, StringComparison.Ordinal))
                {
                    throw new DeploymentException(EngineErrorIds.PackageChecksumMismatch, DeploymentErrorKind.InvalidData,
                        $"The package {location} has MD5 {md5}, but {expected} was expected. Nothing was pushed. Check the checksum or the package URL.",
                        location.Original);
                }

                var path = Cache.Commit(temporary, location, md5, out var moved);
                // For a local file the validators are its size and last-write time as copied (none when it was too new to trust).
                Cache.SaveValidators(location, new PackageValidators { Md5 = md5, Length = download.Length, ETag = download.ETag, LastModified = download.LastModified });
                if (moved)
                {
                    // The cache grew: packages no run used for a month go (at most once a day, whichever process trims).
                    Cache.TrimIfDue();
                }

                return new AcquiredPackage { Source = location.Original, FilePath = path, Md5 = md5, Length = download.Length, FromCache = false, Md5ComputedFromFile = moved };
            }
            finally
            {
                PackageCache.TryDelete(temporary);
            }
        }

        public void Dispose() => _http.Dispose();

        /// <summary>The expected MD5 as lowercase hex; PackageChecksumInvalid when it is not an MD5 at all.</summary>
        public static string? NormalizeChecksum(string? expectedMd5)
        {
            if (string.IsNullOrWhiteSpace(expectedMd5))
            {
                return null;
            }

            return Md5Hex.Normalize(expectedMd5) ?? throw new DeploymentException(EngineErrorIds.PackageChecksumInvalid,
                DeploymentErrorKind.InvalidArgument,
                $"The checksum '{expectedMd5}' is not an MD5 value. Give 32 hexadecimal digits (as md5sum prints) or base64 of the 16 bytes.",
                expectedMd5);
        }

        /// <summary>
        /// How long before a copy a local file must have been last written for its size and last-write time to stand for its
        /// bytes later: file systems keep that time coarsely (a few milliseconds on Linux, 2 s on FAT), so a file rewritten in
        /// the same tick as it was copied could keep both; such a file is simply copied again next time.
        /// </summary>
        private static readonly TimeSpan SettledWriteAge = TimeSpan.FromSeconds(2);

        /// <summary>
        /// The cached copy of a local file that has not changed since it was copied (same size and last-write time as then, and
        /// the expected MD5 if one is given): a redeploy of an unchanged build reads and writes nothing. Every push still
        /// hashes what it sends and checks it against this MD5, so a cache file changed behind the cache's back is never sent.
        /// </summary>
        private AcquiredPackage? ReuseUnchangedLocal(PackageLocation location, string? expected)
        {
            var known = Cache.TryGetValidators(location);
            if (known == null || (expected != null && !string.Equals(known.Md5, expected, StringComparison.Ordinal)))
            {
                return null;
            }

            var file = LocalFile(location);
            if (file.Length != known.Length || !string.Equals(LocalStamp(file), known.LastModified, StringComparison.Ordinal))
            {
                return null;
            }

            return new AcquiredPackage { Source = location.Original, FilePath = Cache.MarkUsed(Cache.PathFor(location, known.Md5)), Md5 = known.Md5, Length = known.Length, FromCache = true };
        }

        /// <summary>Copies the file with its MD5; the stamp is its last-write time when it stayed the same through the copy and had settled before it.</summary>
        private async Task<(string Md5, long Length, string? Stamp)> CopyLocalAsync(PackageLocation location, string temporary,
            PackageProgressCallback? progress, CancellationToken cancellationToken)
        {
            var file = LocalFile(location);
            CheckSize(location, file.Length);
            var before = LocalStamp(file);
            var settled = DateTime.UtcNow - file.LastWriteTimeUtc >= SettledWriteAge;
            (string Md5, long Length) copied;
            using (var source = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, useAsync: true))
            using (var destination = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true))
            {
                copied = await HashingCopier.CopyAsync(source, destination, MaxPackageBytes, location.Original, file.Length, progress, cancellationToken)
                    .ConfigureAwait(false);
            }

            file.Refresh();
            var unchanged = settled && file.Length == copied.Length && string.Equals(LocalStamp(file), before, StringComparison.Ordinal);
            return (copied.Md5, copied.Length, unchanged ? before : null);
        }

        private static string LocalStamp(FileInfo file) => file.LastWriteTimeUtc.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture);

        /// <summary>A finished download; <see cref="NotModified"/> when the server said the cached copy is still its package.</summary>
        private sealed class Download
        {
            public static readonly Download Unchanged = new Download { NotModified = true };
            public bool NotModified { get; private set; }
            public string Md5 { get; set; } = "";
            public long Length { get; set; }
            public string? ETag { get; set; }
            public string? LastModified { get; set; }
        }

        private async Task<Download> DownloadAsync(PackageLocation location, string temporary,
            PackageProgressCallback? progress, bool checkContent, PackageValidators? known, CancellationToken cancellationToken)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(DownloadTimeout);
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, location.Url);
                if (known != null)
                {
                    // Sent as the server gave them: validators are opaque, and a weak ETag is fine for a GET (RFC 9110 13.1.2).
                    if (!string.IsNullOrEmpty(known.ETag))
                    {
                        request.Headers.TryAddWithoutValidation("If-None-Match", known.ETag);
                    }

                    if (!string.IsNullOrEmpty(known.LastModified))
                    {
                        request.Headers.TryAddWithoutValidation("If-Modified-Since", known.LastModified);
                    }
                }

                using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                if (known != null && response.StatusCode == HttpStatusCode.NotModified)
                {
                    return Download.Unchanged;
                }

                if (!response.IsSuccessStatusCode)
                {
                    throw PackageHttpErrors.FromStatus(location, response, "GET");
                }

                if (checkContent)
                {
                    PackageContentCheck.CheckContentType(location, response.Content.Headers.ContentType);
                }

                var total = response.Content.Headers.ContentLength;
                if (total.HasValue)
                {
                    CheckSize(location, total.Value);
                }

                (string Md5, long Length) copied;
                using (var source = await response.Content.ReadAsStreamAsync().ConfigureAwait(false))
                using (var destination = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true))
                {
                    copied = await HashingCopier.CopyAsync(source, destination, MaxPackageBytes, location.Original, total, progress, timeout.Token)
                        .ConfigureAwait(false);
                }

                if (checkContent)
                {
                    PackageContentCheck.CheckBody(location, temporary, copied.Length);
                }

                return new Download
                {
                    Md5 = copied.Md5,
                    Length = copied.Length,
                    ETag = response.Headers.ETag?.ToString(),
                    LastModified = response.Content.Headers.TryGetValues("Last-Modified", out var lastModified) ? string.Join(",", lastModified) : null,
                };
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw PackageHttpErrors.Timeout(location, DownloadTimeout, "download");
            }
            catch (HttpRequestException ex)
            {
                throw PackageHttpErrors.FromTransport(location, ex, "download");
            }
            catch (IOException ex) when (!(ex is FileNotFoundException))
            {
                throw PackageHttpErrors.FromTransport(location, ex, "download");
            }
        }

        private static FileInfo LocalFile(PackageLocation location)
        {
            var file = new FileInfo(location.LocalPath!);
            if (!file.Exists)
            {
                throw new DeploymentException(EngineErrorIds.PackageNotFound, DeploymentErrorKind.ObjectNotFound,
                    $"The package file '{location.LocalPath}' does not exist.", location.Original);
            }

            return file;
        }

        private void CheckSize(PackageLocation location, long length)
        {
            if (length > MaxPackageBytes)
            {
                throw HashingCopier.TooLarge(location.Original, MaxPackageBytes);
            }
        }
    }
}
