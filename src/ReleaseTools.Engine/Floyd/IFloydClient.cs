using System.Threading;
using System.Threading.Tasks;

namespace ReleaseTools.Engine.Floyd
{
    /// <summary>The Floyd protocol as the engine uses it. Every request is signed; every failure is a <see cref="FloydException"/>.</summary>
    public interface IFloydClient
    {
        Task<AgentHealth> CheckHealthAsync(FloydEndpoint endpoint, CancellationToken cancellationToken);
        /// <summary>Read-only: asks whether the agent needs the package and the config, and what it runs now.</summary>
        Task<PingResponse> PingAsync(FloydEndpoint endpoint, PingRequest request, CancellationToken cancellationToken);
        Task PushPackageAsync(FloydEndpoint endpoint, PackagePush push, CancellationToken cancellationToken);
        Task PushConfigAsync(FloydEndpoint endpoint, ConfigPush push, CancellationToken cancellationToken);
        /// <summary>Switches the agent's active release for the service atomically; fails if the package or config is missing.</summary>
        Task ActivateAsync(FloydEndpoint endpoint, ActivateRequest request, CancellationToken cancellationToken);
        Task<AgentStatus> GetStatusAsync(FloydEndpoint endpoint, CancellationToken cancellationToken);
    }
}
