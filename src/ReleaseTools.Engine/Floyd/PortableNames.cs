using System;

namespace ReleaseTools.Engine.Floyd
{
    /// <summary>
    /// The part of the name rule of docs/floyd-protocol.md section 4 that keeps a name usable as a file name on Windows:
    /// no trailing dot (Windows drops it) and no device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9, with or without an
    /// extension, in any case). The agent and the registry both apply it, so a name the registry takes the agent takes.
    /// </summary>
    public static class PortableNames
    {
        public const string Rule = "not ending in '.', and not a Windows device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9)";

        public static bool IsWindowsDeviceName(string name)
        {
            if (name == null) throw new ArgumentNullException(nameof(name));
            var dot = name.IndexOf('.');
            var stem = (dot < 0 ? name : name.Substring(0, dot)).ToUpperInvariant();
            return stem == "CON" || stem == "PRN" || stem == "AUX" || stem == "NUL" ||
                   (stem.Length == 4 && (stem.StartsWith("COM", StringComparison.Ordinal) || stem.StartsWith("LPT", StringComparison.Ordinal)) && stem[3] >= '0' && stem[3] <= '9');
        }

        /// <summary>True when the name survives on Windows as it is: no trailing dot, not a device name.</summary>
        public static bool IsPortable(string name) => !name.EndsWith(".", StringComparison.Ordinal) && !IsWindowsDeviceName(name);
    }
}
