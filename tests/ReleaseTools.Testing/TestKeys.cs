using System.Security.Cryptography;

namespace ReleaseTools.Testing;

/// <summary>
/// A freshly generated RSA key written to a directory as PEM: the private key in PKCS#1 and PKCS#8, and the public
/// key (SubjectPublicKeyInfo) the agent trusts.
/// </summary>
public sealed class TestKeys : IDisposable
{
    private TestKeys(RSA rsa, string directory, string name)
    {
        Rsa = rsa;
        Directory = directory;
        Pkcs1PrivateKeyPem = rsa.ExportRSAPrivateKeyPem();
        Pkcs8PrivateKeyPem = rsa.ExportPkcs8PrivateKeyPem();
        PublicKeyPem = rsa.ExportSubjectPublicKeyInfoPem();
        Pkcs1PrivateKeyPath = Write($"{name}.pkcs1.pem", Pkcs1PrivateKeyPem);
        Pkcs8PrivateKeyPath = Write($"{name}.pkcs8.pem", Pkcs8PrivateKeyPem);
        PublicKeyPath = Write($"{name}.pub.pem", PublicKeyPem);
    }

    /// <summary>The key itself, private half included.</summary>
    public RSA Rsa { get; }

    public string Directory { get; }
    public string Pkcs1PrivateKeyPem { get; }
    public string Pkcs8PrivateKeyPem { get; }
    public string PublicKeyPem { get; }
    public string Pkcs1PrivateKeyPath { get; }
    public string Pkcs8PrivateKeyPath { get; }
    public string PublicKeyPath { get; }

    /// <param name="directory">Where the PEM files go (usually a <see cref="TempDirectory"/>).</param>
    /// <param name="name">File name stem, so several keys can share a directory.</param>
    public static TestKeys Create(string directory, string name = "floyd", int keySizeBits = 2048)
    {
        System.IO.Directory.CreateDirectory(directory);
        return new TestKeys(RSA.Create(keySizeBits), directory, name);
    }

    private string Write(string fileName, string text)
    {
        var path = Path.Combine(Directory, fileName);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose() => Rsa.Dispose();
}
