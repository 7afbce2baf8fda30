using System.Text.RegularExpressions;
using ReleaseTools.Agent.Hosting;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Agent.Storage;

/// <summary>
/// Names that become path segments under the data directory. Only a conservative alphabet is allowed and a name
/// must start with a letter or digit, so no name can be '.', '..', absolute, contain a separator, or collide with the
/// agent's own dot-prefixed temporary files. Patterns end in <c>\z</c>, not <c>$</c>: in .NET <c>$</c> also matches
/// before a final line feed, which let <c>"svc\n"</c> through. Names must also be portable to Windows and to
/// case-insensitive file systems, so a data directory copied to another machine means the same thing there.
/// </summary>
public static partial class FloydNames
{
    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\z", RegexOptions.CultureInvariant)]
    private static partial Regex ServicePattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}\z", RegexOptions.CultureInvariant)]
    private static partial Regex VersionPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}\z", RegexOptions.CultureInvariant)]
    private static partial Regex FVersionPattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\z", RegexOptions.CultureInvariant)]
    private static partial Regex FileNamePattern();

    /// <summary>The rule the client checks registrations by, written once in <see cref="FloydProtocol.AgentInstancePattern"/>.</summary>
    [GeneratedRegex(FloydProtocol.AgentInstancePattern, RegexOptions.CultureInvariant)]
    private static partial Regex InstancePattern();

    [GeneratedRegex(@"^[0-9a-fA-F]{32}\z", RegexOptions.CultureInvariant)]
    private static partial Regex Md5HexPattern();

    public static string RequireService(string? value) => Require(value, "service", ServicePattern(), "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100 characters");

    public static string RequireVersion(string? value) => Require(value, "version", VersionPattern(), "letters, digits, '.', '_', '+' and '-', starting with a letter or digit, at most 100 characters");

    public static string RequireFVersion(string? value) => Require(value, "fversion", FVersionPattern(), "Base64URL characters, at most 64");

    public static string RequireFileName(string? value) => Require(value, "file name", FileNamePattern(), "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters");

    public static string RequireInstance(string? value) => Require(value, "instance id", InstancePattern(), "letters, digits, '_' and '-', starting with a letter or digit, at most 64 characters");

    public static bool IsMd5Hex(string? value) => value != null && Md5HexPattern().IsMatch(value);

    private static string Require(string? value, string what, Regex pattern, string rule)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.InvalidRequest, $"The {what} is missing.");
        }

        if (!pattern.IsMatch(value) || value.Contains("..", StringComparison.Ordinal))
        {
            throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.InvalidName,
                $"The {what} '{Printable(value)}' is not allowed: use {rule}, and no '..'.");
        }

        if (value.EndsWith('.'))
        {
            throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.InvalidName,
                $"The {what} '{value}' is not allowed: it ends in a dot, which Windows drops from file names.");
        }

        if (PortableNames.IsWindowsDeviceName(value))
        {
            throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.InvalidName,
                $"The {what} '{value}' is not allowed: '{value.Split('.')[0]}' is a reserved device name on Windows (CON, PRN, AUX, NUL, COM0-9, LPT0-9).");
        }

        return value;
    }

    private static string Printable(string text) => new(text.Select(c => c >= ' ' && c < 127 ? c : '?').Take(120).ToArray());
}
