using System;
using System.Formats.Asn1;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using YamlDotNet.RepresentationModel;

namespace ReleaseTools.Engine.Floyd
{
    /// <summary>
    /// Loads the RSA private key that signs Floyd requests from PEM PKCS#1 (<c>BEGIN RSA PRIVATE KEY</c>), PEM PKCS#8
    /// (<c>BEGIN PRIVATE KEY</c>), the same DER as bare base64 without armour lines, or a YAML config file whose
    /// <c>privateKey</c> field holds one of those. netstandard2.0 has no PEM/PKCS#8 import, so the DER is parsed here
    /// with System.Formats.Asn1 into RSAParameters.
    /// </summary>
    public static class PrivateKeyLoader
    {
        private const string RsaEncryptionOid = "1.2.840.113549.1.1.1";
        private const string YamlKeyField = "privateKey";

        public static RSA LoadFromFile(string path)
        {
            if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException("A private key path is required.", nameof(path));
            string text;
            try
            {
                text = File.ReadAllText(path);
            }
            catch (Exception ex) when (ex is IOException || ex is UnauthorizedAccessException || ex is NotSupportedException)
            {
                throw new FloydKeyException($"Cannot read the private key file '{path}': {ex.Message}", path, ex);
            }

            return Load(text, $"the private key file '{path}'", path, allowYaml: true);
        }

        public static RSA LoadFromText(string text) => Load(text, "the private key text", null, allowYaml: true);

        private static RSA Load(string text, string source, string? path, bool allowYaml)
        {
            if (text == null) throw new ArgumentNullException(nameof(text));
            var trimmed = text.Trim().TrimStart('\uFEFF');
            if (trimmed.Length == 0)
            {
                throw new FloydKeyException($"{Capital(source)} is empty; give an RSA private key in PEM (PKCS#1 or PKCS#8).", path);
            }

            if (trimmed.IndexOf("-----BEGIN ", StringComparison.Ordinal) >= 0 && !LooksLikeYamlWithKey(trimmed))
            {
                return FromPem(trimmed, source, path);
            }

            if (IsBase64(trimmed))
            {
                return FromDer(DecodeBase64(trimmed, source, path), source, path);
            }

            if (allowYaml)
            {
                var embedded = ReadYamlField(trimmed, source, path);
                return Load(embedded, $"the '{YamlKeyField}' field of {source}", path, allowYaml: false);
            }

            throw new FloydKeyException($"{Capital(source)} is neither PEM nor base64; give an RSA private key in PEM (PKCS#1 or PKCS#8).", path);
        }

        private static RSA FromPem(string text, string source, string? path)
        {
            var begin = text.IndexOf("-----BEGIN ", StringComparison.Ordinal);
            var labelEnd = text.IndexOf("-----", begin + 11, StringComparison.Ordinal);
            if (labelEnd < 0)
            {
                throw new FloydKeyException($"{Capital(source)} has a broken PEM header line.", path);
            }

            var label = text.Substring(begin + 11, labelEnd - begin - 11).Trim();
            var endMarker = "-----END " + label + "-----";
            var end = text.IndexOf(endMarker, labelEnd, StringComparison.Ordinal);
            if (end < 0)
            {
                throw new FloydKeyException($"{Capital(source)} has no '{endMarker}' line; the file may be cut short.", path);
            }

            switch (label)
            {
                case "RSA PRIVATE KEY":
                case "PRIVATE KEY":
                    break;
                case "ENCRYPTED PRIVATE KEY":
                    throw Encrypted(source, path);
                case "PUBLIC KEY":
                case "RSA PUBLIC KEY":
                    throw new FloydKeyException($"{Capital(source)} holds a public key; ReleaseTools signs with the private key (the agent gets the public one).", path);
                case "OPENSSH PRIVATE KEY":
                    throw new FloydKeyException($"{Capital(source)} is in OpenSSH format; convert it with 'ssh-keygen -p -m PEM -f <file>' or 'openssl pkcs8 -topk8 -nocrypt'.", path);
                case "EC PRIVATE KEY":
                case "DSA PRIVATE KEY":
                    throw NotRsa(source, path, label.Split(' ')[0]);
                default:
                    throw new FloydKeyException($"{Capital(source)} is a PEM '{label}' block, not an RSA private key (expected 'RSA PRIVATE KEY' or 'PRIVATE KEY').", path);
            }

            var body = text.Substring(labelEnd + 5, end - labelEnd - 5);
            var base64 = new StringBuilder();
            foreach (var rawLine in body.Split('\n'))
            {
                var line = rawLine.Trim();
                if (line.IndexOf(':') >= 0)
                {
                    // RFC 1421 headers: only the legacy OpenSSL encryption headers appear in practice.
                    if (line.StartsWith("Proc-Type:", StringComparison.OrdinalIgnoreCase) && line.IndexOf("ENCRYPTED", StringComparison.OrdinalIgnoreCase) >= 0)
                    {
                        throw Encrypted(source, path);
                    }

                    continue;
                }

                base64.Append(line);
            }

            var der = DecodeBase64(base64.ToString(), source, path);
            return label == "RSA PRIVATE KEY" ? FromPkcs1(der, source, path) : FromPkcs8(der, source, path);
        }

        /// <summary>Bare base64 carries no label, so the DER structure says which format it is.</summary>
        private static RSA FromDer(byte[] der, string source, string? path)
        {
            try
            {
                var outer = new AsnReader(der, AsnEncodingRules.BER).ReadSequence();
                var first = outer.PeekTag();
                if (first.HasSameClassAndValue(Asn1Tag.Integer))
                {
                    outer.ReadIntegerBytes();
                    var second = outer.PeekTag();
                    if (second.HasSameClassAndValue(Asn1Tag.Sequence))
                    {
                        return FromPkcs8(der, source, path);
                    }

                    return FromPkcs1(der, source, path);
                }

                if (first.HasSameClassAndValue(Asn1Tag.Sequence))
                {
                    outer.ReadSequence();
                    if (outer.PeekTag().HasSameClassAndValue(Asn1Tag.PrimitiveOctetString))
                    {
                        throw Encrypted(source, path);
                    }

                    throw new FloydKeyException($"{Capital(source)} holds a public key; ReleaseTools signs with the private key (the agent gets the public one).", path);
                }
            }
            catch (AsnContentException ex)
            {
                throw Malformed(source, path, ex);
            }

            throw Malformed(source, path, null);
        }

        private static RSA FromPkcs8(byte[] der, string source, string? path)
        {
            byte[] privateKey;
            try
            {
                var info = new AsnReader(der, AsnEncodingRules.BER).ReadSequence();
                info.ReadIntegerBytes();
                var algorithm = info.ReadSequence();
                var oid = algorithm.ReadObjectIdentifier();
                if (oid != RsaEncryptionOid)
                {
                    throw NotRsa(source, path, oid == "1.2.840.10045.2.1" ? "EC" : oid == "1.3.101.112" ? "Ed25519" : "OID " + oid);
                }

                privateKey = info.ReadOctetString();
            }
            catch (AsnContentException ex)
            {
                throw Malformed(source, path, ex);
            }

            return FromPkcs1(privateKey, source, path);
        }

        private static RSA FromPkcs1(byte[] der, string source, string? path)
        {
            RSAParameters parameters;
            try
            {
                var key = new AsnReader(der, AsnEncodingRules.BER).ReadSequence();
                var version = Unsigned(key.ReadIntegerBytes().ToArray());
                if (version.Length > 1 || (version.Length == 1 && version[0] != 0))
                {
                    throw new FloydKeyException($"{Capital(source)} is a multi-prime RSA key, which is not supported; use a two-prime RSA key.", path);
                }

                var modulus = Unsigned(key.ReadIntegerBytes().ToArray());
                var exponent = Unsigned(key.ReadIntegerBytes().ToArray());
                var d = Unsigned(key.ReadIntegerBytes().ToArray());
                var p = Unsigned(key.ReadIntegerBytes().ToArray());
                var q = Unsigned(key.ReadIntegerBytes().ToArray());
                var dp = Unsigned(key.ReadIntegerBytes().ToArray());
                var dq = Unsigned(key.ReadIntegerBytes().ToArray());
                var inverseQ = Unsigned(key.ReadIntegerBytes().ToArray());

                // Windows CNG and Apple Security reject parameters whose sizes are not exactly these.
                var half = (modulus.Length + 1) / 2;
                parameters = new RSAParameters
                {
                    Modulus = modulus,
                    Exponent = exponent,
                    D = PadLeft(d, modulus.Length),
                    P = PadLeft(p, half),
                    Q = PadLeft(q, half),
                    DP = PadLeft(dp, half),
                    DQ = PadLeft(dq, half),
                    InverseQ = PadLeft(inverseQ, half),
                };
            }
            catch (AsnContentException ex)
            {
                throw Malformed(source, path, ex);
            }

            var rsa = RSA.Create();
            try
            {
                rsa.ImportParameters(parameters);
                return rsa;
            }
            catch (CryptographicException ex)
            {
                rsa.Dispose();
                throw new FloydKeyException($"{Capital(source)} holds RSA parameters the platform rejects ({ex.Message}); regenerate the key.", path, ex);
            }
        }

        private static string ReadYamlField(string text, string source, string? path)
        {
            YamlStream yaml;
            try
            {
                yaml = new YamlStream();
                yaml.Load(new StringReader(text));
            }
            catch (Exception ex) when (ex is YamlDotNet.Core.YamlException)
            {
                throw new FloydKeyException($"{Capital(source)} is not PEM, base64 or valid YAML: {ex.Message}", path);
            }

            var root = yaml.Documents.Count > 0 ? yaml.Documents[0].RootNode as YamlMappingNode : null;
            var value = root?.Children
                .Where(child => child.Key is YamlScalarNode key && string.Equals(key.Value, YamlKeyField, StringComparison.OrdinalIgnoreCase))
                .Select(child => child.Value as YamlScalarNode)
                .FirstOrDefault();
            if (value?.Value == null || value.Value.Trim().Length == 0)
            {
                throw new FloydKeyException($"{Capital(source)} is neither a PEM key nor a YAML config with a '{YamlKeyField}' field.", path);
            }

            return value.Value;
        }

        private static bool LooksLikeYamlWithKey(string text) =>
            !text.StartsWith("-----BEGIN ", StringComparison.Ordinal) && text.IndexOf(YamlKeyField, StringComparison.OrdinalIgnoreCase) >= 0;

        private static bool IsBase64(string text) =>
            text.All(c => char.IsWhiteSpace(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=');

        private static byte[] DecodeBase64(string text, string source, string? path)
        {
            try
            {
                var compact = new string(text.Where(c => !char.IsWhiteSpace(c)).ToArray());
                return Convert.FromBase64String(compact);
            }
            catch (FormatException ex)
            {
                throw Malformed(source, path, ex);
            }
        }

        private static byte[] Unsigned(byte[] value)
        {
            var skip = 0;
            while (skip < value.Length - 1 && value[skip] == 0)
            {
                skip++;
            }

            return skip == 0 ? value : value.Skip(skip).ToArray();
        }

        private static byte[] PadLeft(byte[] value, int length)
        {
            if (value.Length >= length)
            {
                return value;
            }

            var padded = new byte[length];
            Buffer.BlockCopy(value, 0, padded, length - value.Length, value.Length);
            return padded;
        }

        private static FloydKeyException Encrypted(string source, string? path) =>
            new FloydKeyException($"{Capital(source)} is encrypted with a passphrase; ReleaseTools needs an unencrypted key (decrypt it with 'openssl pkey -in <file> -out <new file>' and protect the file instead).", path);

        private static FloydKeyException NotRsa(string source, string? path, string kind) =>
            new FloydKeyException($"{Capital(source)} is a {kind} key; Floyd signatures need an RSA key.", path);

        private static FloydKeyException Malformed(string source, string? path, Exception? inner) =>
            new FloydKeyException($"{Capital(source)} is not a well-formed RSA private key (PKCS#1 or PKCS#8 DER); check that it was copied whole.", path, inner);

        private static string Capital(string text) => char.ToUpperInvariant(text[0]) + text.Substring(1);
    }
}
