using System;

namespace ReleaseTools.Engine.Lifecycle
{
    /// <summary>Who is acting, as the history records it: the person who queued the Azure Pipelines run, else the OS user.</summary>
    public static class ReleaseIdentity
    {
        /// <summary>Azure Pipelines exposes the variable Build.RequestedFor to scripts under this name.</summary>
        public const string AzurePipelinesVariable = "BUILD_REQUESTEDFOR";

        public static string Current()
        {
            var requestedFor = System.Environment.GetEnvironmentVariable(AzurePipelinesVariable);
            return string.IsNullOrWhiteSpace(requestedFor) ? System.Environment.UserName : requestedFor!.Trim();
        }
    }
}
