using System;
using System.Linq;
using System.Management.Automation;
using ReleaseTools.Engine.Lifecycle;
using ReleaseTools.Hosting;

namespace ReleaseTools.Commands
{
    /// <summary>Lists releases, newest first, each with its entries, transition history, approvals, stage runs and the events allowed now.</summary>
    [Cmdlet(VerbsCommon.Get, "Release", DefaultParameterSetName = ListSet)]
    [OutputType(typeof(Release))]
    public sealed class GetReleaseCommand : ReleaseToolsCmdlet
    {
        public const string ListSet = "List";
        public const string ByIdSet = "ById";

        [Parameter(Mandatory = true, Position = 0, ParameterSetName = ByIdSet, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] ReleaseId { get; set; } = Array.Empty<string>();

        /// <summary>Only releases whose name matches one of these (wildcards allowed).</summary>
        [Parameter(ParameterSetName = ListSet)]
        [ValidateNotNullOrEmpty]
        [SupportsWildcards]
        public string[]? Name { get; set; }

        /// <summary>Only releases in these states.</summary>
        [Parameter(ParameterSetName = ListSet)]
        public ReleaseState[]? State { get; set; }

        /// <summary>At most this many releases, newest first.</summary>
        [Parameter(ParameterSetName = ListSet)]
        [ValidateRange(1, int.MaxValue)]
        public int Limit { get; set; } = 20;

        protected override void ProcessRecord()
        {
            if (ParameterSetName == ByIdSet)
            {
                foreach (var id in ReleaseId)
                {
                    if (TryLifecycle(token => Session.Lifecycle.GetViewAsync(id, token), out var view))
                    {
                        WriteObject(ReleaseOutput.ToOutput(view));
                    }
                }

                return;
            }

            var patterns = Name?.Select(n => WildcardPattern.Get(n, WildcardOptions.IgnoreCase)).ToArray();
            var query = new ReleaseQuery
            {
                States = State?.Select(s => (Engine.Lifecycle.ReleaseState)(int)s).ToList(),
                Limit = patterns is null ? Limit : 0,
            };
            var releases = Await(token => Session.Store.Lifecycle.FindReleasesAsync(query, token))
                .Where(r => patterns is null || patterns.Any(p => p.IsMatch(r.Name)))
                .Take(Limit)
                .ToList();
            WriteVerbose($"{releases.Count} release(s) matched (newest first, at most {Limit}).");
            foreach (var release in releases)
            {
                WriteObject(ReleaseOutput.ToOutput(Await(token => Session.Lifecycle.GetViewAsync(release, token))));
            }
        }
    }
}
