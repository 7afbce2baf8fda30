using System.Security.Cryptography;
using System.Text.RegularExpressions;
using ReleaseTools.Agent.Storage;

namespace ReleaseTools.Agent.Security;

/// <summary>
/// The name every signed 1.1 request carries in its URI (<c>?agent=</c>), so a request captured on its way to one
/// agent is refused by every other agent that trusts the same key. Configured (<c>agentId</c>), or generated at first
/// start and kept in <c>&lt;dataDir&gt;/agent-id</c> so it survives restarts.
/// </summary>
public sealed partial class AgentIdentity
{
    public const string FileName = "agent-id";

    private AgentIdentity(string id) => Id = id;

    public string Id { get; }

    [GeneratedRegex(@"\A[A-Za-z0-9_-]{8,64}\z", RegexOptions.CultureInvariant)]
    private static partial Regex IdPattern();

    public static bool IsValid(string? id) => id != null && IdPattern().IsMatch(id);

    public static AgentIdentity Load(string dataDirectory, string? configured)
    {
        if (!string.IsNullOrEmpty(configured))
        {
            return IsValid(configured)
                ? new AgentIdentity(configured)
                : throw new InvalidOperationException($"The agent id '{configured}' is not allowed: use 8 to 64 letters, digits, '_' or '-'.");
        }

        Directory.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, FileName);
        if (File.Exists(path))
        {
            var stored = File.ReadAllText(path).Trim();
            return IsValid(stored)
                ? new AgentIdentity(stored)
                : throw new InvalidOperationException($"The agent id file '{path}' does not hold a usable id; delete it to have a new one generated.");
        }

        var generated = Base64Url(RandomNumberGenerator.GetBytes(16));
        var temporary = path + ".tmp";
        // On disk before it is used: after a power cut an empty id file would keep the agent from starting.
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(System.Text.Encoding.ASCII.GetBytes(generated + "\n"));
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: false);
        DurableFiles.FlushDirectory(dataDirectory);
        return new AgentIdentity(generated);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
