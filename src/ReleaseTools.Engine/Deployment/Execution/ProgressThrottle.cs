using System.Diagnostics;

namespace ReleaseTools.Engine.Deployment.Execution
{
    /// <summary>
    /// Lets through at most one progress report per <see cref="Interval"/>, plus the last one, so a fast upload of many
    /// small chunks costs a few events rather than one per chunk. One instance per upload; not thread-safe.
    /// </summary>
    public sealed class ProgressThrottle
    {
        public const long Interval = 250;

        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _lastReportAt = -Interval;

        public bool ShouldReport(long done, long total)
        {
            var now = _clock.ElapsedMilliseconds;
            if (done < total && now - _lastReportAt < Interval)
            {
                return false;
            }

            _lastReportAt = now;
            return true;
        }
    }
}
