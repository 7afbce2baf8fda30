namespace ReleaseTools.Engine.Store
{
    /// <summary>Kinds of audit entries the store itself writes, so callers can recognise them in a deployment's trail.</summary>
    public static class StoreAuditKinds
    {
        /// <summary>Someone dropped an instance lease this deployment held; the message names who and why.</summary>
        public const string LeaseForceReleased = "lease-force-released";

        /// <summary>Recovery found the deployment's owner dead or its leases expired and marked it interrupted.</summary>
        public const string Interrupted = "interrupted";

        /// <summary>Leases a run still held after its end was recorded (the store failed between the two writes), freed.</summary>
        public const string EndedRunLeasesFreed = "ended-run-leases-freed";

        /// <summary>A later run resumed this deployment; the message keeps the status it had ended with.</summary>
        public const string Resumed = "resumed";
    }
}
