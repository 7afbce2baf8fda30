using System;
using System.Threading;
using Microsoft.Data.Sqlite;

namespace ReleaseTools.Engine.Store.Sqlite
{
    /// <summary>When the store copies its write-ahead log back into the database file, and how large the log may grow.</summary>
    internal sealed class WalCheckpointPolicy
    {
        /// <summary>What the store uses: SQLite's own checkpoint size, run off the committing thread.</summary>
        public static readonly WalCheckpointPolicy Default = new WalCheckpointPolicy(
            pagesBeforeCheckpoint: 1000,
            idleDelay: TimeSpan.FromSeconds(1),
            writerFallbackPages: 10000,
            walSizeLimitBytes: 16L * 1024 * 1024);

        /// <summary>
        /// SQLite's default, as the store behaved before it checkpointed in the background: the commit that takes the log
        /// past 1000 pages checkpoints inside itself. Only the store benchmark uses it, as the baseline of the same run.
        /// </summary>
        public static readonly WalCheckpointPolicy InsideCommits = new WalCheckpointPolicy(
            pagesBeforeCheckpoint: int.MaxValue,
            idleDelay: Timeout.InfiniteTimeSpan,
            writerFallbackPages: 1000,
            walSizeLimitBytes: -1);

        public WalCheckpointPolicy(int pagesBeforeCheckpoint, TimeSpan idleDelay, int writerFallbackPages, long walSizeLimitBytes)
        {
            PagesBeforeCheckpoint = pagesBeforeCheckpoint;
            IdleDelay = idleDelay;
            WriterFallbackPages = writerFallbackPages;
            WalSizeLimitBytes = walSizeLimitBytes;
        }

        /// <summary>Pages this process has written to the log since the last checkpoint that start a background checkpoint.</summary>
        public int PagesBeforeCheckpoint { get; }

        /// <summary>How long after the last write a background checkpoint runs anyway, so a quiet store has its log synced and merged.</summary>
        public TimeSpan IdleDelay { get; }

        /// <summary>
        /// SQLite's own automatic checkpoint, inside the commit, once the log holds this many pages: kept as the bound on the
        /// log when the background checkpoint cannot keep up, or another process writes and never checkpoints.
        /// </summary>
        public int WriterFallbackPages { get; }

        /// <summary>journal_size_limit: the size a log file is cut back to when SQLite starts it again after a large transaction.</summary>
        public long WalSizeLimitBytes { get; }
    }

    /// <summary>
    /// Runs the store's WAL checkpoints on a thread of their own. SQLite's default is to checkpoint inside the commit that
    /// takes the log past 1000 pages: that commit copies the pages into the database file and, with synchronous=NORMAL,
    /// syncs the log and the file, several milliseconds in one call that otherwise takes a fraction of one. Here writers
    /// only count the pages they wrote (<see cref="Committed"/>); a PASSIVE checkpoint, which never waits for readers or
    /// writers, runs beside them when the count reaches <see cref="WalCheckpointPolicy.PagesBeforeCheckpoint"/> or
    /// <see cref="WalCheckpointPolicy.IdleDelay"/> after the last write. Durability does not change: a commit is in the
    /// log before it returns, a checkpoint syncs the log before it copies anything, and a crash at any point of a
    /// checkpoint is recovered from the log on the next open.
    /// </summary>
    internal sealed class WalCheckpointer : IDisposable
    {
        private readonly Func<SqliteConnection> _open;
        private readonly WalCheckpointPolicy _policy;
        private readonly object _gate = new object();
        private readonly Timer _idleTimer;
        private int _pendingPages;
        private bool _running;
        private bool _catchingUp;
        private bool _disposed;
        private long _completed;

        public WalCheckpointer(Func<SqliteConnection> open, WalCheckpointPolicy policy)
        {
            _open = open;
            _policy = policy;
            _idleTimer = new Timer(_ => Run(), null, Timeout.Infinite, Timeout.Infinite);
        }

        /// <summary>Checkpoints this store object ran in the background that copied the whole log: what tests wait for.</summary>
        public long CompletedCheckpoints => Interlocked.Read(ref _completed);

        /// <summary>
        /// Called after every commit on <paramref name="connection"/>: adds the pages it wrote to the log (SQLite's
        /// per-connection count, reset here) and starts or re-arms the background checkpoint.
        /// </summary>
        public void Committed(SqliteConnection connection)
        {
            var handle = connection.Handle;
            if (handle == null || SQLitePCL.raw.sqlite3_db_status(handle, SQLitePCL.raw.SQLITE_DBSTATUS_CACHE_WRITE, out var pages, out _, 1) != SQLitePCL.raw.SQLITE_OK)
            {
                pages = 1;
            }

            bool startNow;
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                _pendingPages += Math.Max(pages, 1);
                startNow = _pendingPages >= _policy.PagesBeforeCheckpoint && !_running;
                if (startNow)
                {
                    _running = true;
                }
                else
                {
                    // Inside the lock: Dispose sets _disposed under it before it disposes the timer.
                    _idleTimer.Change(_policy.IdleDelay, Timeout.InfiniteTimeSpan);
                }
            }

            if (startNow)
            {
                ThreadPool.QueueUserWorkItem(_ => Checkpoint());
            }
        }

        /// <summary>Stops the timer and waits for a checkpoint under way, so the store's connections can be closed after it.</summary>
        public void Dispose()
        {
            lock (_gate)
            {
                _disposed = true;
                // A PASSIVE checkpoint never waits for a lock, so this wait is only the copy itself.
                while (_running)
                {
                    Monitor.Wait(_gate, TimeSpan.FromSeconds(1));
                }
            }

            _idleTimer.Dispose();
        }

        private void Run()
        {
            lock (_gate)
            {
                if (_running || _disposed || _pendingPages == 0)
                {
                    return;
                }

                _running = true;
            }

            Checkpoint();
        }

        private void Checkpoint()
        {
            int taken;
            lock (_gate)
            {
                taken = _pendingPages;
            }

            var copiedAll = false;
            try
            {
                using var connection = _open();
                var rc = SQLitePCL.raw.sqlite3_wal_checkpoint_v2(connection.Handle!, "main", SQLitePCL.raw.SQLITE_CHECKPOINT_PASSIVE, out var logFrames, out var copied);
                // Not everything copied: a reader (perhaps in another process) still needs older pages, or another
                // connection is checkpointing (SQLITE_BUSY). The count is kept and the idle timer tries again.
                copiedAll = rc == SQLitePCL.raw.SQLITE_OK && copied >= logFrames;
            }
            catch (Exception)
            {
                // Whatever the failure (a full or failing disk, the store closed meanwhile), nothing is lost: the log keeps
                // every commit, the next checkpoint or the close copies it, and a failing disk is reported by the next write,
                // on the caller's thread. An exception let out of a thread-pool thread would end the user's whole session.
            }
            finally
            {
                var again = false;
                lock (_gate)
                {
                    _running = false;
                    if (copiedAll)
                    {
                        _completed++;
                        _pendingPages = Math.Max(0, _pendingPages - taken);
                    }

                    var catchUp = false;
                    if (!_disposed)
                    {
                        if (copiedAll && (_pendingPages >= _policy.PagesBeforeCheckpoint || (_pendingPages > 0 && !_catchingUp)))
                        {
                            // Writers went on while this ran: past the threshold again, or a few pages, copied at once in a
                            // short second pass. SQLite starts the log again from its beginning only at a write that finds
                            // every frame copied, which a checkpoint always overlapped by writes never gives it.
                            _running = again = true;
                            catchUp = _pendingPages < _policy.PagesBeforeCheckpoint;
                        }
                        else if (_pendingPages > 0)
                        {
                            // Never straight away after a partial checkpoint: a long reader would make that a busy loop.
                            _idleTimer.Change(_policy.IdleDelay, Timeout.InfiniteTimeSpan);
                        }
                    }

                    _catchingUp = catchUp;
                    Monitor.PulseAll(_gate);
                }

                if (again)
                {
                    ThreadPool.QueueUserWorkItem(_ => Checkpoint());
                }
            }
        }
    }
}
