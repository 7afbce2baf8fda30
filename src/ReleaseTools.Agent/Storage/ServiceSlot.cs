namespace ReleaseTools.Agent.Storage;

/// <summary>
/// One instance of a service on this agent (docs/floyd-protocol.md, section 4.1), as the key of everything the agent keeps
/// per instance: its folder under <c>services/</c>, its settings, its activation lock and its upload tickets. The
/// default instance's slot is the service name itself, so an agent that never hosts a second instance keeps the data
/// directory it always had; another instance's slot is <c>&lt;service&gt;@&lt;instance&gt;</c>. '@' is in neither name's
/// alphabet, so a slot names exactly one service and instance.
/// </summary>
public static class ServiceSlot
{
    public const char Separator = '@';

    public static string Of(string service, string? instance) => instance == null ? service : service + Separator + instance;

    public static string ServiceOf(string slot) => slot.IndexOf(Separator) is var at and >= 0 ? slot[..at] : slot;

    /// <summary>The instance id, or null for the service's default instance.</summary>
    public static string? InstanceOf(string slot) => slot.IndexOf(Separator) is var at and >= 0 ? slot[(at + 1)..] : null;
}
