using System;
using System.Security.Cryptography;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Engine.Deployment.Execution
{
    /// <summary>
    /// The one Floyd client of a run (its connection pool serves every instance) and the key it signs with; both are
    /// disposed when the run ends. An unusable key stops the run before anything is downloaded or recorded.
    /// </summary>
    internal sealed class FloydClientHandle : IDisposable
    {
        private readonly IDisposable? _key;

        private FloydClientHandle(IFloydClient client, IDisposable? key)
        {
            Client = client;
            _key = key;
        }

        public IFloydClient Client { get; }

        public static FloydClientHandle Create(RunSettings settings, Func<RunSettings, IFloydClient>? factory)
        {
            if (factory != null)
            {
                return new FloydClientHandle(Wrap(settings, () => factory(settings)), null);
            }

            if (string.IsNullOrWhiteSpace(settings.PrivateKeyPath))
            {
                throw new DeploymentException(EngineErrorIds.PrivateKeyUnusable, DeploymentErrorKind.InvalidArgument,
                    "No private key was given. Pass the path of the PEM private key whose public key the Floyd agents trust.");
            }

            RSA? key = null;
            try
            {
                key = Wrap(settings, () => PrivateKeyLoader.LoadFromFile(settings.PrivateKeyPath));
                var signingKey = key;
                return new FloydClientHandle(Wrap(settings, () => FloydClient.Create(signingKey, settings.Floyd)), key);
            }
            catch
            {
                key?.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            (Client as IDisposable)?.Dispose();
            _key?.Dispose();
        }

        private static T Wrap<T>(RunSettings settings, Func<T> create)
        {
            try
            {
                return create();
            }
            catch (DeploymentException)
            {
                throw;
            }
            catch (Exception ex)
            {
                throw new DeploymentException(EngineErrorIds.PrivateKeyUnusable, DeploymentErrorKind.SecurityError,
                    $"The private key '{settings.PrivateKeyPath}' cannot be used to sign Floyd requests: {ex.Message} " +
                    "Give an RSA private key in PEM form (PKCS#1 or PKCS#8) or a config file with a privateKey field.",
                    settings.PrivateKeyPath, ex);
            }
        }
    }
}
