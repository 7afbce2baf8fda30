using System;
using System.Diagnostics;

namespace ReleaseTools.Engine.Store
{
    /// <summary>Who this process is for lease purposes, and whether a lease owner on this host is still running.</summary>
    public static class ProcessIdentity
    {
        // Process start times read at different moments can differ by rounding; a reused id starts much later.
        private static readonly TimeSpan StartTimeTolerance = TimeSpan.FromSeconds(2);
        private static readonly Lazy<(int Id, DateTimeOffset? StartedAt)> Self = new Lazy<(int, DateTimeOffset?)>(() =>
        {
            using var process = Process.GetCurrentProcess();
            return (process.Id, TryGetStartTime(process));
        });

        // Runs this process stopped working on without recording their end (the store failed under them).
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> Abandoned =
            new System.Collections.Concurrent.ConcurrentDictionary<string, bool>(StringComparer.OrdinalIgnoreCase);

        public static string HostName => System.Environment.MachineName;

        /// <summary>
        /// Says that this process works on the run no more, though the store still records it Running (its end could not be
        /// written): recovery then treats the run's owner as gone, as it would a process that died.
        /// </summary>
        public static void Abandon(string deploymentId) => Abandoned[deploymentId] = true;

        /// <summary>Whether the owner is this process, on a run it abandoned.</summary>
        public static bool IsAbandoned(LeaseOwner owner) =>
            owner.DeploymentId != null && Abandoned.ContainsKey(owner.DeploymentId) && owner.ProcessId == Self.Value.Id &&
            string.Equals(owner.HostName, HostName, StringComparison.OrdinalIgnoreCase);

        public static LeaseOwner Current(string deploymentId) => new LeaseOwner
        {
            DeploymentId = deploymentId,
            HostName = HostName,
            ProcessId = Self.Value.Id,
            ProcessStartedAt = Self.Value.StartedAt,
        };

        /// <summary>
        /// False only when the owner is on this host and its process is gone (or the id now belongs to a process that
        /// started later). An owner on another host cannot be checked from here, so it counts as alive and only its
        /// lease expiry can free its instances.
        /// </summary>
        public static bool IsAlive(LeaseOwner owner)
        {
            if (owner == null)
            {
                throw new ArgumentNullException(nameof(owner));
            }

            if (IsAbandoned(owner))
            {
                return false;
            }

            if (!string.Equals(owner.HostName, HostName, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }

            Process process;
            try
            {
                process = Process.GetProcessById(owner.ProcessId);
            }
            catch (ArgumentException)
            {
                return false;
            }
            catch (InvalidOperationException)
            {
                return false;
            }

            using (process)
            {
                try
                {
                    if (process.HasExited)
                    {
                        return false;
                    }
                }
                catch (Exception ex) when (ex is InvalidOperationException || ex is System.ComponentModel.Win32Exception || ex is NotSupportedException)
                {
                    // Another user's process on Windows: it exists, which is all we can know.
                    return true;
                }

                if (owner.ProcessStartedAt is DateTimeOffset expected && TryGetStartTime(process) is DateTimeOffset actual)
                {
                    return (actual - expected).Duration() <= StartTimeTolerance;
                }

                return true;
            }
        }

        private static DateTimeOffset? TryGetStartTime(Process process)
        {
            try
            {
                return new DateTimeOffset(process.StartTime.ToUniversalTime(), TimeSpan.Zero);
            }
            catch (Exception ex) when (ex is InvalidOperationException || ex is System.ComponentModel.Win32Exception || ex is NotSupportedException)
            {
                return null;
            }
        }
    }
}
