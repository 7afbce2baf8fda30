using System;

namespace ReleaseTools.Engine.Floyd
{
    /// <summary>
    /// A push body hashed once, with its file's MD5. Where the runtime can copy a hash state it serves every instance that
    /// receives the same body: the multipart body of a package push is the same
    /// for every instance of a release in a run (same file, fields and boundary), and the signature covers
    /// <c>body ‖ timestamp ‖ request target</c>, so the hash state after the body's last byte is kept and each push
    /// copies it and appends only its own timestamp and target. The package is then read once for signing per run
    /// instead of once per instance, and once per instance to send it.
    /// </summary>
    internal sealed class PreparedPushBody : IDisposable
    {
        private readonly object _gate = new object();
        private readonly FloydSignatureBase _afterBody;

        public PreparedPushBody(string boundary, FloydSignatureBase afterBody, byte[]? fileMd5)
        {
            Boundary = boundary;
            _afterBody = afterBody;
            FileMd5 = fileMd5;
        }

        /// <summary>
        /// The MD5 of the file part as read while hashing, checked against the package's known MD5 before any push; null
        /// when the caller's MD5 was computed from the file itself in this run and it was not read for it again.
        /// </summary>
        public byte[]? FileMd5 { get; }

        /// <summary>The signature base itself, for a body used by one request only (no copy needed).</summary>
        public FloydSignatureBase SignatureBase => _afterBody;

        /// <summary>The boundary the body was hashed with (checked not to occur in the file); every push sends it.</summary>
        public string Boundary { get; }

        /// <summary>A signature base continuing from the end of the body, for one request.</summary>
        public FloydSignatureBase CopySignatureBase()
        {
            // Copies may be taken by many pushes at once; the source state is never written after it was prepared.
            lock (_gate)
            {
                return _afterBody.TryCopy() ?? throw new InvalidOperationException("This runtime cannot copy a hash state; the body must be hashed per request.");
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _afterBody.Dispose();
            }
        }
    }
}
