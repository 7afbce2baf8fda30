using ReleaseTools.Agent.Hosting;
using ReleaseTools.Engine.Floyd.Wire;

namespace ReleaseTools.Agent.Activation;

/// <summary>
/// Activation refusals and failures: 422 with the protocol's error body plus an <c>activation</c> object saying which
/// step failed, its output, and what the service runs now.
/// </summary>
public static class ActivationFailure
{
    public const int Status = StatusCodes.Status422UnprocessableEntity;

    public static FloydRejection Create(string errorCode, string message, ActivationFailureBody report) =>
        new(Status, errorCode, message) { Activation = report };

    /// <summary>Extraction refused the package before anything was switched.</summary>
    public static FloydRejection Unpack(string errorCode, string message, ActiveState active) =>
        Create(errorCode, message, new ActivationFailureBody
        {
            FailedStep = ActivationSteps.Unpack,
            Detail = message,
            Reverted = false,
            ActiveVersion = active.Version,
            ActiveFVersion = active.FVersion,
        });
}

/// <summary>What the service runs while an activation is decided.</summary>
public sealed record ActiveState(string? Version, string? FVersion);

/// <summary>The <c>failedStep</c> values of an activation failure.</summary>
public static class ActivationSteps
{
    public const string Unpack = "unpack";
    public const string HealthCheck = "healthCheck";

    public static string Of(HookStage stage) => stage switch
    {
        HookStage.BeforeActivate => "beforeActivate",
        HookStage.Activate => "activate",
        _ => "afterActivate",
    };
}
