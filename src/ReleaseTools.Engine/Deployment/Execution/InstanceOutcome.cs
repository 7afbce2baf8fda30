namespace ReleaseTools.Engine.Deployment.Execution
{
    /// <summary>What the protocol steps did on one instance.</summary>
    internal sealed record InstanceOutcome
    {
        public string? FromVersion { get; init; }
        public string? FromFVersion { get; init; }
        public bool Unchanged { get; init; }
        public bool PackageTransferred { get; init; }
        public bool ConfigTransferred { get; init; }
        public long PackageBytes { get; init; }
        public int Attempts { get; init; } = 1;
        /// <summary>Null on success.</summary>
        public StepFailure? Failure { get; init; }
        /// <summary>The package pushed (or that the agent already held), for the history row.</summary>
        public string? PackageMd5 { get; init; }
        /// <summary>The agent's activation report (health gate, failed hook), when activation was reached.</summary>
        public ActivationOutcome? Activation { get; init; }
    }
}
