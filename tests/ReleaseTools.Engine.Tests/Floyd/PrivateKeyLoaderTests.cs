using System.Security.Cryptography;
using System.Text;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Floyd;

public sealed class PrivateKeyLoaderTests : IDisposable
{
    private readonly TempDirectory _temp = new("floyd-keys");
    private readonly TestKeys _keys;

    public PrivateKeyLoaderTests() => _keys = TestKeys.Create(_temp.Path);

    public void Dispose()
    {
        _keys.Dispose();
        _temp.Dispose();
    }

    [Fact]
    public void Pkcs1_pem_file_loads() => AssertSameKey(PrivateKeyLoader.LoadFromFile(_keys.Pkcs1PrivateKeyPath));

    [Fact]
    public void Pkcs8_pem_file_loads() => AssertSameKey(PrivateKeyLoader.LoadFromFile(_keys.Pkcs8PrivateKeyPath));

    [Fact]
    public void Pkcs1_bare_base64_without_armour_loads() => AssertSameKey(PrivateKeyLoader.LoadFromText(WithoutArmour(_keys.Pkcs1PrivateKeyPem)));

    [Fact]
    public void Pkcs8_bare_base64_without_armour_loads() => AssertSameKey(PrivateKeyLoader.LoadFromText(WithoutArmour(_keys.Pkcs8PrivateKeyPem)));

    [Fact]
    public void Bare_base64_on_one_line_loads() => AssertSameKey(PrivateKeyLoader.LoadFromText(WithoutArmour(_keys.Pkcs8PrivateKeyPem).Replace("\n", "")));

    [Fact]
    public void Pem_with_windows_line_endings_loads() => AssertSameKey(PrivateKeyLoader.LoadFromText(_keys.Pkcs1PrivateKeyPem.Replace("\n", "\r\n")));

    [Fact]
    public void Yaml_config_privateKey_field_with_pem_loads()
    {
        var indented = string.Join("\n", _keys.Pkcs1PrivateKeyPem.Split('\n').Select(line => "  " + line));
        var path = _temp.WriteFile("floyd.yaml", $"agentPort: 7070\nprivateKey: |\n{indented}\nenvironment: prod\n");

        AssertSameKey(PrivateKeyLoader.LoadFromFile(path));
    }

    [Fact]
    public void Yaml_config_privateKey_field_with_bare_base64_loads()
    {
        var path = _temp.WriteFile("floyd.yaml", $"privateKey: {WithoutArmour(_keys.Pkcs8PrivateKeyPem).Replace("\n", "")}\n");

        AssertSameKey(PrivateKeyLoader.LoadFromFile(path));
    }

    [Fact]
    public void Keys_whose_parameters_have_leading_zero_bytes_load_and_sign()
    {
        // About one key in a hundred has a D, DP, DQ or InverseQ shorter than its slot; they need padding on import.
        var found = 0;
        for (var attempt = 0; attempt < 3000 && found < 3; attempt++)
        {
            using var rsa = RSA.Create(512);
            var parameters = rsa.ExportParameters(true);
            if (parameters.D![0] != 0 && parameters.DP![0] != 0 && parameters.DQ![0] != 0 && parameters.InverseQ![0] != 0 && parameters.P![0] != 0 && parameters.Q![0] != 0)
            {
                continue;
            }

            found++;
            foreach (var pem in new[] { rsa.ExportRSAPrivateKeyPem(), rsa.ExportPkcs8PrivateKeyPem() })
            {
                using var loaded = PrivateKeyLoader.LoadFromText(pem);
                var signature = loaded.SignData(new byte[] { 1, 2, 3 }, HashAlgorithmName.SHA1, RSASignaturePadding.Pkcs1);
                Assert.True(rsa.VerifyData(new byte[] { 1, 2, 3 }, signature, HashAlgorithmName.SHA1, RSASignaturePadding.Pkcs1));
            }
        }

        Assert.True(found > 0, "no key with a short parameter turned up in 3000 tries");
    }

    [Fact]
    public void Encrypted_pkcs8_key_is_refused_with_the_path_and_without_key_material()
    {
        var encrypted = _keys.Rsa.ExportEncryptedPkcs8PrivateKeyPem("secret".AsSpan(),
            new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 1000));
        var path = _temp.WriteFile("encrypted.pem", encrypted);

        var error = Assert.Throws<FloydKeyException>(() => PrivateKeyLoader.LoadFromFile(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("encrypted", error.Message);
        Assert.Equal(path, error.KeyPath);
        AssertNoKeyMaterial(error, encrypted);
    }

    [Fact]
    public void Legacy_encrypted_pkcs1_key_is_refused()
    {
        var lines = _keys.Pkcs1PrivateKeyPem.Split('\n').ToList();
        lines.Insert(1, "Proc-Type: 4,ENCRYPTED");
        lines.Insert(2, "DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF");
        lines.Insert(3, "");

        var error = Assert.Throws<FloydKeyException>(() => PrivateKeyLoader.LoadFromText(string.Join("\n", lines)));

        Assert.Contains("encrypted", error.Message);
    }

    [Fact]
    public void Public_key_is_refused_with_a_clear_message()
    {
        var error = Assert.Throws<FloydKeyException>(() => PrivateKeyLoader.LoadFromFile(_keys.PublicKeyPath));

        Assert.Contains("public key", error.Message);
        AssertNoKeyMaterial(error, _keys.PublicKeyPem);
    }

    [Fact]
    public void Ec_key_is_refused_as_not_rsa()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var path = _temp.WriteFile("ec.pem", ec.ExportPkcs8PrivateKeyPem());

        var error = Assert.Throws<FloydKeyException>(() => PrivateKeyLoader.LoadFromFile(path));

        Assert.Contains("EC", error.Message);
        Assert.Contains("RSA", error.Message);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Yaml_without_privateKey_is_refused()
    {
        var path = _temp.WriteFile("other.yaml", "agentPort: 7070\nenvironment: prod\n");

        var error = Assert.Throws<FloydKeyException>(() => PrivateKeyLoader.LoadFromFile(path));

        Assert.Contains("privateKey", error.Message);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Truncated_key_is_refused_without_key_material()
    {
        var truncated = WithoutArmour(_keys.Pkcs1PrivateKeyPem)[..200];

        var error = Assert.Throws<FloydKeyException>(() => PrivateKeyLoader.LoadFromText(truncated));

        AssertNoKeyMaterial(error, truncated);
    }

    [Fact]
    public void Missing_file_is_refused_with_its_path()
    {
        var path = _temp.Combine("absent.pem");

        var error = Assert.Throws<FloydKeyException>(() => PrivateKeyLoader.LoadFromFile(path));

        Assert.Contains(path, error.Message);
    }

    private void AssertSameKey(RSA loaded)
    {
        using (loaded)
        {
            Assert.Equal(_keys.Rsa.ExportParameters(false).Modulus, loaded.ExportParameters(false).Modulus);
            var data = Encoding.UTF8.GetBytes("floyd");
            var signature = loaded.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            Assert.True(_keys.Rsa.VerifyData(data, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        }
    }

    private static string WithoutArmour(string pem) =>
        string.Join("\n", pem.Split('\n').Where(line => !line.StartsWith("-----", StringComparison.Ordinal)));

    private static void AssertNoKeyMaterial(Exception error, string keyText)
    {
        var text = error.ToString();
        foreach (var line in keyText.Split('\n').Where(l => l.Length >= 40 && !l.StartsWith("-----", StringComparison.Ordinal)))
        {
            Assert.DoesNotContain(line[..40], text);
        }
    }
}
