using ReleaseTools.Agent.Hosting;
using ReleaseTools.Engine.Floyd;

namespace ReleaseTools.Agent.Security;

/// <summary>
/// A request whose headers passed the cheap checks (scheme, timestamp window, not a known replay) and whose body is
/// being hashed as it is read. Nothing may change on disk until <see cref="VerifyAsync"/> has succeeded.
/// </summary>
public sealed class SignedRequest : IDisposable
{
    private readonly FloydSignatureBase _signatureBase;
    private readonly string _timestamp;
    private readonly string _pathAndQuery;
    private readonly byte[] _signature;
    private readonly DateTimeOffset _expiresAt;
    private readonly AuthorizedKeys _keys;
    private readonly ReplayCache _replayCache;
    private readonly TimeProvider _time;
    private bool _verified;

    public SignedRequest(FloydSignatureBase signatureBase, HashingRequestStream body, string timestamp, string pathAndQuery, byte[] signature,
        DateTimeOffset expiresAt, AuthorizedKeys keys, ReplayCache replayCache, TimeProvider time)
    {
        _signatureBase = signatureBase;
        Body = body;
        _timestamp = timestamp;
        _pathAndQuery = pathAndQuery;
        _signature = signature;
        _expiresAt = expiresAt;
        _keys = keys;
        _replayCache = replayCache;
        _time = time;
    }

    public HashingRequestStream Body { get; }

    public bool IsVerified => _verified;

    /// <summary>Reads the rest of the body, then checks the signature and records it against replays.</summary>
    public async Task VerifyAsync(CancellationToken cancellationToken)
    {
        if (_verified)
        {
            return;
        }

        await Body.DrainAsync(cancellationToken);
        var hash = _signatureBase.Complete(_timestamp, _pathAndQuery);
        if (!FloydRequestSigner.Verify(_signatureBase.Algorithm, hash, _signature, _keys.Keys))
        {
            throw new FloydRejection(StatusCodes.Status401Unauthorized, FloydErrorCodes.SignatureInvalid,
                "The signature does not match the request under any authorized key: the key is not authorized here, or the body, path or TimeStamp were changed.");
        }

        switch (_replayCache.TryRegister(Convert.ToBase64String(_signature), _expiresAt, _time.GetUtcNow()))
        {
            case ReplayCheck.Replayed:
                throw new FloydRejection(StatusCodes.Status401Unauthorized, FloydErrorCodes.SignatureReplayed,
                    "This exact signed request was already received; every request needs a fresh TimeStamp and signature.");
            case ReplayCheck.Full:
                throw new FloydRejection(StatusCodes.Status503ServiceUnavailable, FloydErrorCodes.ReplayCacheFull,
                    "The agent is receiving more signed requests than it can remember for replay protection; retry shortly.");
        }

        _verified = true;
    }

    public void Dispose() => _signatureBase.Dispose();
}
