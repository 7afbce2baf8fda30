using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Execution
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
            Endpoint = FloydEndpoint.For(instance);
        }

        /// <summary>A target the run records but leaves alone (a resume whose instance another run has moved since).</summary>
        public static TargetWork Superseded(InstanceRecord instance, int batch, DeploymentTargetRecord owed, string reason) =>
            new TargetWork(instance, batch, null)
            {
                SupersededReason = reason,
                PlannedVersion = owed.TargetVersion,
                PlannedFVersion = owed.TargetFVersion,
            };

        public InstanceRecord Instance { get; }
        public FloydEndpoint Endpoint { get; }
        public int Batch { get; }
        /// <summary>Null only with a PresetFailure (a resumed rollback target with nothing to go back to) or when superseded.</summary>
        public ReleaseSpec? Release { get; }
        /// <summary>A failure known before any request, reported when the target's turn comes.</summary>
        public StepFailure? PresetFailure { get; }
        /// <summary>Set when the run must not touch this instance; it is recorded Superseded with this reason.</summary>
        public string? SupersededReason { get; private set; }
        private string? PlannedVersion { get; set; }
        private string? PlannedFVersion { get; set; }
        public string TargetVersion => Release?.Version ?? PlannedVersion ?? "";
        public string? TargetFVersion => Release?.FVersion ?? PlannedFVersion;

        /// <summary>The state last written to the store (only the run's own worker for this target writes it).</summary>
        public DeploymentTargetRecord Record { get; set; } = new DeploymentTargetRecord();
        public TargetResult? Result { get; set; }
        /// <summary>What the agent reported about activation in this run (health gate, failed hook), for the result.</summary>
        public ActivationOutcome? Activation { get; set; }
    }
}
