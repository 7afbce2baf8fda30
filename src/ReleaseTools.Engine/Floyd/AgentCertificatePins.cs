using System;
using System.Collections.Generic;
using System.Linq;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ReleaseTools.Engine.Floyd
{
    /// <summary>Agent certificates trusted by their SHA-256 fingerprint (docs/floyd-protocol.md, section 11.4).</summary>
    public static class AgentCertificatePins
    {
        /// <summary>The lowercase hex SHA-256 of the certificate's DER bytes, as <c>openssl x509 -fingerprint -sha256</c> shows it (without colons).</summary>
        public static string Fingerprint(X509Certificate certificate)
        {
            if (certificate == null) throw new ArgumentNullException(nameof(certificate));
            using (var sha256 = SHA256.Create())
            {
                return FVersion.ToLowerHex(sha256.ComputeHash(certificate.GetRawCertData()));
            }
        }

        /// <summary>Normalises fingerprints as people copy them (colons, spaces, any case); refuses anything that is not 64 hex digits.</summary>
        public static HashSet<string> From(IEnumerable<string>? fingerprints)
        {
            var pins = new HashSet<string>(StringComparer.Ordinal);
            foreach (var text in fingerprints ?? Array.Empty<string>())
            {
                pins.Add(Normalize(text)
                    ?? throw new ArgumentException($"'{text}' is not a SHA-256 certificate fingerprint (64 hexadecimal digits, colons allowed).", nameof(fingerprints)));
            }

            return pins;
        }

        /// <summary>The fingerprint as 64 lowercase hex digits (colons, spaces and case as people copy them removed), or null when it is not one.</summary>
        public static string? Normalize(string? text)
        {
            var hex = new string((text ?? "").Where(c => c != ':' && !char.IsWhiteSpace(c)).ToArray()).ToLowerInvariant();
            return hex.Length == 64 && hex.All(c => (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) ? hex : null;
        }
    }
}
