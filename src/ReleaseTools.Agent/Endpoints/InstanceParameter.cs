using ReleaseTools.Agent.Hosting;
using ReleaseTools.Agent.Storage;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Agent.Endpoints;

/// <summary>
/// The <c>instance</c> query parameter of a signed request (docs/floyd-protocol.md, section 4.1): which instance of the
/// service the request is for. It is part of the signed target, so it cannot be changed without breaking the signature.
/// </summary>
public static class InstanceParameter
{
    /// <summary>The instance id the request names, or null (the default instance); 400 when it is repeated, empty or invalid.</summary>
    public static string? Read(HttpContext context)
    {
        var named = context.Request.Query[FloydProtocol.InstanceQueryParameter];
        if (named.Count == 0)
        {
            return null;
        }

        if (named.Count > 1)
        {
            throw new FloydRejection(StatusCodes.Status400BadRequest, FloydErrorCodes.InvalidRequest,
                $"The request names '{FloydProtocol.InstanceQueryParameter}' {named.Count} times; name one instance, or none for the default instance.");
        }

        return FloydNames.RequireInstance(named[0]);
    }

    /// <summary>The slot of <paramref name="service"/>'s instance that the request names.</summary>
    public static string SlotOf(HttpContext context, string service) => ServiceSlot.Of(service, Read(context));
}
