using System;
using System.Security.Cryptography;
using System.Text;

namespace ReleaseTools.Engine.Floyd
{
    /// <summary>
    /// The fversion of a release: Base64URL(MD5(UTF-8("service\nenvironment\nversion\nconfigMd5Hex"))) with the
    /// '=' padding and any leading '-' removed. A new rendered config gives a new fversion. Pinned in docs/floyd-protocol.md.
    /// </summary>
    public static class FVersion
    {
        public static string Compute(string service, string environment, string version, string configMd5Hex)
        {
            RequireLine(service, nameof(service));
            RequireLine(environment, nameof(environment));
            RequireLine(version, nameof(version));
            var identity = NormalizeMd5Hex(configMd5Hex, nameof(configMd5Hex));

            var layout = Encoding.UTF8.GetBytes(service + "\n" + environment + "\n" + version + "\n" + identity);
            byte[] digest;
            using (var md5 = MD5.Create())
            {
                digest = md5.ComputeHash(layout);
            }

            return Base64Url(digest).TrimStart('-');
        }

        /// <summary>The config identity: lowercase hex MD5 of the rendered config bytes.</summary>
        public static string ConfigIdentity(byte[] renderedConfig)
        {
            if (renderedConfig == null) throw new ArgumentNullException(nameof(renderedConfig));
            using var md5 = MD5.Create();
            return ToLowerHex(md5.ComputeHash(renderedConfig));
        }

        internal static string Base64Url(byte[] bytes) =>
            Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        internal static string ToLowerHex(byte[] bytes)
        {
            var chars = new char[bytes.Length * 2];
            for (var i = 0; i < bytes.Length; i++)
            {
                chars[2 * i] = "0123456789abcdef"[bytes[i] >> 4];
                chars[2 * i + 1] = "0123456789abcdef"[bytes[i] & 0xF];
            }

            return new string(chars);
        }

        private static void RequireLine(string value, string name)
        {
            if (value == null) throw new ArgumentNullException(name);
            if (value.Length == 0) throw new ArgumentException($"The {name} must not be empty.", name);
            // A line break inside a field would make two different inputs produce the same layout.
            if (value.IndexOf('\n') >= 0 || value.IndexOf('\r') >= 0)
                throw new ArgumentException($"The {name} must not contain a line break.", name);
        }

        private static string NormalizeMd5Hex(string value, string name)
        {
            if (value == null) throw new ArgumentNullException(name);
            if (value.Length != 32) throw new ArgumentException("The config identity must be an MD5 as 32 hexadecimal digits.", name);
            foreach (var c in value)
            {
                var hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
                if (!hex) throw new ArgumentException("The config identity must be an MD5 as 32 hexadecimal digits.", name);
            }

            return value.ToLowerInvariant();
        }
    }
}
