using System;
using System.Linq;
using System.Management.Automation;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Sets the store's approval rules for every release in it: approvals needed, whether a release's creator may approve it,
    /// and who may approve. Parameters not given keep their value.
    /// </summary>
    [Cmdlet(VerbsCommon.Set, "ReleasePolicy", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, RemotingCapability = RemotingCapability.None)]
    [OutputType(typeof(ReleasePolicy))]
    public sealed class SetReleasePolicyCommand : ReleaseToolsCmdlet
    {
        /// <summary>Distinct approvals of the same content a release needs before it is Approved.</summary>
        [Parameter]
        [ValidateRange(1, 100)]
        public int RequiredApprovals { get; set; } = 1;

        /// <summary>Whether the person who created a release may approve it.</summary>
        [Parameter]
        public bool AllowSelfApproval { get; set; } = true;

        /// <summary>The only people who may approve (as Build.RequestedFor or the OS user names them); an empty list lets anyone approve.</summary>
        [Parameter]
        [AllowEmptyCollection]
        public string[]? Approver { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void EndProcessing()
        {
            var current = Await(token => Session.Store.Lifecycle.GetReleasePolicyAsync(token));
            var bound = MyInvocation.BoundParameters;
            var policy = current with
            {
                RequiredApprovals = bound.ContainsKey(nameof(RequiredApprovals)) ? RequiredApprovals : current.RequiredApprovals,
                AllowSelfApproval = bound.ContainsKey(nameof(AllowSelfApproval)) ? AllowSelfApproval : current.AllowSelfApproval,
                Approvers = bound.ContainsKey(nameof(Approver))
                    ? (Approver ?? Array.Empty<string>()).Where(a => !string.IsNullOrWhiteSpace(a)).Select(a => a.Trim()).Distinct(StringComparer.OrdinalIgnoreCase).ToList()
                    : current.Approvers,
            };
            var description = $"{policy.RequiredApprovals} approval(s), self-approval {(policy.AllowSelfApproval ? "allowed" : "not allowed")}, approvers: " +
                (policy.Approvers.Count == 0 ? "anyone" : string.Join(", ", policy.Approvers));
            if (!ShouldProcess(Session.StorePath, "Set the release approval policy: " + description))
            {
                return;
            }

            Await(async token =>
            {
                await Session.Store.Lifecycle.SetReleasePolicyAsync(policy, token).ConfigureAwait(false);
                return true;
            });
            if (PassThru)
            {
                WriteObject(ReleaseOutput.ToOutput(policy, Session.StorePath));
            }
        }
    }
}
