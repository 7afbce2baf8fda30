using System.Management.Automation;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>Shows the store's approval rules: how many approvals a release needs, whether its creator may approve it, who may approve.</summary>
    [Cmdlet(VerbsCommon.Get, "ReleasePolicy")]
    [OutputType(typeof(ReleasePolicy))]
    public sealed class GetReleasePolicyCommand : ReleaseToolsCmdlet
    {
        protected override void EndProcessing() =>
            WriteObject(ReleaseOutput.ToOutput(Await(token => Session.Store.Lifecycle.GetReleasePolicyAsync(token)), Session.StorePath));
    }
}
