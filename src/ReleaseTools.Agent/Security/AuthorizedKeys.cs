using System.Security.Cryptography;

namespace ReleaseTools.Agent.Security;

/// <summary>The public keys whose signatures the agent accepts.</summary>
public sealed class AuthorizedKeys : IDisposable
{
    /// <summary>Smaller RSA keys can be factored by a determined attacker; NIST retired them in 2013.</summary>
    public const int MinimumKeySizeBits = 2048;

    private readonly List<RSA> _keys;

    private AuthorizedKeys(List<RSA> keys) => _keys = keys;

    public IReadOnlyList<RSA> Keys => _keys;

    public static AuthorizedKeys Load(IEnumerable<string> files, IEnumerable<string> pemTexts)
    {
        var keys = new List<RSA>();
        foreach (var file in files)
        {
            string text;
            try
            {
                text = File.ReadAllText(file);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new InvalidOperationException($"Cannot read the authorized key file '{file}': {ex.Message}", ex);
            }

            keys.AddRange(ParsePems(text, $"the authorized key file '{file}'"));
        }

        foreach (var pem in pemTexts)
        {
            keys.AddRange(ParsePems(pem, "an authorized key given as text"));
        }

        if (keys.Count == 0)
        {
            throw new InvalidOperationException("No authorized key was given; pass --authorized-key <public.pem> (it may repeat).");
        }

        return new AuthorizedKeys(keys);
    }

    /// <summary>Every PEM block of a file is one key, so one file can list several, like an authorized_keys file.</summary>
    private static IEnumerable<RSA> ParsePems(string text, string source)
    {
        var found = new List<RSA>();
        var remaining = text.AsMemory();
        while (PemEncoding.TryFind(remaining.Span, out var fields))
        {
            var block = remaining[fields.Location];
            var label = remaining.Span[fields.Label].ToString();
            var rsa = RSA.Create();
            try
            {
                rsa.ImportFromPem(block.Span);
            }
            catch (Exception ex) when (ex is ArgumentException or CryptographicException)
            {
                rsa.Dispose();
                throw new InvalidOperationException($"The PEM block '{label}' in {source} is not an RSA key: {ex.Message}", ex);
            }

            // Keep only the public half even if someone pointed the agent at a private key file.
            var publicOnly = RSA.Create();
            publicOnly.ImportParameters(rsa.ExportParameters(false));
            rsa.Dispose();
            if (publicOnly.KeySize < MinimumKeySizeBits)
            {
                var bits = publicOnly.KeySize;
                publicOnly.Dispose();
                throw new InvalidOperationException(
                    $"The RSA key '{label}' in {source} is {bits} bits; the agent refuses keys under {MinimumKeySizeBits} bits. Create a new key (for example 'openssl genrsa -out deployer.pem 3072'), give the client its private half and the agent its public half.");
            }

            found.Add(publicOnly);
            remaining = remaining[fields.Location.End..];
        }

        if (found.Count == 0)
        {
            throw new InvalidOperationException($"No PEM key found in {source}; expected '-----BEGIN PUBLIC KEY-----'.");
        }

        return found;
    }

    public void Dispose()
    {
        foreach (var key in _keys)
        {
            key.Dispose();
        }
    }
}
