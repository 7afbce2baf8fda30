using System.Security.Cryptography;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Agent.Security;

/// <summary>The public keys whose signatures the agent accepts.</summary>
public sealed class AuthorizedKeys : IDisposable
{
    /// <summary>Smaller RSA keys can be factored by a determined attacker; NIST retired them in 2013.</summary>
    public const int MinimumKeySizeBits = 2048;

    private readonly List<RSA> _keys;
    private readonly List<string> _sources;

    private AuthorizedKeys(List<RSA> keys, List<string> sources)
    {
        _keys = keys;
        _sources = sources;
    }

    public IReadOnlyList<RSA> Keys => _keys;

    public static AuthorizedKeys Load(IEnumerable<string> files, IEnumerable<string> pemTexts)
    {
        var keys = new List<RSA>();
        var sources = new List<string>();
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

            AddAll(keys, sources, ParsePems(text, $"the authorized key file '{file}'"));
        }

        foreach (var pem in pemTexts)
        {
            AddAll(keys, sources, ParsePems(pem, "an authorized key given as text"));
        }

        if (keys.Count == 0)
        {
            throw new InvalidOperationException("No authorized key was given; pass --authorized-key <public.pem> (it may repeat).");
        }

        return new AuthorizedKeys(keys, sources);
    }

    /// <summary>
    /// Checks, before the agent listens, that every key can check a request's signature on this host: a signature base
    /// hashed with the agent's algorithm, and a signature of the key's length that cannot match, verified the way
    /// <see cref="SignedRequest"/> verifies one. A key the platform's cryptography library takes apart but will not use
    /// with that hash (a crypto policy that refuses SHA-1 signatures, for example) fails here, naming the key, instead of
    /// every deployment failing as an invalid signature. It also means the library's RSA and hash code is loaded at start
    /// rather than during the first deployment.
    /// </summary>
    public void RequireCanVerify(FloydHashAlgorithm algorithm)
    {
        for (var i = 0; i < _keys.Count; i++)
        {
            RequireCanVerify(_keys[i], _sources[i], algorithm);
        }
    }

    /// <summary>The check of <see cref="RequireCanVerify(FloydHashAlgorithm)"/> for one key, <paramref name="description"/> naming it.</summary>
    public static void RequireCanVerify(RSA key, string description, FloydHashAlgorithm algorithm)
    {
        ArgumentNullException.ThrowIfNull(key);
        byte[] hash;
        using (var probe = new FloydSignatureBase(algorithm))
        {
            probe.AppendBody(new byte[1], 0, 1);
            hash = probe.Complete("0", FloydProtocol.PingPath);
        }

        bool accepted;
        try
        {
            accepted = key.VerifyHash(hash, new byte[(key.KeySize + 7) / 8], FloydSignatureBase.ToHashAlgorithmName(algorithm), RSASignaturePadding.Pkcs1);
        }
        catch (CryptographicException ex)
        {
            throw new InvalidOperationException(
                $"{description} cannot verify {FloydProtocol.SchemeFor(algorithm)} signatures on this host ({ex.Message}). Check the host's cryptography policy, or configure another hash algorithm (hashAlgorithm) on the agent and its clients.", ex);
        }

        if (accepted)
        {
            throw new InvalidOperationException(
                $"{description} accepted a signature that cannot be valid: this host's cryptography library cannot be trusted to verify requests.");
        }
    }

    private static void AddAll(List<RSA> keys, List<string> sources, IEnumerable<(RSA Key, string Source)> found)
    {
        foreach (var (key, source) in found)
        {
            keys.Add(key);
            sources.Add(source);
        }
    }

    /// <summary>Every PEM block of a file is one key, so one file can list several, like an authorized_keys file.</summary>
    private static IEnumerable<(RSA Key, string Source)> ParsePems(string text, string source)
    {
        var found = new List<(RSA, string)>();
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

            found.Add((publicOnly, $"The RSA key '{label}' in {source}"));
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
