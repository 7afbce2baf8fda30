using System;
using System.Collections.Generic;

namespace ReleaseTools.Engine.Store
{
    /// <summary>The delivery log's SQL that both stores share: the values of a new row and the query of the log.</summary>
    internal static class WebhookDeliveryRows
    {
        /// <summary>Log rows are diagnostics: an error text longer than this is cut so a receiver echoing a page cannot bloat the store.</summary>
        public const int MaxErrorLength = 2000;

        public static void Bind(NewWebhookDelivery delivery, long nowMs, Action<string, object?> bind)
        {
            bind("webhook", delivery.Webhook);
            bind("notice", delivery.NoticeId);
            bind("release", delivery.ReleaseId ?? "");
            bind("event", delivery.Event ?? "");
            bind("status", StoreValues.ToText(delivery.Status));
            bind("attempts", delivery.Attempts);
            bind("code", delivery.LastStatusCode);
            bind("error", delivery.Error == null || delivery.Error.Length <= MaxErrorLength ? delivery.Error : delivery.Error.Substring(0, MaxErrorLength) + "…");
            bind("elapsed", (long)Math.Max(0, delivery.Elapsed.TotalMilliseconds));
            bind("now", nowMs);
        }

        /// <summary>The SELECT for <paramref name="query"/>, with only the conditions it sets (a typed null would trouble PostgreSQL).</summary>
        public static (string Sql, IReadOnlyList<KeyValuePair<string, object>> Parameters) Filter(WebhookDeliveryQuery query, string prefix)
        {
            if (query == null)
            {
                throw new ArgumentNullException(nameof(query));
            }

            if (query.Limit < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(query), query.Limit, "A delivery query returns at least one row.");
            }

            var conditions = new List<string>();
            var parameters = new List<KeyValuePair<string, object>>();
            void Add(string column, string name, object value)
            {
                conditions.Add($"{column} = {prefix}{name}");
                parameters.Add(new KeyValuePair<string, object>(name, value));
            }

            if (!string.IsNullOrEmpty(query.Webhook))
            {
                Add("webhook", "webhook", query.Webhook!);
            }

            if (!string.IsNullOrEmpty(query.ReleaseId))
            {
                Add("release_id", "release", query.ReleaseId!);
            }

            if (query.Status is { } status)
            {
                Add("status", "status", StoreValues.ToText(status));
            }

            parameters.Add(new KeyValuePair<string, object>("limit", query.Limit));
            var where = conditions.Count == 0 ? "" : " WHERE " + string.Join(" AND ", conditions);
            return ("SELECT " + StoreRows.WebhookDeliveryColumns + " FROM webhook_deliveries" + where + $" ORDER BY sequence DESC LIMIT {prefix}limit", parameters);
        }
    }
}
