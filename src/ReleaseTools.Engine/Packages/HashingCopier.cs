using System;
using System.Buffers;
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
            var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
            try
            {
                return await CopyAsync(source, destination, maxBytes, sourceName, totalBytes, progress, md5, buffer, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        private static async Task<(string Md5, long Length)> CopyAsync(Stream source, Stream destination, long maxBytes, string sourceName,
            long? totalBytes, PackageProgressCallback? progress, IncrementalHash md5, byte[] buffer, CancellationToken cancellationToken)
        {
            long copied = 0;
            var lastReport = DateTime.UtcNow;
            while (true)
            {
                var read = await source.ReadAsync(buffer, 0, BufferSize, cancellationToken).ConfigureAwait(false);
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
