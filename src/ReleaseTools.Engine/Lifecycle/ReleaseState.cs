namespace ReleaseTools.Engine.Lifecycle
{
    /// <summary>
    /// Where a release stands. The numbers are part of the contract (stored as they are, and what other systems that
    /// follow the same lifecycle exchange), so never renumber one.
    /// </summary>
    public enum ReleaseState
    {
        PendingReview = 0,
        Approved = 5,
        Rejected = 6,
        /// <summary>Frozen: package checksums and the rendered config of each environment are locked.</summary>
        Tagged = 11,
        PreDeploying = 21,
        PreDeployed = 22,
        ProdDeploying = 31,
        ProdDeployed = 32,
        Accepted = 40,
        Cancelled = 90,
    }

    /// <summary>What moves a release from one state to the next (see <see cref="ReleaseStateMachine"/>).</summary>
    public enum ReleaseEvent
    {
        Approve,
        Reject,
        Cancel,
        ConfirmTag,
        StartPreDeploy,
        PreDeployCompleted,
        PreDeployFailed,
        StartProdDeploy,
        ProdDeployCompleted,
        ProdDeployFailed,
        FinalAccept,
    }

    /// <summary>The two environments a release is deployed to, in order.</summary>
    public enum ReleaseStage
    {
        PreRelease,
        Production,
    }
}
