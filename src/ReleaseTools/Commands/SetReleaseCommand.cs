using System;
using System.Linq;
using System.Management.Automation;
using ReleaseTools.Engine.Lifecycle;

namespace ReleaseTools.Commands
{
    /// <summary>
    /// Changes a release before it is tagged: its name, description, environments, or removes services from it. An
    /// approved release goes back to review; a tagged one refuses every change (ReleaseFrozen).
    /// </summary>
    [Cmdlet(VerbsCommon.Set, "Release", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, RemotingCapability = RemotingCapability.None)]
    [OutputType(typeof(Release))]
    public sealed class SetReleaseCommand : ReleaseCommandBase
    {
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Name { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Description { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? PreEnvironment { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? ProdEnvironment { get; set; }

        /// <summary>Services to take out of the release.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[]? RemoveService { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string? Comment { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        protected override void ProcessRecord()
        {
            var changes = new[]
            {
                Name is null ? null : $"name '{Name}'",
                Description is null ? null : "description",
                PreEnvironment is null ? null : $"pre-release environment {PreEnvironment}",
                ProdEnvironment is null ? null : $"production environment {ProdEnvironment}",
                RemoveService is null ? null : $"remove {string.Join(", ", RemoveService)}",
            }.Where(c => c is not null).ToList();
            if (changes.Count == 0)
            {
                ThrowReportedError(new ErrorRecord(
                    new ArgumentException("Nothing to change: pass -Name, -Description, -PreEnvironment, -ProdEnvironment or -RemoveService (Add-ReleaseItem adds or replaces services)."),
                    "ReleaseParameterInvalid",
                    ErrorCategory.InvalidArgument,
                    null));
            }

            foreach (var id in ReleaseId)
            {
                if (!ShouldProcess(id, "Change the release: " + string.Join("; ", changes)))
                {
                    continue;
                }

                var edit = new ReleaseEdit
                {
                    ReleaseId = id,
                    Actor = Actor,
                    Comment = Comment,
                    Name = Name,
                    Description = Description,
                    PreEnvironment = PreEnvironment,
                    ProdEnvironment = ProdEnvironment,
                    RemoveServices = RemoveService ?? Array.Empty<string>(),
                };
                if (!TryLifecycle(token => Session.Lifecycle.EditAsync(edit, token), out var result))
                {
                    continue;
                }

                if (result.Change.Transition is not null)
                {
                    WriteWarning($"Release {id} was approved; its content changed, so it is back in review (revision {result.Change.Release?.Revision}) and needs approval again.");
                }

                WarnUndelivered(result);
                if (PassThru)
                {
                    WriteRelease(id);
                }
            }
        }
    }
}
