using System;

namespace ReleaseTools.Engine.Deployment
{
    /// <summary>Hands events to the caller's observer; a failing observer never corrupts the run or its record.</summary>
    internal sealed class EventPublisher
    {
        private readonly IDeploymentObserver? _observer;

        public EventPublisher(IDeploymentObserver? observer)
        {
            _observer = observer;
        }

        public string DeploymentId { get; set; } = "";

        public void Publish(DeploymentEvent deploymentEvent)
        {
            if (_observer == null)
            {
                return;
            }

            try
            {
                _observer.OnEvent(deploymentEvent with { DeploymentId = DeploymentId, Timestamp = DateTimeOffset.UtcNow });
            }
            catch (Exception)
            {
                // The observer is the caller's code (a cmdlet queue); the store, not the event stream, is the record of truth.
            }
        }

        public void Warn(string message) => Publish(new DeploymentWarning { Message = message });

        public void Note(string message) => Publish(new DeploymentNote { Message = message });
    }
}
