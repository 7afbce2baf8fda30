namespace ReleaseTools.Engine.Deployment
{
    /// <summary>How messages are put together from parts, here and in the cmdlets.</summary>
    public static class MessageText
    {
        /// <summary>Ends a message with a full stop unless it already ends a sentence, so joined messages never run together.</summary>
        public static string Sentence(string text)
        {
            var trimmed = (text ?? "").Trim();
            return trimmed.Length == 0 || ".!?".IndexOf(trimmed[trimmed.Length - 1]) >= 0 ? trimmed : trimmed + ".";
        }
    }
}
