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
                return Candidates(session, fakeBoundParameters, timeout.Token)
                    .Where(pattern.IsMatch)
                    .OrderBy(value => value, StringComparer.OrdinalIgnoreCase)
                    .Select(value => new CompletionResult(Quote(value), value, CompletionResultType.ParameterValue, value))
                    .ToList();
            }
            catch (Exception)
            {
                // A completer that throws breaks the user's tab key; no candidates is the right failure.
                return Array.Empty<CompletionResult>();
            }
        }

        private protected abstract IEnumerable<string> Candidates(ReleaseSession session, IDictionary fakeBoundParameters, CancellationToken cancellationToken);

        private static string Quote(string value) => value.Any(c => char.IsWhiteSpace(c) || c == '\'' || c == '$' || c == '`') ? "'" + value.Replace("'", "''") + "'" : value;
    }

    /// <summary>Completes -Service with the service names registered in the store.</summary>
    public sealed class ServiceNameCompleter : StoreCompleter
    {
        private protected override IEnumerable<string> Candidates(ReleaseSession session, IDictionary fakeBoundParameters, CancellationToken cancellationToken)
            => session.Store.GetServiceNamesAsync(cancellationToken).GetAwaiter().GetResult();
    }

    /// <summary>Completes -Version with the versions known for the -Service already typed (or for every service).</summary>
    public sealed class VersionCompleter : StoreCompleter
    {
        private protected override IEnumerable<string> Candidates(ReleaseSession session, IDictionary fakeBoundParameters, CancellationToken cancellationToken)
        {
            var service = fakeBoundParameters["Service"] switch
            {
                string text => text,
                object[] values when values.Length == 1 => values[0]?.ToString(),
                string[] values when values.Length == 1 => values[0],
                _ => null,
            };
            return session.Store.GetVersionsAsync(service, cancellationToken).GetAwaiter().GetResult();
        }
    }
}
