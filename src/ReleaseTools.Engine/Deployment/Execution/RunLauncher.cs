using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Execution
{
    /// <summary>
    /// The common tail of deploy, rollback and resume: write the deployment record with every target Pending, claim
    /// the instances, then execute. A lost lease race fails the record (targets Skipped) instead of leaving it pending.
    /// </summary>
    internal sealed class RunLauncher
    {
        private readonly IReleaseStore _store;
        private readonly LeaseCoordinator _leases;

        public RunLauncher(IReleaseStore store, LeaseCoordinator leases)
        {
            _store = store;
            _leases = leases;
        }

        public async Task<DeploymentSummary> LaunchAsync(NewDeployment deployment, IReadOnlyList<IReadOnlyList<TargetWork>> batches, RunSettings settings,
            IFloydClient client, EventPublisher events, ReleaseHistoryResolver history, CancellationToken cancellationToken,
            IReadOnlyList<(string Kind, string Message)>? audit = null)
        {
            var targets = batches.SelectMany(b => b).ToList();
            var records = targets.Select(t => new DeploymentTargetRecord
            {
                InstanceId = t.Instance.InstanceId,
                Service = t.Instance.Service,
                Environment = t.Instance.Environment,
                Batch = t.Batch,
                TargetVersion = t.TargetVersion,
                TargetFVersion = t.TargetFVersion,
                FromVersion = t.Instance.Version,
                FromFVersion = t.Instance.FVersion,
                Status = TargetStatus.Pending,
            }).ToList();

            var created = await _store.CreateDeploymentAsync(deployment with { BatchCount = batches.Count }, records, cancellationToken).ConfigureAwait(false);
            var deploymentId = created.DeploymentId;
            events.DeploymentId = deploymentId;
            for (var i = 0; i < targets.Count; i++)
            {
                targets[i].Record = records[i] with { DeploymentId = deploymentId };
            }

            var recorder = new RunRecorder(_store, deploymentId, deployment.Operation);
            foreach (var (kind, message) in audit ?? Array.Empty<(string, string)>())
            {
                await recorder.AuditAsync(kind, message).ConfigureAwait(false);
            }

            try
            {
                // A superseded target is only recorded: its instance belongs to whichever run moved it.
                await _leases.ClaimAsync(deploymentId, targets.Where(t => t.SupersededReason == null).Select(t => t.Instance.InstanceId).ToList(), settings.LeaseWait, cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is DeploymentException || ex is OperationCanceledException)
            {
                var status = ex is OperationCanceledException ? TargetStatus.Cancelled : TargetStatus.Skipped;
                foreach (var target in targets)
                {
                    await recorder.MarkAsync(target, status, $"Not attempted: {ex.Message}").ConfigureAwait(false);
                }

                await recorder.AuditAsync("lease", ex.Message).ConfigureAwait(false);
                await _store.SetDeploymentStatusAsync(deploymentId,
                    ex is OperationCanceledException ? DeploymentStatus.Cancelled : DeploymentStatus.Failed, CancellationToken.None).ConfigureAwait(false);
                await _leases.ReleaseAsync(deploymentId).ConfigureAwait(false);
                throw;
            }

            var context = new RunContext(deploymentId, deployment.Operation, batches, settings, client, events, recorder, history);
            try
            {
                return await new RunExecutor(context, _store, _leases).ExecuteAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (StoreException)
            {
                // The store failed under the run (a full disk, a read-only file, a server gone): what it recorded stands, but
                // not the run's end. This process works on it no more, so the next command that reaches the store marks it
                // Interrupted and frees its instances, and Resume-Deployment finishes it; otherwise its leases, held by a
                // live process, would block both until they expire.
                ProcessIdentity.Abandon(deploymentId);
                throw;
            }
        }

        public static NewDeployment Describe(DeploymentOperation operation, RunSettings settings, IEnumerable<TargetWork> targets, string targetVersion,
            RunParameters parameters, string? resumedFrom)
        {
            var list = targets.ToList();
            var releases = list.Where(t => t.Release != null).Select(t => t.Release!).Distinct().ToList();
            var packages = releases.Select(r => (r.Package.Source, r.Package.Md5)).Distinct().ToList();
            var fversions = releases.Select(r => r.FVersion).Distinct().ToList();
            return new NewDeployment
            {
                Operation = operation,
                Service = string.Join(",", list.Select(t => t.Instance.Service).Distinct(StringComparer.Ordinal).OrderBy(s => s, StringComparer.Ordinal)),
                TargetVersion = targetVersion,
                PackageUrl = packages.Count == 1 ? packages[0].Source : null,
                PackageMd5 = packages.Count == 1 ? packages[0].Md5 : null,
                FVersion = fversions.Count == 1 ? fversions[0] : null,
                InitiatedBy = string.IsNullOrWhiteSpace(settings.InitiatedBy) ? System.Environment.UserName : settings.InitiatedBy!,
                InitiatedFrom = string.IsNullOrWhiteSpace(settings.InitiatedFrom) ? System.Environment.MachineName : settings.InitiatedFrom!,
                ParametersJson = parameters.ToJson(),
                ResumedFrom = resumedFrom,
            };
        }
    }
}
