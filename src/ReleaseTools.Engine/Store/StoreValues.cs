using System;
using System.Collections.Generic;
using System.Text;

namespace ReleaseTools.Engine.Store
{
    /// <summary>
    /// How values are written to the store: times as unix milliseconds (UTC, so comparisons are plain integer
    /// comparisons in SQL), enums as kebab-case names (so a renumbered enum never changes what a row means).
    /// </summary>
    internal static class StoreValues
    {
        public static long ToUnixMs(DateTimeOffset value) => value.ToUnixTimeMilliseconds();

        public static object ToDb(DateTimeOffset? value) => value.HasValue ? (object)value.Value.ToUnixTimeMilliseconds() : DBNull.Value;

        public static DateTimeOffset FromUnixMs(long value) => DateTimeOffset.FromUnixTimeMilliseconds(value);

        public static object ToDb(string? value) => (object?)value ?? DBNull.Value;

        public static bool IsFinal(DeploymentStatus status) =>
            status != DeploymentStatus.Pending && status != DeploymentStatus.Running;

        /// <summary>Tags are kept as a JSON array of strings.</summary>
        public static string[] Tags(string json)
        {
            if (string.IsNullOrEmpty(json) || json == "[]")
            {
                return Array.Empty<string>();
            }

            return System.Text.Json.JsonSerializer.Deserialize<string[]>(json) ?? Array.Empty<string>();
        }

        public static string ToText<TEnum>(TEnum value) where TEnum : struct, Enum => EnumText<TEnum>.ToText(value);

        public static TEnum Parse<TEnum>(string text) where TEnum : struct, Enum => EnumText<TEnum>.Parse(text);

        private static class EnumText<TEnum> where TEnum : struct, Enum
        {
            private static readonly Dictionary<TEnum, string> Names = new Dictionary<TEnum, string>();
            private static readonly Dictionary<string, TEnum> Values = new Dictionary<string, TEnum>(StringComparer.Ordinal);

            static EnumText()
            {
                foreach (TEnum value in Enum.GetValues(typeof(TEnum)))
                {
                    var text = Kebab(value.ToString());
                    Names[value] = text;
                    Values[text] = value;
                }
            }

            public static string ToText(TEnum value) =>
                Names.TryGetValue(value, out var text) ? text : throw new ArgumentOutOfRangeException(nameof(value), value, $"Not a defined {typeof(TEnum).Name}.");

            public static TEnum Parse(string text) =>
                Values.TryGetValue(text, out var value)
                    ? value
                    : throw new InvalidOperationException($"The store holds '{text}' as a {typeof(TEnum).Name}, which this release of ReleaseTools does not know.");

            private static string Kebab(string name)
            {
                var builder = new StringBuilder(name.Length + 4);
                for (var i = 0; i < name.Length; i++)
                {
                    var c = name[i];
                    if (char.IsUpper(c) && i > 0)
                    {
                        builder.Append('-');
                    }

                    builder.Append(char.ToLowerInvariant(c));
                }

                return builder.ToString();
            }
        }
    }
}
