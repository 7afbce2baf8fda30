using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment
{
    /// <summary>One instance inside one run: where it is, what it should get, and its latest recorded state.</summary>
    internal sealed class TargetWork
    {
        public TargetWork(InstanceRecord instance, int batch, ReleaseSpec? release, StepFailure? presetFailure = null)
        {
            Instance = instance;
            Batch = batch;
            Release = release;
            PresetFailure = presetFailure;
            Endpoint = new FloydEndpoint { InstanceId = instance.InstanceId, Host = instance.Host, Port = instance.Port };
        }

        public InstanceRecord Instance { get; }
        public FloydEndpoint Endpoint { get; }
        public int Batch { get; }
        /// <summary>Null only with a PresetFailure (a rollback target with nothing to go back to).</summary>
        public ReleaseSpec? Release { get; }
        /// <summary>A failure known before any request, reported when the target's turn comes.</summary>
        public StepFailure? PresetFailure { get; }
        public string TargetVersion => Release?.Version ?? "";

        /// <summary>The state last written to the store (only the run's own worker for this target writes it).</summary>
        public DeploymentTargetRecord Record { get; set; } = new DeploymentTargetRecord();
        public TargetResult? Result { get; set; }
    }
}
