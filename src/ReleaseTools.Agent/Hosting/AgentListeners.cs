using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ReleaseTools.Agent.Hosting;

/// <summary>
/// Binds each address of <see cref="FloydAgentOptions.Urls"/> itself rather than through <c>UseUrls</c>, so that every
/// listener speaks HTTP/1.1 (the protocol's transport) and https ones serve the agent's certificate.
/// </summary>
public static class AgentListeners
{
    public static void Configure(KestrelServerOptions kestrel, FloydAgentOptions options, X509Certificate2? certificate, ServerRejections rejections)
    {
        foreach (var url in options.Urls)
        {
            var address = BindingAddress.Parse(url);
            var https = address.Scheme.Equals("https", StringComparison.OrdinalIgnoreCase);
            if (!https && !address.Scheme.Equals("http", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"The address '{url}' must start with http:// or https://.");
            }

            if (https && certificate == null)
            {
                throw new InvalidOperationException($"The address '{url}' is https: give the agent its certificate with --tls-certificate <file> (tlsCertificate in the config file).");
            }

            void Listener(ListenOptions listen)
            {
                listen.Protocols = HttpProtocols.Http1;
                if (https)
                {
                    listen.UseHttps(certificate!);
                }

                // After TLS: it reads the plain HTTP the server writes.
                listen.Use(rejections.Middleware);
            }

            if (address.IsUnixPipe)
            {
                kestrel.ListenUnixSocket(address.UnixPipePath, Listener);
            }
            else if (address.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
            {
                kestrel.Listen(IPAddress.Loopback, address.Port, Listener);
            }
            else if (IPAddress.TryParse(address.Host.Trim('[', ']'), out var ip))
            {
                kestrel.Listen(ip, address.Port, Listener);
            }
            else
            {
                // "*", "+" or a host name: every interface, as Kestrel's own address binding does.
                kestrel.ListenAnyIP(address.Port, Listener);
            }
        }
    }

    /// <summary>
    /// The agent's TLS certificate with its private key: a PKCS#12 file (.pfx, .p12), or a PEM certificate with its key
    /// in the same file or in <paramref name="keyPath"/>; <paramref name="password"/> opens a PKCS#12 file or an encrypted PEM key.
    /// </summary>
    public static X509Certificate2? LoadCertificate(string? path, string? keyPath, string? password)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            if (!string.IsNullOrWhiteSpace(keyPath))
            {
                throw new InvalidOperationException("--tls-certificate-key needs --tls-certificate.");
            }

            return null;
        }

        X509Certificate2 certificate;
        try
        {
            var pem = File.ReadAllText(path).Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal);
            if (!pem)
            {
                certificate = X509CertificateLoader.LoadPkcs12FromFile(path, password);
            }
            else
            {
                using var fromPem = string.IsNullOrEmpty(password)
                    ? X509Certificate2.CreateFromPemFile(path, keyPath)
                    : X509Certificate2.CreateFromEncryptedPemFile(path, password, keyPath);
                // A key read from PEM is ephemeral, which Windows' TLS cannot use: a PKCS#12 round trip gives it a usable one.
                certificate = X509CertificateLoader.LoadPkcs12(fromPem.Export(X509ContentType.Pkcs12), null);
            }
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new InvalidOperationException($"Cannot load the TLS certificate '{path}'{(keyPath == null ? "" : $" with the key '{keyPath}'")}: {ex.Message}", ex);
        }

        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new InvalidOperationException($"The TLS certificate '{path}' has no private key; give the key with --tls-certificate-key <file>, or a .pfx that holds it.");
        }

        return certificate;
    }
}
