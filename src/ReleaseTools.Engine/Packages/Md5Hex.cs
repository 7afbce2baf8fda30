using System;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace ReleaseTools.Engine.Packages
{
    /// <summary>MD5 as lowercase hex, the form history and the Floyd protocol use.</summary>
    public static class Md5Hex
    {
        public static string Of(byte[] content)
        {
            using var md5 = MD5.Create();
            return ToHex(md5.ComputeHash(content));
        }

        public static string ToHex(byte[] hash)
        {
            var builder = new StringBuilder(hash.Length * 2);
            foreach (var b in hash)
            {
                builder.Append(b.ToString("x2", CultureInfo.InvariantCulture));
            }

            return builder.ToString();
        }

        /// <summary>Accepts hex in any case (what md5sum prints) or base64 (what Content-MD5 carries); null when neither.</summary>
        public static string? Normalize(string? value)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                return null;
            }

            var text = value!.Trim();
            if (text.Length == 32 && IsHex(text))
            {
                return text.ToLowerInvariant();
            }

            try
            {
                var bytes = Convert.FromBase64String(text);
                return bytes.Length == 16 ? ToHex(bytes) : null;
            }
            catch (FormatException)
            {
                return null;
            }
        }

        /// <summary>The 16 bytes of an MD5 given as hex or base64 (as <see cref="Normalize"/> accepts); null when it is neither.</summary>
        public static byte[]? ToBytes(string? value)
        {
            var hex = Normalize(value);
            if (hex == null)
            {
                return null;
            }

            var bytes = new byte[16];
            for (var i = 0; i < bytes.Length; i++)
            {
                bytes[i] = (byte)((HexValue(hex[2 * i]) << 4) | HexValue(hex[2 * i + 1]));
            }

            return bytes;
        }

        private static int HexValue(char c) => c <= '9' ? c - '0' : c - 'a' + 10;

        private static bool IsHex(string text)
        {
            foreach (var c in text)
            {
                var isHex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
                if (!isHex)
                {
                    return false;
                }
            }

            return true;
        }
    }
}
