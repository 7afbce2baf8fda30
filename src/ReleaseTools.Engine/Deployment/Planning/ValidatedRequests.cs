using System.Collections.Generic;
using ReleaseTools.Engine.Packages;

namespace ReleaseTools.Engine.Deployment.Planning
{
    /// <summary>A deployment request that passed every check that needs no network or store: the same for a run and its dry run.</summary>
    internal sealed class ValidatedDeployment
    {
        private ValidatedDeployment(DeploymentRequest request)
        {
            RequestValidator.ValidateSettings(request.Settings);
            RequestValidator.ValidateVersion(request.Version, "version");
            InstanceIds = RequestValidator.RequireInstances(request.InstanceIds, request.Settings.Batches);
            Batches = BatchPlanner.Split(InstanceIds, request.Settings.Batches);
            Renderer = ConfigRenderer.Load(request.Config);
            Location = PackageLocation.Parse(request.PackageUrl, request.AllowLocalPackage);
            Checksum = PackageAcquirer.NormalizeChecksum(request.Checksum);
        }

        public IReadOnlyList<string> InstanceIds { get; }
        public IReadOnlyList<IReadOnlyList<string>> Batches { get; }
        public ConfigRenderer Renderer { get; }
        public PackageLocation Location { get; }
        /// <summary>Expected MD5 as lowercase hex, or null.</summary>
        public string? Checksum { get; }

        public static ValidatedDeployment From(DeploymentRequest request) => new ValidatedDeployment(request);
    }

    /// <summary>A rollback request that passed its offline checks: the same for a run and its dry run.</summary>
    internal sealed class ValidatedRollback
    {
        private ValidatedRollback(RollbackRequest request)
        {
            RequestValidator.ValidateSettings(request.Settings);
            if (request.Version != null)
            {
                RequestValidator.ValidateVersion(request.Version, "rollback version");
            }

            InstanceIds = RequestValidator.RequireInstances(request.InstanceIds, request.Settings.Batches);
            Batches = BatchPlanner.Split(InstanceIds, request.Settings.Batches);
        }

        public IReadOnlyList<string> InstanceIds { get; }
        public IReadOnlyList<IReadOnlyList<string>> Batches { get; }

        public static ValidatedRollback From(RollbackRequest request) => new ValidatedRollback(request);
    }
}
