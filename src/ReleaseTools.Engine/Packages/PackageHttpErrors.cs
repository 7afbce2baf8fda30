using System;
using System.Net;
using System.Net.Http;
using ReleaseTools.Engine.Deployment;

namespace ReleaseTools.Engine.Packages
{
    /// <summary>Turns what the package server said (or did not say) into one clear, actionable error.</summary>
    internal static class PackageHttpErrors
    {
        public static DeploymentException FromStatus(PackageLocation location, HttpResponseMessage response, string verb)
        {
            var code = (int)response.StatusCode;
            var reason = $"{code} {response.ReasonPhrase}".Trim();
            if (response.StatusCode == HttpStatusCode.NotFound || response.StatusCode == HttpStatusCode.Gone)
            {
                return new DeploymentException(EngineErrorIds.PackageNotFound, DeploymentErrorKind.ObjectNotFound,
                    $"The package server answered {reason} to {verb} {location}. Check the URL and the version.", location.Original);
            }

            if (code >= 400 && code < 500)
            {
                return new DeploymentException(EngineErrorIds.PackageDownloadFailed, DeploymentErrorKind.InvalidArgument,
                    $"The package server refused {verb} {location} with {reason}. Check the URL and that the package is readable without extra credentials.",
                    location.Original);
            }

            return new DeploymentException(EngineErrorIds.PackageDownloadFailed, DeploymentErrorKind.ResourceUnavailable,
                $"The package server failed {verb} {location} with {reason}. Retry when the server is healthy.", location.Original);
        }

        public static DeploymentException FromTransport(PackageLocation location, Exception exception, string verb) =>
            new DeploymentException(EngineErrorIds.PackageDownloadFailed, DeploymentErrorKind.ConnectionError,
                $"Could not {verb} the package {location}: {exception.Message}", location.Original, exception);

        public static DeploymentException Timeout(PackageLocation location, TimeSpan timeout, string verb) =>
            new DeploymentException(EngineErrorIds.PackageDownloadFailed, DeploymentErrorKind.ConnectionError,
                $"Could not {verb} the package {location} within {timeout.TotalSeconds:0} s. Raise the download timeout or check the server.",
                location.Original);
    }
}
