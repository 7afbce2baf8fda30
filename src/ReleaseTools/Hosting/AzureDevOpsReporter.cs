using System;
using System.Text;

namespace ReleaseTools.Hosting
{
    /// <summary>
    /// Under Azure Pipelines (TF_BUILD is set) failures are also written as logging commands, so the task shows them
    /// as errors and warnings in the run summary instead of burying them in the log.
    /// </summary>
    internal sealed class AzureDevOpsReporter
    {
        public const string Tag = "AzureDevOps";

        private readonly Action<string> _writeLine;

        private AzureDevOpsReporter(Action<string> writeLine) => _writeLine = writeLine;

        /// <summary>Null when not running under Azure Pipelines.</summary>
        public static AzureDevOpsReporter? CreateIfActive(Action<string> writeLine)
            => string.IsNullOrEmpty(Environment.GetEnvironmentVariable("TF_BUILD")) ? null : new AzureDevOpsReporter(writeLine);

        public void ReportError(string code, string message) => Write("error", code, message);

        public void ReportWarning(string code, string message) => Write("warning", code, message);

        /// <summary>
        /// Sets the task's result to Failed, once: an error logged with task.logissue alone leaves a PowerShell task
        /// green unless the script also fails, and a run that failed instances must not pass as a success.
        /// </summary>
        public void ReportFailed()
        {
            if (!_failedReported)
            {
                _failedReported = true;
                _writeLine("##vso[task.complete result=Failed;]");
            }
        }

        private bool _failedReported;

        private void Write(string type, string code, string message)
            => _writeLine($"##vso[task.logissue type={type};code={EscapeProperty(code)}]{EscapeData(message)}");

        // Escapes defined by the Azure Pipelines agent for logging command data and property values.
        internal static string EscapeData(string value)
            => new StringBuilder(value).Replace("%", "%AZP25").Replace("\r", "%0D").Replace("\n", "%0A").ToString();

        internal static string EscapeProperty(string value)
            => new StringBuilder(EscapeData(value)).Replace("]", "%5D").Replace(";", "%3B").ToString();
    }
}
