using System;
using System.Reflection;
using System.Security.Cryptography;

namespace ReleaseTools.Engine.Floyd
{
    /// <summary>
    /// Copies the running state of an <see cref="IncrementalHash"/>, where the runtime can: <c>IncrementalHash.Clone()</c>
    /// exists from .NET 9 (PowerShell 7.5 and later) but not in netstandard2.0, so it is found by reflection once. On
    /// older runtimes (PowerShell 7.4, Windows PowerShell 5.1) there is no copy and callers hash again instead.
    /// </summary>
    internal static class HashStateCopier
    {
        private static readonly Func<IncrementalHash, IncrementalHash>? Clone = FindClone();

        public static bool IsAvailable => Clone != null;

        /// <summary>An independent hash that continues from <paramref name="hash"/>'s state; null where the runtime cannot copy.</summary>
        public static IncrementalHash? TryCopy(IncrementalHash hash) => Clone?.Invoke(hash);

        private static Func<IncrementalHash, IncrementalHash>? FindClone()
        {
            var method = typeof(IncrementalHash).GetMethod("Clone", BindingFlags.Public | BindingFlags.Instance, null, Type.EmptyTypes, null);
            if (method == null || method.ReturnType != typeof(IncrementalHash))
            {
                return null;
            }

            return (Func<IncrementalHash, IncrementalHash>)Delegate.CreateDelegate(typeof(Func<IncrementalHash, IncrementalHash>), method);
        }
    }
}
