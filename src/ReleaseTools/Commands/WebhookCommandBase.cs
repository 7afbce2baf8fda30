using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Commands
{
    /// <summary>What the webhook cmdlets share: reading -Name as literal names (any case) or wildcards over the store's webhooks.</summary>
    public abstract class WebhookCommandBase : ReleaseToolsCmdlet
    {
        /// <summary>
        /// The webhooks <paramref name="names"/> select, in name order, each once (every webhook when no names are given).
        /// A name or pattern that matches none writes a WebhookNotFound error and the others go on.
        /// </summary>
        private protected IReadOnlyList<WebhookRecord> SelectWebhooks(IReadOnlyList<string>? names)
        {
            var all = Await(token => Session.Store.GetWebhooksAsync(token));
            if (names is null || names.Count == 0)
            {
                return all;
            }

            var chosen = new List<WebhookRecord>();
            foreach (var name in names)
            {
                var pattern = new WildcardPattern(name, WildcardOptions.IgnoreCase);
                var matches = all.Where(w => pattern.IsMatch(w.Name)).ToList();
                if (matches.Count == 0)
                {
                    var message = WildcardPattern.ContainsWildcardCharacters(name)
                        ? $"No webhook in the store '{Session.StorePath}' matches '{name}'. List them with Get-ReleaseWebhook."
                        : $"No webhook named '{name}' is registered in the store '{Session.StorePath}'. List them with Get-ReleaseWebhook, or add it with Register-ReleaseWebhook.";
                    WriteError(new ErrorRecord(new ItemNotFoundException(message), StoreErrorIds.WebhookNotFound, ErrorCategory.ObjectNotFound, name));
                }

                chosen.AddRange(matches.Where(m => !chosen.Contains(m)));
            }

            return chosen;
        }
    }
}
