using System.Text.Json;
using System.Text.Json.Serialization;
using ReleaseTools.Agent.Storage;
using ReleaseTools.Engine.Floyd.Wire;

namespace ReleaseTools.Agent.Hosting;

/// <summary>
/// The JSON the agent reads and writes, with serializers generated at compile time. The reflection-based serializer
/// builds its converters and emits property accessors on the first use of each type, which a fresh agent paid during
/// its first push (about a third of the methods it compiled then, measured with the runtime's JIT summary); generated
/// code is compiled ahead of time with the rest of the published agent. Every type the agent serializes is listed
/// here: a type missing from this list fails loudly (NotSupportedException) in the tests instead of silently falling
/// back to reflection.
/// </summary>
public static class AgentJson
{
    /// <summary>Protocol bodies (section 6's JSON): <see cref="FloydJson.Options"/>, generated serializers.</summary>
    public static readonly JsonSerializerOptions Wire = new(FloydJson.Options) { TypeInfoResolver = AgentJsonContext.Default };

    /// <summary>Request bodies: as <see cref="Wire"/>, and a key given twice is an error rather than "the last one wins".</summary>
    public static readonly JsonSerializerOptions StrictWire = new(Wire) { AllowDuplicateProperties = false };

    /// <summary>The data directory's records: the serializer's defaults, as they were always written, generated serializers.</summary>
    public static readonly JsonSerializerOptions Records = new() { TypeInfoResolver = AgentJsonContext.Default };
}

[JsonSerializable(typeof(PingRequestBody))]
[JsonSerializable(typeof(UploadRequestBody))]
[JsonSerializable(typeof(PingResponseBody))]
[JsonSerializable(typeof(ActivateRequestBody))]
[JsonSerializable(typeof(ActivateResponseBody))]
[JsonSerializable(typeof(PackageReceiptBody))]
[JsonSerializable(typeof(ConfigReceiptBody))]
[JsonSerializable(typeof(HealthBody))]
[JsonSerializable(typeof(StatusBody))]
[JsonSerializable(typeof(ErrorBody))]
[JsonSerializable(typeof(VersionRecord))]
[JsonSerializable(typeof(ConfigRecord))]
[JsonSerializable(typeof(ActiveRecord))]
[JsonSerializable(typeof(ActivationJournal))]
internal sealed partial class AgentJsonContext : JsonSerializerContext;
