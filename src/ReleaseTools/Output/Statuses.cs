namespace ReleaseTools
{
    // The states users filter on (Where-Object Status -eq <Tab> completes them). They belong to the module assembly,
    // not the engine: an engine type in an output type would load before the dependency resolver exists.
    //
    // Each is based on long on purpose: ConvertTo-Json writes Int64-based enums as their names (it writes other enums
    // as numbers unless -EnumsAsStrings is given), so JSON reads "Status": "Failed" in PowerShell 7 and 5.1 alike.
    // Export-Csv and the format views write names either way.

    /// <summary>What the store knows of a registered instance.</summary>
    public enum ServiceInstanceStatus : long
    {
        /// <summary>Registered; no release has reached it yet.</summary>
        Registered,
        Active,
        Failed,
        Unreachable,
    }

    /// <summary>How a recorded deployment or rollback run stands.</summary>
    public enum ReleaseDeploymentStatus : long
    {
        Pending,
        Running,
        Succeeded,
        Failed,
        PartiallySucceeded,
        Cancelled,
        /// <summary>The process that ran it died or lost its leases; Resume-Deployment picks it up.</summary>
        Interrupted,
    }

    /// <summary>How one instance fared in one run (DeploymentResult and DeploymentTarget).</summary>
    public enum DeploymentTargetStatus : long
    {
        Pending,
        Running,
        Succeeded,
        /// <summary>The agent already ran the release; nothing was sent.</summary>
        Unchanged,
        Failed,
        /// <summary>The agent did not answer at all.</summary>
        Unreachable,
        /// <summary>Never attempted: an earlier batch breached the failure policy.</summary>
        Skipped,
        Cancelled,
        /// <summary>Succeeded, then returned to its previous release by -OnFailure Rollback.</summary>
        RolledBack,
        /// <summary>Pending or running when its run's process died; the outcome on the instance is unknown.</summary>
        Interrupted,
        /// <summary>Left alone by a resume: another run moved the instance since, so this run no longer owes it.</summary>
        Superseded,
    }

    /// <summary>Whether a history entry's release stayed on its instance or was undone by the agent.</summary>
    public enum VersionHistoryOutcome : long
    {
        /// <summary>The instance ran this release from then on.</summary>
        Released,
        /// <summary>A hook or the health gate failed on the instance and its agent switched back: it stayed on PreviousVersion.</summary>
        Reverted,
    }

    /// <summary>What a run or a history entry did to its instances.</summary>
    public enum ReleaseOperation : long
    {
        Deploy,
        Rollback,
    }
}
