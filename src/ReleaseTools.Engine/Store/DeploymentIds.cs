using System;
using System.Globalization;
using System.Security.Cryptography;

namespace ReleaseTools.Engine.Store
{
    /// <summary>
    /// d-yyyyMMdd-HHmmss-xxxxxx (releases: r-...): sorts by creation time, short enough to type, random enough for many hosts.
    /// </summary>
    internal static class DeploymentIds
    {
        private static readonly RandomNumberGenerator Random = RandomNumberGenerator.Create();

        public static string New(DateTimeOffset now, char prefix = 'd')
        {
            var stamp = now.UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
            var random = new byte[3];
            lock (Random)
            {
                Random.GetBytes(random);
            }

            return $"{prefix}-{stamp}-{random[0]:x2}{random[1]:x2}{random[2]:x2}";
        }
    }
}
