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
        /// <summary>
        /// Has the agent install and start the release: unpack, switch, hooks, health gate. Fails with the agent's
        /// activation report (<see cref="FloydException.Activation"/>) when a hook or the gate failed and it went back.
        /// </summary>
        Task<ActivationResult> ActivateAsync(FloydEndpoint endpoint, ActivateRequest request, CancellationToken cancellationToken);
        Task<AgentStatus> GetStatusAsync(FloydEndpoint endpoint, CancellationToken cancellationToken);
    }
}
