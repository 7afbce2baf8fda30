using System;
using System.Security.Cryptography;
using System.Text;

namespace ReleaseTools.Engine.Floyd
{
    /// <summary>
    /// The bytes a Floyd signature covers: <c>body ‖ timestamp ‖ pathAndQuery</c> (timestamp and path as ASCII),
    /// hashed incrementally so a body of any size is fed through in chunks and never held whole.
    /// The client uses it to sign and the reference agent to verify, so both sides hash the same way.
    /// </summary>
    public sealed class FloydSignatureBase : IDisposable
    {
        private readonly IncrementalHash _hash;
        private bool _completed;

        public FloydSignatureBase(FloydHashAlgorithm algorithm)
        {
            Algorithm = algorithm;
            _hash = IncrementalHash.CreateHash(ToHashAlgorithmName(algorithm));
        }

        private FloydSignatureBase(FloydHashAlgorithm algorithm, IncrementalHash hash, long bodyLength)
        {
            Algorithm = algorithm;
            _hash = hash;
            BodyLength = bodyLength;
        }

        public FloydHashAlgorithm Algorithm { get; }

        public long BodyLength { get; private set; }

        public void AppendBody(byte[] buffer, int offset, int count)
        {
            if (_completed)
            {
                throw new InvalidOperationException("The signature base is already complete.");
            }

            _hash.AppendData(buffer, offset, count);
            BodyLength += count;
        }

        /// <summary>
        /// A signature base that continues from this one's body (this one stays as it is), so one body hashed once can be
        /// completed with each request's own timestamp and path. Null where the runtime cannot copy a hash state
        /// (<see cref="HashStateCopier"/>): the caller hashes the body again.
        /// </summary>
        public FloydSignatureBase? TryCopy()
        {
            if (_completed)
            {
                throw new InvalidOperationException("The signature base is already complete.");
            }

            var copy = HashStateCopier.TryCopy(_hash);
            return copy == null ? null : new FloydSignatureBase(Algorithm, copy, BodyLength);
        }

        /// <summary>Appends the timestamp and the path-and-query and returns the hash that is signed.</summary>
        public byte[] Complete(string timestamp, string pathAndQuery)
        {
            if (_completed)
            {
                throw new InvalidOperationException("The signature base is already complete.");
            }

            _completed = true;
            var suffix = Suffix(timestamp, pathAndQuery);
            _hash.AppendData(suffix);
            return _hash.GetHashAndReset();
        }

        /// <summary>The literal signature base of a body held in memory (test vectors, interop checks).</summary>
        public static byte[] Compose(byte[] body, string timestamp, string pathAndQuery)
        {
            var suffix = Suffix(timestamp, pathAndQuery);
            var result = new byte[body.Length + suffix.Length];
            Buffer.BlockCopy(body, 0, result, 0, body.Length);
            Buffer.BlockCopy(suffix, 0, result, body.Length, suffix.Length);
            return result;
        }

        public static byte[] ComputeHash(FloydHashAlgorithm algorithm, byte[] body, string timestamp, string pathAndQuery)
        {
            using var signatureBase = new FloydSignatureBase(algorithm);
            signatureBase.AppendBody(body, 0, body.Length);
            return signatureBase.Complete(timestamp, pathAndQuery);
        }

        public static HashAlgorithmName ToHashAlgorithmName(FloydHashAlgorithm algorithm) => algorithm switch
        {
            FloydHashAlgorithm.Sha1 => HashAlgorithmName.SHA1,
            FloydHashAlgorithm.Sha256 => HashAlgorithmName.SHA256,
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown Floyd hash algorithm."),
        };

        private static byte[] Suffix(string timestamp, string pathAndQuery)
        {
            if (timestamp == null) throw new ArgumentNullException(nameof(timestamp));
            if (pathAndQuery == null) throw new ArgumentNullException(nameof(pathAndQuery));
            // Both parts are ASCII on the wire (decimal digits; an escaped request target), so ASCII is the exact byte form.
            return Encoding.ASCII.GetBytes(timestamp + pathAndQuery);
        }

        public void Dispose() => _hash.Dispose();
    }
}
