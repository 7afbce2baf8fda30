using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;

namespace ReleaseTools.Loading
{
    /// <summary>
    /// Makes the engine and its third-party dependencies resolvable from the module's Dependencies folder without
    /// letting them clash with assemblies PowerShell (or another module) already loaded.
    /// PowerShell 7: everything in Dependencies loads into one custom AssemblyLoadContext; the default context's
    /// Resolving event hands the engine to the cmdlet assembly, the custom context's Resolving event serves the
    /// engine's own references. Windows PowerShell 5.1 has no load contexts: AppDomain.AssemblyResolve loads from
    /// Dependencies with Assembly.LoadFrom, as powershell.exe would for any module.
    /// </summary>
    internal static class DependencyLoader
    {
        public const string LoadContextName = "ReleaseTools.Dependencies";

        private static readonly object Gate = new object();
        private static readonly Dictionary<string, Assembly> Loaded = new Dictionary<string, Assembly>(StringComparer.OrdinalIgnoreCase);
        private static string _dependencyDirectory = "";
        private static AssemblyLoadContextProxy? _context;
        private static Delegate? _defaultSubscription;
        private static bool _frameworkHandlerInstalled;

        public static string DependencyDirectory => _dependencyDirectory;

        /// <summary>The custom context, or null on .NET Framework.</summary>
        public static AssemblyLoadContextProxy? Context => _context;

        public static void Install(string dependencyDirectory)
        {
            lock (Gate)
            {
                _dependencyDirectory = dependencyDirectory;
                if (AssemblyLoadContextProxy.LoadContextType is null)
                {
                    if (!_frameworkHandlerInstalled)
                    {
                        AppDomain.CurrentDomain.AssemblyResolve += OnAppDomainAssemblyResolve;
                        _frameworkHandlerInstalled = true;
                    }

                    return;
                }

                if (_context is null)
                {
                    // Created once per process: a loaded assembly cannot be unloaded, and a re-import must reuse it.
                    _context = AssemblyLoadContextProxy.TryCreate(LoadContextName)!;
                    _context.AddResolving(OnResolving);
                }

                if (_defaultSubscription is null)
                {
                    _defaultSubscription = AssemblyLoadContextProxy.AddDefaultResolving(OnResolving);
                }
            }
        }

        public static void Uninstall()
        {
            lock (Gate)
            {
                if (_defaultSubscription is not null)
                {
                    AssemblyLoadContextProxy.RemoveDefaultResolving(_defaultSubscription);
                    _defaultSubscription = null;
                }
            }
        }

        private static Assembly? OnResolving(object context, AssemblyName name) => Resolve(name);

        private static Assembly? OnAppDomainAssemblyResolve(object? sender, ResolveEventArgs args) => Resolve(new AssemblyName(args.Name));

        private static Assembly? Resolve(AssemblyName requested)
        {
            if (requested.Name is null || _dependencyDirectory.Length == 0)
            {
                return null;
            }

            lock (Gate)
            {
                if (Loaded.TryGetValue(requested.Name, out var known))
                {
                    return known;
                }

                var path = Path.Combine(_dependencyDirectory, requested.Name + ".dll");
                if (!File.Exists(path))
                {
                    return null;
                }

                // Only satisfy requests our copy can honour; an older file would fail later with a worse error.
                var shipped = AssemblyName.GetAssemblyName(path);
                if (requested.Version is not null && shipped.Version is not null && shipped.Version < requested.Version)
                {
                    return null;
                }

                var assembly = _context is not null ? _context.LoadFromAssemblyPath(path) : Assembly.LoadFrom(path);
                Loaded[requested.Name] = assembly;
                return assembly;
            }
        }
    }
}
