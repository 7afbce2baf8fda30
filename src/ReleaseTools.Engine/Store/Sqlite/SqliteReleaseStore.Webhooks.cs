using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

using static ReleaseTools.Engine.Store.StoreRows;

namespace ReleaseTools.Engine.Store.Sqlite
{
    // Release notifications: the webhooks of the store and the log of what was delivered to them.
    public sealed partial class SqliteReleaseStore
    {
        public Task<WebhookRecord> SaveWebhookAsync(WebhookRegistration webhook, bool replaceExisting, CancellationToken cancellationToken)
        {
            StoreValidation.Validate(webhook);
            return WriteAsync(async (connection, transaction) =>
            {
                // DO NOTHING when not replacing: a concurrent registration of the same name cannot slip in between a check and the insert.
                var sql = "INSERT INTO webhooks (" + WebhookColumns + ") VALUES ($name, $url, $format, $enabled, $secret, $now, $now) ON CONFLICT (name) " +
                          (replaceExisting
                              ? "DO UPDATE SET name = excluded.name, url = excluded.url, format = excluded.format, enabled = excluded.enabled, secret = excluded.secret, updated_at = excluded.updated_at"
                              : "DO NOTHING");
                using (var upsert = StoreCommands.Create(connection, transaction, sql)
                    .With("$name", webhook.Name)
                    .With("$url", webhook.Url.Trim())
                    .With("$format", StoreValues.ToText(webhook.Format))
                    .With("$enabled", webhook.Enabled)
                    .With("$secret", webhook.Secret)
                    .With("$now", StoreValues.ToUnixMs(Now())))
                {
                    if (await upsert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
                    {
                        throw StoreValidation.WebhookExists(webhook.Name, Location);
                    }
                }

                using var read = StoreCommands.Create(connection, transaction, "SELECT " + WebhookColumns + " FROM webhooks WHERE name = $name").With("$name", webhook.Name);
                return (await read.ToListAsync(ReadWebhook, cancellationToken).ConfigureAwait(false))[0];
            }, cancellationToken);
        }

        public Task<bool> RemoveWebhookAsync(string name, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                using var delete = StoreCommands.Create(connection, transaction, "DELETE FROM webhooks WHERE name = $name").With("$name", name);
                return await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
            }, cancellationToken);

        public Task<WebhookRecord?> SetWebhookEnabledAsync(string name, bool enabled, CancellationToken cancellationToken) =>
            WriteAsync(async (connection, transaction) =>
            {
                using (var update = StoreCommands.Create(connection, transaction, "UPDATE webhooks SET enabled = $enabled, updated_at = $now WHERE name = $name AND enabled <> $enabled")
                    .With("$name", name).With("$enabled", enabled).With("$now", StoreValues.ToUnixMs(Now())))
                {
                    await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                using var read = StoreCommands.Create(connection, transaction, "SELECT " + WebhookColumns + " FROM webhooks WHERE name = $name").With("$name", name);
                var found = await read.ToListAsync(ReadWebhook, cancellationToken).ConfigureAwait(false);
                return found.Count == 0 ? null : found[0];
            }, cancellationToken);

        public Task<IReadOnlyList<WebhookRecord>> GetWebhooksAsync(CancellationToken cancellationToken) =>
            ReadAsync<IReadOnlyList<WebhookRecord>>(async connection =>
            {
                using var command = StoreCommands.Create(connection, null, "SELECT " + WebhookColumns + " FROM webhooks ORDER BY name");
                return await command.ToListAsync(ReadWebhook, cancellationToken).ConfigureAwait(false);
            }, cancellationToken);

        public Task<WebhookDeliveryRecord> RecordWebhookDeliveryAsync(NewWebhookDelivery delivery, CancellationToken cancellationToken)
        {
            StoreValidation.Validate(delivery);
            return WriteAsync(async (connection, transaction) =>
            {
                using var insert = StoreCommands.Create(connection, transaction,
                    "INSERT INTO webhook_deliveries (webhook, notice_id, release_id, event, status, attempts, last_status_code, error, elapsed_ms, recorded_at) " +
                    "VALUES ($webhook, $notice, $release, $event, $status, $attempts, $code, $error, $elapsed, $now) RETURNING " + WebhookDeliveryColumns);
                WebhookDeliveryRows.Bind(delivery, StoreValues.ToUnixMs(Now()), (name, value) => insert.With("$" + name, value));
                return (await insert.ToListAsync(ReadWebhookDelivery, cancellationToken).ConfigureAwait(false))[0];
            }, cancellationToken);
        }

        public Task<IReadOnlyList<WebhookDeliveryRecord>> FindWebhookDeliveriesAsync(WebhookDeliveryQuery query, CancellationToken cancellationToken)
        {
            var filter = WebhookDeliveryRows.Filter(query, "$");
            return ReadAsync<IReadOnlyList<WebhookDeliveryRecord>>(async connection =>
            {
                using var command = StoreCommands.Create(connection, null, filter.Sql);
                foreach (var parameter in filter.Parameters)
                {
                    command.With("$" + parameter.Key, parameter.Value);
                }

                return await command.ToListAsync(ReadWebhookDelivery, cancellationToken).ConfigureAwait(false);
            }, cancellationToken);
        }
    }
}
