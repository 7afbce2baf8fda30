using System;
using System.Reflection;

namespace ReleaseTools.Loading
{
    /// <summary>
    /// A custom AssemblyLoadContext reached through reflection, because netstandard2.0 (which Windows PowerShell 5.1
    /// also loads) has no AssemblyLoadContext type. Follows the pattern PSResourceGet and PlatyPS use.
    /// </summary>
    internal sealed class AssemblyLoadContextProxy
    {
        private readonly Type _contextType;
        private readonly MethodInfo _loadFromAssemblyPath;

        private AssemblyLoadContextProxy(Type contextType, string name)
        {
            _contextType = contextType;
            var constructor = contextType.GetConstructor(new[] { typeof(string), typeof(bool) })
                ?? throw new MissingMethodException(contextType.FullName, ".ctor(string, bool)");
            _loadFromAssemblyPath = contextType.GetMethod("LoadFromAssemblyPath", new[] { typeof(string) })
                ?? throw new MissingMethodException(contextType.FullName, "LoadFromAssemblyPath");
            Context = constructor.Invoke(new object[] { name, false });
        }

        /// <summary>The AssemblyLoadContext instance itself (typed object: the type does not exist at compile time).</summary>
        public object Context { get; }

        /// <summary>Null on .NET Framework, where there are no load contexts.</summary>
        public static AssemblyLoadContextProxy? TryCreate(string name)
        {
            var contextType = LoadContextType;
            return contextType is null ? null : new AssemblyLoadContextProxy(contextType, name);
        }

        internal static Type? LoadContextType => typeof(object).Assembly.GetType("System.Runtime.Loader.AssemblyLoadContext");

        public Assembly LoadFromAssemblyPath(string path) => (Assembly)_loadFromAssemblyPath.Invoke(Context, new object[] { path });

        /// <summary>Subscribes <paramref name="handler"/> to this context's Resolving event.</summary>
        public void AddResolving(Func<object, AssemblyName, Assembly?> handler) => AddResolving(_contextType, Context, handler);

        public void RemoveResolving(Delegate subscription) => _contextType.GetEvent("Resolving")!.RemoveEventHandler(Context, subscription);

        /// <summary>Subscribes to AssemblyLoadContext.Default.Resolving; returns the subscription for removal.</summary>
        public static Delegate? AddDefaultResolving(Func<object, AssemblyName, Assembly?> handler)
        {
            var contextType = LoadContextType;
            if (contextType is null)
            {
                return null;
            }

            var defaultContext = contextType.GetProperty("Default", BindingFlags.Public | BindingFlags.Static)!.GetValue(null);
            return AddResolving(contextType, defaultContext, handler);
        }

        public static void RemoveDefaultResolving(Delegate subscription)
        {
            var contextType = LoadContextType!;
            var defaultContext = contextType.GetProperty("Default", BindingFlags.Public | BindingFlags.Static)!.GetValue(null);
            contextType.GetEvent("Resolving")!.RemoveEventHandler(defaultContext, subscription);
        }

        /// <summary>Subscribes to ResolvingUnmanagedDll (Func&lt;Assembly, string, IntPtr&gt;): the last chance the runtime gives a DllImport.</summary>
        public void AddResolvingUnmanagedDll(Func<Assembly, string, IntPtr> handler)
            => _contextType.GetEvent("ResolvingUnmanagedDll")!.AddEventHandler(Context, handler);

        private static Delegate AddResolving(Type contextType, object context, Func<object, AssemblyName, Assembly?> handler)
        {
            // The event's type is Func<AssemblyLoadContext, AssemblyName, Assembly?>; a delegate over the handler's
            // Invoke binds to it because AssemblyLoadContext converts to object (delegate parameter contravariance).
            var eventInfo = contextType.GetEvent("Resolving")!;
            var subscription = Delegate.CreateDelegate(eventInfo.EventHandlerType!, handler, handler.GetType().GetMethod("Invoke")!);
            eventInfo.AddEventHandler(context, subscription);
            return subscription;
        }
    }
}
