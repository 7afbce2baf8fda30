using System.Security.Cryptography;
using ReleaseTools.Testing;

namespace ReleaseTools.Cmdlets.Tests;

/// <summary>The key files a user passes by mistake, for the bad-input tables: each must be refused before any request.</summary>
internal static class UnusableKeyFiles
{
    /// <summary>
    /// Writes (or names) a key file of one kind under <paramref name="directory"/>: NOT-PEM, EC, PUBLIC, ENCRYPTED,
    /// EMPTY or MISSING.
    /// </summary>
    public static string Create(string kind, TempDirectory directory, TestKeys keys)
    {
        var path = directory.Combine($"{kind.ToLowerInvariant()}.pem");
        switch (kind)
        {
            case "NOT-PEM":
                File.WriteAllText(path, "this is the ops wiki page about keys, not a key\n");
                break;
            case "EC":
                using (var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256))
                {
                    File.WriteAllText(path, ec.ExportECPrivateKeyPem());
                }

                break;
            case "PUBLIC":
                return keys.PublicKeyPath;
            case "ENCRYPTED":
                File.WriteAllText(path, keys.Rsa.ExportEncryptedPkcs8PrivateKeyPem("secret", new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 1000)));
                break;
            case "EMPTY":
                File.WriteAllText(path, "");
                break;
            case "MISSING":
                return directory.Combine("no-such-key.pem");
        }

        return path;
    }
}
