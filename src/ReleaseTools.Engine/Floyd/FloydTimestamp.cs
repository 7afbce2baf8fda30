using System;
using System.Globalization;
using System.Threading;

namespace ReleaseTools.Engine.Floyd
{
    /// <summary>The <c>TimeStamp</c> header: nanoseconds since the Unix epoch as decimal ASCII.</summary>
    public static class FloydTimestamp
    {
        private static readonly long UnixEpochTicks = new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;
        private static long _lastIssued;

        /// <summary>
        /// The current time, strictly greater than any value this process issued before. Agents reject a repeated
        /// signature as a replay, and two identical pings inside one clock tick (15 ms on some Windows clocks) would
        /// otherwise sign identically.
        /// </summary>
        public static string Next() => Next(DateTimeOffset.UtcNow);

        internal static string Next(DateTimeOffset now)
        {
            var candidate = ToNanoseconds(now);
            while (true)
            {
                var last = Interlocked.Read(ref _lastIssued);
                var next = candidate > last ? candidate : last + 1;
                if (Interlocked.CompareExchange(ref _lastIssued, next, last) == last)
                {
                    return next.ToString(CultureInfo.InvariantCulture);
                }
            }
        }

        public static long ToNanoseconds(DateTimeOffset time) => (time.UtcTicks - UnixEpochTicks) * 100;

        public static string Format(DateTimeOffset time) => ToNanoseconds(time).ToString(CultureInfo.InvariantCulture);

        /// <summary>Parses the header strictly: ASCII digits only, no sign, no spaces, at most 19 digits.</summary>
        public static bool TryParse(string? text, out long nanoseconds)
        {
            nanoseconds = 0;
            if (string.IsNullOrEmpty(text) || text!.Length > 19)
            {
                return false;
            }

            foreach (var c in text)
            {
                if (c < '0' || c > '9')
                {
                    return false;
                }
            }

            return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out nanoseconds);
        }

        public static DateTimeOffset ToDateTimeOffset(long nanoseconds) =>
            new DateTimeOffset(UnixEpochTicks + nanoseconds / 100, TimeSpan.Zero);
    }
}
