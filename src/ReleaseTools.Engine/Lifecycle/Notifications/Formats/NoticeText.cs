using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace ReleaseTools.Engine.Lifecycle.Notifications.Formats
{
    /// <summary>The words a person reads in a chat message about a notice: one headline and a list of labelled facts, the same in every chat format.</summary>
    internal static class NoticeText
    {
        public static string Headline(ReleaseNotice notice)
        {
            var release = string.IsNullOrEmpty(notice.ReleaseTitle) ? notice.ReleaseId : $"{notice.ReleaseTitle} ({notice.ReleaseId})";
            if (notice.Stage is { } stage)
            {
                var verb = stage.Outcome == StageOutcome.Succeeded ? "succeeded" : "failed";
                var where = string.IsNullOrEmpty(stage.Environment) ? "" : $" in {stage.Environment}";
                return $"Release {release}: {Spaced(stage.Stage)} stage {verb}{where}";
            }

            return $"Release {release}: {Spaced(notice.Event)} → {notice.ToState}";
        }

        /// <summary>True when the notice is bad news a channel should see in red.</summary>
        public static bool IsFailure(ReleaseNotice notice) =>
            notice.Stage?.Outcome == StageOutcome.Failed || notice.Event.EndsWith("_failed", System.StringComparison.Ordinal) || notice.Event == "reject";

        public static IReadOnlyList<KeyValuePair<string, string>> Facts(ReleaseNotice notice)
        {
            var facts = new List<KeyValuePair<string, string>>();
            void Add(string label, string? value)
            {
                if (!string.IsNullOrEmpty(value))
                {
                    facts.Add(new KeyValuePair<string, string>(label, value!));
                }
            }

            Add("Release", notice.ReleaseId);
            Add("Event", notice.Event);
            Add("State", $"{notice.FromState} ({notice.FromStateCode.ToString(CultureInfo.InvariantCulture)}) → {notice.ToState} ({notice.ToStateCode.ToString(CultureInfo.InvariantCulture)})");
            Add("By", notice.Actor);
            Add("Comment", notice.Comment);
            if (notice.Stage is { } stage)
            {
                Add("Stage", stage.Stage);
                Add("Environment", stage.Environment);
                Add("Outcome", stage.Outcome.ToString());
                Add("Runs", string.Join(", ", stage.RunIds));
                Add("Summary", stage.Summary);
            }

            return facts;
        }

        public static string When(ReleaseNotice notice) =>
            notice.OccurredAt.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

        /// <summary>The facts as plain lines, for the formats that show text without markup.</summary>
        public static string PlainLines(ReleaseNotice notice) =>
            string.Join("\n", Facts(notice).Select(f => $"{f.Key}: {f.Value}").Concat(new[] { $"At: {When(notice)}" }));

        public static string Truncate(string text, int max) => text.Length <= max ? text : text.Substring(0, max - 1) + "…";

        private static string Spaced(string name) => name.Replace('_', ' ');
    }
}
