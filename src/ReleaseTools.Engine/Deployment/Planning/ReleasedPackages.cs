using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Planning
{
    /// <summary>
    /// A released version names one set of bytes: a package whose MD5 differs from what the store recorded for the same
    /// service and version is refused, unless the caller explicitly allows the change (then it is audited).
    /// </summary>
    internal static class ReleasedPackages
    {
        // Enough rows to see every package a version was ever released with.
        private const int Lookback = 200;

        /// <summary>Each conflict as an audit line when allowed; throws PackageChecksumConflict when not.</summary>
        public static async Task<IReadOnlyList<string>> CheckAsync(IReleaseStore store, IEnumerable<string> services, string version, string md5,
            bool allowChange, CancellationToken cancellationToken)
        {
            var conflicts = new List<string>();
            foreach (var service in services.Distinct(StringComparer.OrdinalIgnoreCase))
            {
                var released = await store.FindHistoryAsync(new HistoryQuery { Service = service, Version = version, Limit = Lookback }, cancellationToken)
                    .ConfigureAwait(false);
                var recorded = released.Where(h => !string.IsNullOrEmpty(h.PackageMd5)).ToList();
                if (recorded.Count == 0 || recorded.Any(h => string.Equals(h.PackageMd5, md5, StringComparison.OrdinalIgnoreCase)))
                {
                    continue;
                }

                var latest = recorded[0];
                var what = $"{service} {version} was released with package MD5 {latest.PackageMd5} (by {latest.DeploymentId}, {latest.PackageUrl}), " +
                    $"but this package's MD5 is {md5}";
                if (!allowChange)
                {
                    throw new DeploymentException(EngineErrorIds.PackageChecksumConflict, DeploymentErrorKind.InvalidData,
                        $"{what}: different bytes under an already-released version. Give the new build its own version, or deploy it anyway with " +
                        "-AllowChecksumChange if replacing the released bytes is intended.", service);
                }

                conflicts.Add($"{what}; deployed anyway, as explicitly allowed (-AllowChecksumChange).");
            }

            return conflicts;
        }
    }
}
