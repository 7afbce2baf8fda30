using System;
using System.Collections.Concurrent;
using ReleaseTools.Engine.Deployment;

namespace ReleaseTools.Hosting
{
    /// <summary>
    /// The engine raises events on worker threads, but PowerShell only accepts output, errors and progress on the
    /// pipeline thread. This observer queues events; the cmdlet drains the queue on its own thread.
    /// </summary>
    internal sealed class EventQueue : IDeploymentObserver
    {
        private readonly BlockingCollection<DeploymentEvent> _events = new BlockingCollection<DeploymentEvent>();

        public void OnEvent(DeploymentEvent deploymentEvent)
        {
            try
            {
                _events.Add(deploymentEvent);
            }
            catch (InvalidOperationException)
            {
                // The run already ended (or the cmdlet stopped draining): late events have nobody to go to.
            }
        }

        public void Complete() => _events.CompleteAdding();

        /// <summary>Blocks until the next event or the end of the run.</summary>
        public System.Collections.Generic.IEnumerable<DeploymentEvent> Drain() => _events.GetConsumingEnumerable();
    }
}
