using System;
using System.ComponentModel;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;

namespace ReleaseTools.Loading
{
    /// <summary>
    /// Loads the e_sqlite3 library shipped in Dependencies/runtimes/&lt;rid&gt;/native by absolute path. The host's
    /// default native probing never looks inside a module folder, so without this the first SQLite call fails
    /// with a bare DllNotFoundException far from the cause.
    /// </summary>
    internal static class NativeSqlite
    {
        public const string LibraryName = "e_sqlite3";

        private static IntPtr _handle;

        public static string? LoadedPath { get; private set; }

        public static string RuntimeIdentifier
        {
            get
            {
                string os;
                if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
                {
                    os = "win";
                }
                else if (RuntimeInformation.IsOSPlatform(OSPlatform.OSX))
                {
                    os = "osx";
                }
                else if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
                {
                    os = "linux";
                }
                else
                {
                    throw new PlatformNotSupportedException($"ReleaseTools ships SQLite for Windows, Linux and macOS only, not {RuntimeInformation.OSDescription}.");
                }

                var architecture = RuntimeInformation.ProcessArchitecture switch
                {
                    Architecture.X64 => "x64",
                    Architecture.Arm64 => "arm64",
                    var other => throw new PlatformNotSupportedException($"ReleaseTools ships SQLite for x64 and arm64 processes, not {other}."),
                };
                return os + "-" + architecture;
            }
        }

        public static string FileName
            => RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "e_sqlite3.dll"
            : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "libe_sqlite3.dylib"
            : "libe_sqlite3.so";

        /// <summary>Loads the library once per process and, on PowerShell 7, answers the dependency context's lookups of "e_sqlite3" with it.</summary>
        public static void Load(string dependencyDirectory, AssemblyLoadContextProxy? context)
        {
            if (_handle != IntPtr.Zero)
            {
                return;
            }

            var path = Path.Combine(dependencyDirectory, "runtimes", RuntimeIdentifier, "native", FileName);
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"The ReleaseTools module is incomplete: native SQLite for {RuntimeIdentifier} is missing at '{path}'. Reinstall the module.", path);
            }

            _handle = context is not null ? LoadWithNativeLibrary(path) : LoadWithKernel32(path);
            LoadedPath = path;
            context?.AddResolvingUnmanagedDll(ResolveUnmanaged);
        }

        private static IntPtr ResolveUnmanaged(Assembly requestingAssembly, string name)
            => name == LibraryName || name == "lib" + LibraryName || name == FileName ? _handle : IntPtr.Zero;

        private static IntPtr LoadWithNativeLibrary(string path)
        {
            var nativeLibrary = typeof(object).Assembly.GetType("System.Runtime.InteropServices.NativeLibrary")
                ?? throw new PlatformNotSupportedException("System.Runtime.InteropServices.NativeLibrary is not available in this runtime.");
            var load = nativeLibrary.GetMethod("Load", new[] { typeof(string) })!;
            try
            {
                return (IntPtr)load.Invoke(null, new object[] { path });
            }
            catch (TargetInvocationException invocation) when (invocation.InnerException is not null)
            {
                throw new DllNotFoundException($"ReleaseTools could not load native SQLite from '{path}': {invocation.InnerException.Message}", invocation.InnerException);
            }
        }

        // Windows PowerShell 5.1 (.NET Framework): once loaded by full path, DllImport("e_sqlite3") finds the module by name.
        private static IntPtr LoadWithKernel32(string path)
        {
            var handle = LoadLibraryW(path);
            if (handle == IntPtr.Zero)
            {
                var error = new Win32Exception(Marshal.GetLastWin32Error());
                throw new DllNotFoundException($"ReleaseTools could not load native SQLite from '{path}': {error.Message}", error);
            }

            return handle;
        }

        [DllImport("kernel32", EntryPoint = "LoadLibraryW", CharSet = CharSet.Unicode, SetLastError = true)]
        private static extern IntPtr LoadLibraryW(string path);
    }
}
