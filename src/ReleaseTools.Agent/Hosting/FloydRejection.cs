namespace ReleaseTools.Agent.Hosting;

/// <summary>A request the agent refuses: becomes the protocol's JSON error body with this status and code.</summary>
public sealed class FloydRejection : Exception
{
    public FloydRejection(int statusCode, string errorCode, string message)
        : base(message)
    {
        StatusCode = statusCode;
        ErrorCode = errorCode;
    }

    public int StatusCode { get; }

    public string ErrorCode { get; }

    /// <summary>Details of a failed activation, sent as the error body's <c>activation</c> member.</summary>
    public ReleaseTools.Engine.Floyd.Wire.ActivationFailureBody? Activation { get; init; }
}
