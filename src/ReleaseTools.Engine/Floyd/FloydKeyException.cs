using System;

namespace ReleaseTools.Engine.Floyd
{
    /// <summary>A private key could not be loaded. The message names the file (when there is one) and what to do; never key material.</summary>
    public sealed class FloydKeyException : Exception
    {
        public FloydKeyException(string message, string? keyPath = null, Exception? innerException = null)
            : base(message, innerException)
        {
            KeyPath = keyPath;
        }

        public string? KeyPath { get; }
    }
}
