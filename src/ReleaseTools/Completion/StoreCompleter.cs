using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Threading;
using ReleaseTools.Hosting;

namespace ReleaseTools.Completion
{
    /// <summary>A value to offer, with the tooltip that tells it apart (what an instance runs, how a run ended).</summary>
    internal readonly struct Candidate
    {
        public Candidate(string value, string? toolTip = null)
        {
            Value = value;
            ToolTip = string.IsNullOrEmpty(toolTip) ? value : toolTip!;
        }

        public string Value { get; }

        public string ToolTip { get; }
    }

    /// <summary>
    /// Tab completion from the store the command would use (-StorePath already typed, else the default). Never
    /// creates a store, and gives up quickly: completion must not hang the prompt.
    /// </summary>
    public abstract class StoreCompleter : IArgumentCompleter
    {
        private static readonly TimeSpan Budget = TimeSpan.FromSeconds(2);

        public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
        {
            try
            {
                var storePath = fakeBoundParameters["StorePath"] as string;
                using var session = ReleaseSession.OpenExisting(storePath);
                if (session is null)
                {
                    return Array.Empty<CompletionResult>();
                }

                using var timeout = new CancellationTokenSource(Budget);
                var pattern = new WildcardPattern((wordToComplete ?? "").Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
                var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                var candidates = Candidates(session, fakeBoundParameters, timeout.Token)
                    .Where(candidate => pattern.IsMatch(candidate.Value) && seen.Add(candidate.Value));
                if (SortByValue)
                {
                    candidates = candidates.OrderBy(candidate => candidate.Value, StringComparer.OrdinalIgnoreCase);
                }

                return candidates
                    .Select(candidate => new CompletionResult(Quote(candidate.Value), candidate.Value, CompletionResultType.ParameterValue, candidate.ToolTip))
                    .ToList();
            }
            catch (Exception)
            {
                // A completer that throws breaks the user's tab key; no candidates is the right failure.
                return Array.Empty<CompletionResult>();
            }
        }

        /// <summary>False when the store's order is the useful one (newest first).</summary>
        private protected virtual bool SortByValue => true;

        private protected abstract IEnumerable<Candidate> Candidates(ReleaseSession session, IDictionary fakeBoundParameters, CancellationToken cancellationToken);

        /// <summary>The values of a parameter the user already typed (one value or a list), or null.</summary>
        private protected static IReadOnlyList<string>? Typed(IDictionary fakeBoundParameters, string parameterName)
        {
            var values = fakeBoundParameters[parameterName] switch
            {
                string text => new[] { text },
                IEnumerable items => items.Cast<object>().Select(item => item?.ToString()).Where(item => !string.IsNullOrEmpty(item)).Select(item => item!).ToArray(),
                _ => null,
            };
            // Wildcards are for the command, not for the store's exact filters.
            return values is { Length: > 0 } && !values.Any(WildcardPattern.ContainsWildcardCharacters) ? values : null;
        }

        private static string Quote(string value) => value.Any(c => char.IsWhiteSpace(c) || c == '\'' || c == '$' || c == '`' || c == ';' || c == ',') ? "'" + value.Replace("'", "''") + "'" : value;
    }
}
