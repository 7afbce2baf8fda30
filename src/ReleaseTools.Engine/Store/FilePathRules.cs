using System;
using System.Globalization;
using System.Linq;

namespace ReleaseTools.Engine.Store
{
    /// <summary>
    /// What a store file or backup file path must be before it is resolved: something a person can read back and
    /// type again. A blank name, a control character (a pasted line feed) or a name longer than file systems allow
    /// would otherwise create a file nobody can find, or fail later with a misleading cause.
    /// </summary>
    public static class FilePathRules
    {
        /// <summary>The longest file or folder name Linux, macOS and Windows file systems accept.</summary>
        public const int MaxNameLength = 255;

        /// <summary>Why <paramref name="path"/> cannot name a file, in words that end a sentence; null when it can.</summary>
        public static string? Problem(string? path)
        {
            if (string.IsNullOrWhiteSpace(path))
            {
                return "it is blank";
            }

            foreach (var c in path!)
            {
                if (char.IsControl(c))
                {
                    return string.Format(CultureInfo.InvariantCulture, "it contains the control character U+{0:X4}", (int)c);
                }
            }

            var names = path.Split('/', '\\');
            if (names.Any(n => n.Length > MaxNameLength))
            {
                return $"one of its names is longer than the {MaxNameLength} characters file systems allow";
            }

            var last = names[names.Length - 1];
            if (last.Length > 0 && string.IsNullOrWhiteSpace(last))
            {
                return "its file name is only spaces";
            }

            return null;
        }

        /// <summary>The message for a refused path: the value (control characters shown as \uXXXX), why, and what to do.</summary>
        public static string Describe(string what, string? path, string problem) =>
            $"'{RegistrationRules.Printable(path)}' cannot be {what}: {problem}. Give the path of a file, for example ./releasetools.db.";
    }
}
