using System;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace ReleaseTools.Engine.Store
{
    /// <summary>Why one registration value cannot enter the registry: a stable id, the value and what to do.</summary>
    public sealed record RegistrationProblem(string ErrorId, string Parameter, string Value, string Message);

    /// <summary>
    /// The rules a registration meets where it enters the registry, so nothing the agents or URLs cannot carry is
    /// stored. Names follow the agent's rule for path segments (docs/floyd-protocol.md, section 4): the service name
    /// travels in every Floyd request, and an environment or instance id that reads like a path is a typo, never an
    /// intent. Host names are IPv4 and IPv6 addresses and DNS names, never with a port or a scheme.
    /// </summary>
    public static class RegistrationRules
    {
        public const string InstanceIdInvalid = "InstanceIdInvalid";
        public const string ServiceNameInvalid = "ServiceNameInvalid";
        public const string EnvironmentNameInvalid = "EnvironmentNameInvalid";
        public const string HostNameInvalid = "HostNameInvalid";
        public const string PortInvalid = "PortInvalid";
        public const string TagInvalid = "TagInvalid";
        public const string AgentInstanceInvalid = "AgentInstanceInvalid";
        public const string AgentCertificateInvalid = "AgentCertificateInvalid";
        public const int MaxTagLength = 100;

        private static readonly Regex NamePattern = new Regex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\\z", RegexOptions.CultureInvariant);
        private static readonly Regex DnsLabel = new Regex("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\z", RegexOptions.CultureInvariant);
        private static readonly Regex Numeric = new Regex("^[0-9.]+\\z", RegexOptions.CultureInvariant);

        /// <summary>The first rule the registration breaks, or null when it may enter the registry.</summary>
        public static RegistrationProblem? Check(InstanceRegistration registration)
        {
            if (registration == null)
            {
                throw new ArgumentNullException(nameof(registration));
            }

            return CheckName(registration.InstanceId, "InstanceId", InstanceIdInvalid, "an instance id")
                ?? CheckName(registration.Service, "Service", ServiceNameInvalid, "a service name")
                ?? CheckName(registration.Environment, "Environment", EnvironmentNameInvalid, "an environment name")
                ?? CheckHost(registration.Host)
                ?? (registration.Port < 1 || registration.Port > 65535
                    ? new RegistrationProblem(PortInvalid, "Port", registration.Port.ToString(CultureInfo.InvariantCulture),
                        $"Port {registration.Port} of instance '{registration.InstanceId}' is not a TCP port; give the agent's port, 1 to 65535.")
                    : null)
                ?? CheckTags(registration.Tags)
                ?? CheckAgentInstance(registration.AgentInstance)
                ?? CheckAgentCertificate(registration);
        }

        /// <summary>Null is the agent's default instance; anything else travels as <c>instance=</c> in every signed request.</summary>
        private static RegistrationProblem? CheckAgentInstance(string? agentInstance) =>
            agentInstance == null || Floyd.FloydProtocol.IsValidAgentInstance(agentInstance)
                ? null
                : new RegistrationProblem(AgentInstanceInvalid, "AgentInstance", agentInstance,
                    $"'{Printable(agentInstance)}' is not an agent instance id: use 1 to 64 letters, digits, '_' or '-', starting with a letter or digit, " +
                    "and not a Windows device name (the rule Floyd agents apply to instance ids). Leave it out for the agent's default instance.");

        /// <summary>A pinned certificate is stored as 64 lowercase hex digits and only means something over HTTPS.</summary>
        private static RegistrationProblem? CheckAgentCertificate(InstanceRegistration registration)
        {
            var pinned = registration.AgentCertificate;
            if (pinned == null)
            {
                return null;
            }

            if (!string.Equals(Floyd.AgentCertificatePins.Normalize(pinned), pinned, StringComparison.Ordinal))
            {
                return new RegistrationProblem(AgentCertificateInvalid, "AgentCertificateFingerprint", pinned,
                    $"'{Printable(pinned)}' is not a SHA-256 certificate fingerprint: give the 64 hexadecimal digits that " +
                    "'openssl x509 -in agent.crt -noout -fingerprint -sha256' prints (colons allowed).");
            }

            return registration.UseHttps
                ? null
                : new RegistrationProblem(AgentCertificateInvalid, "AgentCertificateFingerprint", pinned,
                    $"Instance '{registration.InstanceId}' pins an agent certificate but is not reached over HTTPS; add -UseHttps, or leave the fingerprint out.");
        }

        /// <summary>
        /// A tag is shown in tables and written joined by ';' to CSV: it must be readable text of one line, without ';'.
        /// </summary>
        private static RegistrationProblem? CheckTags(System.Collections.Generic.IEnumerable<string>? tags)
        {
            foreach (var tag in tags ?? Array.Empty<string>())
            {
                var why = string.IsNullOrWhiteSpace(tag) ? "it is blank"
                    : tag.Any(char.IsControl) ? "it contains a control character"
                    : tag.IndexOf(';') >= 0 ? "it contains ';', which separates tags in CSV"
                    : tag.Length > MaxTagLength ? $"it is longer than {MaxTagLength} characters"
                    : null;
                if (why != null)
                {
                    return new RegistrationProblem(TagInvalid, "Tags", tag ?? "",
                        $"'{Printable(tag)}' is not a tag: {why}. Use one line of text up to {MaxTagLength} characters, without ';'.");
                }
            }

            return null;
        }

        /// <summary>True for a name the agent accepts as a path segment (letters, digits, '.', '_', '-'; no '..'; portable to Windows).</summary>
        public static bool IsValidName(string? value)
            => value != null && NamePattern.IsMatch(value) && value.IndexOf("..", StringComparison.Ordinal) < 0 && Floyd.PortableNames.IsPortable(value);

        /// <summary>True for an IPv4 address (dotted quad), an IPv6 address (bracketed or not) or a DNS name.</summary>
        public static bool IsValidHost(string? host)
        {
            if (string.IsNullOrEmpty(host) || host!.Length > 253)
            {
                return false;
            }

            var bare = host.Length > 2 && host[0] == '[' && host[host.Length - 1] == ']' ? host.Substring(1, host.Length - 2) : host;
            if (bare.IndexOf('[') >= 0 || bare.IndexOf(']') >= 0)
            {
                return false; // "[::1]:7070" and the like: a port or stray brackets, never a host
            }

            if (bare.IndexOf(':') >= 0)
            {
                return IPAddress.TryParse(bare, out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6;
            }

            if (!ReferenceEquals(bare, host))
            {
                return false; // brackets hold IPv6 addresses only
            }

            if (Numeric.IsMatch(host))
            {
                var parts = host.Split('.');
                return parts.Length == 4 && Array.TrueForAll(parts, p => p.Length is > 0 and <= 3 && int.Parse(p, CultureInfo.InvariantCulture) <= 255);
            }

            var name = host.EndsWith(".", StringComparison.Ordinal) ? host.Substring(0, host.Length - 1) : host;
            return name.Length > 0 && Array.TrueForAll(name.Split('.'), label => DnsLabel.IsMatch(label));
        }

        /// <summary>
        /// A -Service or -Environment filter value that no registered name can match, so the user hears of the typo instead
        /// of seeing an empty list: a literal value that breaks the name rule, or a wildcard pattern (* ? [ ] and ` as
        /// PowerShell reads them) with a character no name has, an unclosed bracket, or more characters than a name holds.
        /// Null when the value could match a name; a pattern that simply matches nothing today is no problem.
        /// </summary>
        public static RegistrationProblem? CheckNameFilter(string? value, bool isPattern, string parameter, string errorId, string what)
        {
            if (isPattern ? CouldMatchName(value!) : IsValidName(value))
            {
                return null;
            }

            var name = CheckName(value, parameter, errorId, what) ?? new RegistrationProblem(errorId, parameter, value ?? "",
                $"'{Printable(value)}' is not {what} and cannot match one: names use 1 to 100 letters, digits, '.', '_' or '-'.");
            return name with
            {
                Message = $"No instance can match -{parameter} '{Printable(value)}': " + char.ToLowerInvariant(name.Message[0]) + name.Message.Substring(1) +
                    " Get-ServiceInstance without the filter lists what is registered.",
            };
        }

        private static bool IsNameCharacter(char c) => c < 128 && (char.IsLetterOrDigit(c) || c == '.' || c == '_' || c == '-');

        /// <summary>Whether a wildcard pattern could match some name: only name characters, closed brackets, a shortest match of at most 100 characters.</summary>
        private static bool CouldMatchName(string pattern)
        {
            var shortest = 0;
            for (var i = 0; i < pattern.Length; i++)
            {
                var c = pattern[i];
                switch (c)
                {
                    case '*':
                        continue;
                    case '`':
                        if (++i == pattern.Length || !IsNameCharacter(pattern[i]))
                        {
                            return false;
                        }

                        break;
                    case '[':
                        var close = pattern.IndexOf(']', i + 1);
                        if (close < 0)
                        {
                            return false;
                        }

                        for (var j = i + 1; j < close; j++)
                        {
                            if (!IsNameCharacter(pattern[j]))
                            {
                                return false;
                            }
                        }

                        i = close;
                        break;
                    default:
                        if (c != '?' && !IsNameCharacter(c))
                        {
                            return false;
                        }

                        break;
                }

                shortest++;
            }

            return shortest <= 100;
        }

        private static RegistrationProblem? CheckName(string? value, string parameter, string errorId, string what)
        {
            if (IsValidName(value))
            {
                return null;
            }

            return new RegistrationProblem(errorId, parameter, value ?? "",
                $"'{Printable(value)}' is not {what}: use 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit, " +
                "without '..', " + Floyd.PortableNames.Rule + " (the rule Floyd agents apply to names).");
        }

        private static RegistrationProblem? CheckHost(string? host)
        {
            if (IsValidHost(host))
            {
                return null;
            }

            var hint = host != null && host.IndexOf("://", StringComparison.Ordinal) >= 0
                ? " Give the host alone, without a scheme."
                : host != null && host.IndexOf(':') >= 0 && host.IndexOf(':') == host.LastIndexOf(':')
                    ? " Give the port with -Port, not in the host name."
                    : "";
            return new RegistrationProblem(HostNameInvalid, "HostName", host ?? "",
                $"'{Printable(host)}' is not a host name: give an IPv4 address (10.0.0.11), an IPv6 address (::1) or a DNS name (web-01.internal).{hint}");
        }

        /// <summary>The value as a message can show it: control characters escaped, very long values shortened.</summary>
        internal static string Printable(string? value)
        {
            if (value == null)
            {
                return "";
            }

            var builder = new System.Text.StringBuilder();
            foreach (var c in value.Length > 120 ? value.Substring(0, 120) : value)
            {
                builder.Append(char.IsControl(c) ? "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture) : c.ToString());
            }

            return value.Length > 120 ? builder.Append("...").ToString() : builder.ToString();
        }
    }
}
