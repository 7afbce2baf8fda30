using System;

namespace ReleaseTools.Engine.Store.Sqlite
{
    /// <summary>
    /// Loads the native SQLite library once. Microsoft.Data.Sqlite would otherwise initialise it lazily and report a
    /// load failure as an unrelated type-initialiser error; calling this first surfaces the real cause.
    /// </summary>
    public static class SqliteRuntime
    {
        private static readonly object Gate = new object();
        private static volatile bool _initialized;

        public static void EnsureInitialized()
        {
            if (_initialized)
            {
                return;
            }

            lock (Gate)
            {
                if (_initialized)
                {
                    return;
                }

                try
                {
                    SQLitePCL.Batteries_V2.Init();
                }
                catch (Exception ex)
                {
                    // A failure is not remembered: the host may make the library resolvable and try again.
                    var root = ex;
                    while (root.InnerException != null && (root is TypeInitializationException || root is System.Reflection.TargetInvocationException))
                    {
                        root = root.InnerException;
                    }

                    throw new StoreException(StoreErrorIds.SqliteNativeLoadFailed,
                        $"The native SQLite library (e_sqlite3) could not be loaded: {root.GetType().Name}: {root.Message} " +
                        "Make sure the ReleaseTools module folder contains runtimes/<platform>/native for this platform, or reinstall the module.",
                        null, ex);
                }

                _initialized = true;
            }
        }
    }
}
