using System;
using System.IO;
using System.Management.Automation;
using System.Runtime.CompilerServices;

namespace ReleaseTools.Loading
{
    /// <summary>
    /// Runs when Import-Module loads ReleaseTools.dll, before any cmdlet: makes Dependencies/ resolvable, loads
    /// native SQLite by absolute path, and initialises SQLite so a broken installation fails the import with its
    /// real cause instead of failing the first command with a generic one.
    /// </summary>
    public sealed class ModuleInitializer : IModuleAssemblyInitializer, IModuleAssemblyCleanup
    {
        public const string DependencyFolderName = "Dependencies";

        public void OnImport()
        {
            var moduleDirectory = Path.GetDirectoryName(typeof(ModuleInitializer).Assembly.Location)
                ?? throw new InvalidOperationException("ReleaseTools.dll has no location on disk; import the module from its folder.");
            var dependencyDirectory = Path.Combine(moduleDirectory, DependencyFolderName);
            if (!Directory.Exists(dependencyDirectory))
            {
                throw new DirectoryNotFoundException($"The ReleaseTools module is incomplete: '{dependencyDirectory}' is missing. Reinstall the module.");
            }

            DependencyLoader.Install(dependencyDirectory);
            NativeSqlite.Load(dependencyDirectory, DependencyLoader.Context);
            InitializeSqlite();
        }

        public void OnRemove(PSModuleInfo psModuleInfo) => DependencyLoader.Uninstall();

        // Kept out of OnImport so the engine assembly is only resolved once the resolver above is in place.
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void InitializeSqlite()
        {
            Engine.Store.Sqlite.SqliteRuntime.EnsureInitialized();
        }
    }
}
