using System;
using System.Security.Cryptography;

namespace ReleaseTools.Engine.Floyd
{
    /// <summary>
    /// Signs Floyd requests: RSA PKCS#1 v1.5 over the hash of <see cref="FloydSignatureBase"/>, and formats the
    /// <c>Authorization</c> header as <c>&lt;scheme&gt; &lt;base64 signature&gt;</c>. The one place a signature is made.
    /// </summary>
    public sealed class FloydRequestSigner
    {
        private readonly RSA _privateKey;

        public FloydRequestSigner(RSA privateKey, FloydHashAlgorithm algorithm)
        {
            _privateKey = privateKey ?? throw new ArgumentNullException(nameof(privateKey));
            Algorithm = algorithm;
            FloydProtocol.SchemeFor(algorithm);
        }

        public FloydHashAlgorithm Algorithm { get; }

        public string Scheme => FloydProtocol.SchemeFor(Algorithm);

        /// <summary>Starts a signature base for a body that will be streamed through it.</summary>
        public FloydSignatureBase BeginSignatureBase() => new FloydSignatureBase(Algorithm);

        public byte[] SignHash(byte[] hash) =>
            _privateKey.SignHash(hash, FloydSignatureBase.ToHashAlgorithmName(Algorithm), RSASignaturePadding.Pkcs1);

        public byte[] Sign(byte[] body, string timestamp, string pathAndQuery) =>
            SignHash(FloydSignatureBase.ComputeHash(Algorithm, body, timestamp, pathAndQuery));

        public string FormatAuthorization(byte[] signature) => Scheme + " " + Convert.ToBase64String(signature);

        /// <summary>
        /// Checks a signature against a hash with each key in turn. RSA verification recomputes the padded digest from
        /// the public key and compares it in constant time; no raw signature bytes are compared here.
        /// </summary>
        public static bool Verify(FloydHashAlgorithm algorithm, byte[] hash, byte[] signature, System.Collections.Generic.IEnumerable<RSA> publicKeys)
        {
            var name = FloydSignatureBase.ToHashAlgorithmName(algorithm);
            var verified = false;
            foreach (var key in publicKeys)
            {
                try
                {
                    // No early exit: the time taken does not tell which key (if any) matched.
                    verified |= key.VerifyHash(hash, signature, name, RSASignaturePadding.Pkcs1);
                }
                catch (CryptographicException)
                {
                    // A signature of the wrong length for this key is simply not a match.
                }
            }

            return verified;
        }
    }

    /// <summary>A parsed <c>Authorization</c> header.</summary>
    public sealed class FloydAuthorization
    {
        private FloydAuthorization(FloydHashAlgorithm? algorithm, byte[] signature)
        {
            Algorithm = algorithm;
            Signature = signature;
        }

        /// <summary>The algorithm named by the scheme; null for the legacy form that carries only the base64 signature.</summary>
        public FloydHashAlgorithm? Algorithm { get; }

        public byte[] Signature { get; }

        /// <summary>
        /// Accepts <c>Floyd-RSA-SHA1 &lt;b64&gt;</c>, <c>Floyd-RSA-SHA256 &lt;b64&gt;</c> and the legacy bare <c>&lt;b64&gt;</c>.
        /// <paramref name="unknownScheme"/> is set when a scheme is present but not one of ours.
        /// </summary>
        public static bool TryParse(string? header, out FloydAuthorization? authorization, out string? unknownScheme)
        {
            authorization = null;
            unknownScheme = null;
            if (string.IsNullOrWhiteSpace(header))
            {
                return false;
            }

            var text = header!.Trim();
            var space = text.IndexOf(' ');
            FloydHashAlgorithm? algorithm = null;
            var encoded = text;
            if (space >= 0)
            {
                var scheme = text.Substring(0, space);
                if (!FloydProtocol.TryParseScheme(scheme, out var parsed))
                {
                    unknownScheme = scheme;
                    return false;
                }

                algorithm = parsed;
                encoded = text.Substring(space + 1).Trim();
            }

            byte[] signature;
            try
            {
                signature = Convert.FromBase64String(encoded);
            }
            catch (FormatException)
            {
                return false;
            }

            if (signature.Length == 0)
            {
                return false;
            }

            authorization = new FloydAuthorization(algorithm, signature);
            return true;
        }
    }
}
