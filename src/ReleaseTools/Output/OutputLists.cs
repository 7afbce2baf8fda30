using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Linq;

namespace ReleaseTools
{
    /// <summary>
    /// A read-only list property of an output object. ConvertTo-Json writes it as an array; Export-Csv and
    /// ConvertTo-Csv write its ToString(), which names the items instead of the type name a plain array gives
    /// ("System.String[]", "ReleaseTools.DeploymentTarget[]").
    /// </summary>
    public abstract class OutputList<T> : ReadOnlyCollection<T>
    {
        private readonly string _separator;

        private protected OutputList(IEnumerable<T> items, string separator)
            : base((items ?? Enumerable.Empty<T>()).ToList())
        {
            _separator = separator;
        }

        public override string ToString() => string.Join(_separator, this.Select(item => item?.ToString()));
    }

    /// <summary>
    /// An instance's tags. Written to CSV as "a;b", the form Register-ServiceInstance -Tags splits again, so an inventory
    /// survives Export-Csv / Import-Csv unchanged.
    /// </summary>
    public sealed class TagList : OutputList<string>
    {
        /// <summary>Separates tags in one CSV cell or one -Tags string.</summary>
        public const char Separator = ';';

        public TagList(IEnumerable<string> tags)
            : base(tags, Separator.ToString())
        {
        }
    }

    /// <summary>The per-batch state of a run; in CSV "Batch 1: 2/2 done, 0 failed, 0 skipped; Batch 2: ...".</summary>
    public sealed class DeploymentBatchList : OutputList<DeploymentBatchState>
    {
        public DeploymentBatchList(IEnumerable<DeploymentBatchState> batches)
            : base(batches, "; ")
        {
        }
    }

    /// <summary>The instances of a run; in CSV "web-01 Succeeded; web-02 Failed".</summary>
    public sealed class DeploymentTargetList : OutputList<DeploymentTarget>
    {
        public DeploymentTargetList(IEnumerable<DeploymentTarget> targets)
            : base(targets, "; ")
        {
        }
    }
}
