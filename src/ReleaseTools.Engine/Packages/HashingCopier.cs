using System;
using System.IO;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment;

namespace ReleaseTools.Engine.Packages
{
    /// <summary>
    /// Copies a stream to a file while computing its MD5, so a package is read exactly once and never held in
    /// memory whole; stops as soon as the size limit is passed.
    /// </summary>
    internal static class HashingCopier
    {
        private const int BufferSize = 81920;
        private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(250);

        public static async Task<(string Md5, long Length)> CopyAsync(Stream source, Stream destination, long maxBytes, string sourceName,
            long? totalBytes, PackageProgressCallback? progress, CancellationToken cancellationToken)
        {
            using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            var buffer = new byte[BufferSize];
            long copied = 0;
            var lastReport = DateTime.UtcNow;
            while (true)
            {
                var read = await source.ReadAsync(buffer, 0, buffer.Length, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                copied += read;
                if (copied > maxBytes)
                {
                    throw TooLarge(sourceName, maxBytes);
                }

                md5.AppendData(buffer, 0, read);
                await destination.WriteAsync(buffer, 0, read, cancellationToken).ConfigureAwait(false);

                var now = DateTime.UtcNow;
                if (progress != null && now - lastReport >= ProgressInterval)
                {
                    lastReport = now;
                    progress(copied, totalBytes, false);
                }
            }

            await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
            progress?.Invoke(copied, totalBytes ?? copied, false);
            return (Md5Hex.ToHex(md5.GetHashAndReset()), copied);
        }

        public static DeploymentException TooLarge(string sourceName, long maxBytes) =>
            new DeploymentException(EngineErrorIds.PackageTooLarge, DeploymentErrorKind.InvalidData,
                $"The package '{sourceName}' is larger than the limit of {maxBytes} bytes. Raise the package size limit or deploy a smaller package.",
                sourceName);
    }
}
