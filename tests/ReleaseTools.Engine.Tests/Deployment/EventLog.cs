using System.Collections.Concurrent;
using ReleaseTools.Engine.Deployment;

namespace ReleaseTools.Engine.Tests.Deployment;

/// <summary>Keeps every event a run publishes; can run an action on the first event that matches.</summary>
public sealed class EventLog : IDeploymentObserver
{
    private readonly ConcurrentQueue<DeploymentEvent> _events = new();
    private Func<DeploymentEvent, bool>? _trigger;
    private Action? _action;

    public IReadOnlyList<DeploymentEvent> Events => _events.ToArray();

    public IEnumerable<T> Of<T>() where T : DeploymentEvent => Events.OfType<T>();

    public void When(Func<DeploymentEvent, bool> trigger, Action action)
    {
        _trigger = trigger;
        _action = action;
    }

    public void OnEvent(DeploymentEvent deploymentEvent)
    {
        _events.Enqueue(deploymentEvent);
        if (_trigger != null && _trigger(deploymentEvent))
        {
            var action = Interlocked.Exchange(ref _action, null);
            action?.Invoke();
        }
    }
}
