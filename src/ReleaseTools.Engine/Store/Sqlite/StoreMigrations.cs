using System.Collections.Generic;

namespace ReleaseTools.Engine.Store.Sqlite
{
    /// <summary>
    /// The store's schema history. Each migration runs once, in order, in its own transaction, and sets
    /// PRAGMA user_version to its number, so a store written by any older release opens in this one. Never edit a
    /// released migration: add the next number.
    /// </summary>
    internal static class StoreMigrations
    {
        /// <summary>PRAGMA application_id of every ReleaseTools store: "RTst" in ASCII.</summary>
        public const int ApplicationId = 0x52547374;

        /// <summary>The one table whose presence (with application_id) marks a file as ours.</summary>
        public const string MarkerTable = "releasetools_store";

        public static IReadOnlyList<StoreMigration> All { get; } = new[]
        {
            new StoreMigration(1, "Initial schema: instances, deployments, targets, history, config snapshots, leases, audit", @"
CREATE TABLE releasetools_store (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO releasetools_store (key, value) VALUES ('format', 'ReleaseTools release store');

CREATE TABLE instances (
    instance_id TEXT NOT NULL COLLATE NOCASE PRIMARY KEY,
    service     TEXT NOT NULL COLLATE NOCASE,
    environment TEXT NOT NULL COLLATE NOCASE,
    host        TEXT NOT NULL,
    port        INTEGER NOT NULL,
    tags        TEXT NOT NULL DEFAULT '[]',
    version     TEXT,
    fversion    TEXT,
    status      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX ix_instances_service ON instances (service);

CREATE TABLE deployments (
    deployment_id     TEXT NOT NULL PRIMARY KEY,
    operation         TEXT NOT NULL,
    service           TEXT NOT NULL COLLATE NOCASE,
    target_version    TEXT NOT NULL,
    package_url       TEXT,
    package_md5       TEXT,
    fversion          TEXT,
    initiated_by      TEXT NOT NULL,
    initiated_from    TEXT NOT NULL,
    batch_count       INTEGER NOT NULL,
    parameters_json   TEXT,
    resumed_from      TEXT,
    status            TEXT NOT NULL,
    total_targets     INTEGER NOT NULL DEFAULT 0,
    succeeded_targets INTEGER NOT NULL DEFAULT 0,
    failed_targets    INTEGER NOT NULL DEFAULT 0,
    skipped_targets   INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    started_at        INTEGER,
    ended_at          INTEGER,
    owner_host        TEXT,
    owner_process_id  INTEGER
);
CREATE INDEX ix_deployments_created ON deployments (created_at);
CREATE INDEX ix_deployments_status ON deployments (status);

CREATE TABLE deployment_targets (
    deployment_id       TEXT NOT NULL,
    instance_id         TEXT NOT NULL COLLATE NOCASE,
    service             TEXT NOT NULL,
    environment         TEXT NOT NULL,
    batch               INTEGER NOT NULL,
    target_version      TEXT NOT NULL,
    target_fversion     TEXT,
    from_version        TEXT,
    from_fversion       TEXT,
    status              TEXT NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 0,
    package_transferred INTEGER NOT NULL DEFAULT 0,
    config_transferred  INTEGER NOT NULL DEFAULT 0,
    failed_step         TEXT,
    error               TEXT,
    started_at          INTEGER,
    ended_at            INTEGER,
    PRIMARY KEY (deployment_id, instance_id)
);

CREATE TABLE version_history (
    sequence          INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id       TEXT NOT NULL COLLATE NOCASE,
    service           TEXT NOT NULL COLLATE NOCASE,
    environment       TEXT NOT NULL,
    version           TEXT NOT NULL,
    fversion          TEXT NOT NULL,
    previous_version  TEXT,
    previous_fversion TEXT,
    deployment_id     TEXT NOT NULL,
    operation         TEXT NOT NULL,
    package_url       TEXT,
    package_md5       TEXT,
    config_digest     TEXT,
    config_file_name  TEXT,
    recorded_at       INTEGER NOT NULL
);
CREATE INDEX ix_history_instance ON version_history (instance_id, sequence DESC);

CREATE TABLE config_snapshots (
    digest    TEXT NOT NULL PRIMARY KEY,
    file_name TEXT NOT NULL,
    content   BLOB NOT NULL,
    saved_at  INTEGER NOT NULL
);

CREATE TABLE instance_leases (
    instance_id   TEXT NOT NULL COLLATE NOCASE PRIMARY KEY,
    deployment_id TEXT NOT NULL,
    host_name     TEXT NOT NULL,
    process_id    INTEGER NOT NULL,
    acquired_at   INTEGER NOT NULL,
    heartbeat_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX ix_leases_deployment ON instance_leases (deployment_id);

CREATE TABLE deployment_audit (
    sequence      INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id TEXT NOT NULL,
    kind          TEXT NOT NULL,
    message       TEXT NOT NULL,
    recorded_at   INTEGER NOT NULL
);
CREATE INDEX ix_audit_deployment ON deployment_audit (deployment_id, sequence);
"),
            new StoreMigration(2, "Large registries: version and environment indexes, a version catalogue for completion, process start times of lease owners", @"
DROP INDEX ix_instances_service;
CREATE INDEX ix_instances_service_version ON instances (service, version);
CREATE INDEX ix_instances_environment ON instances (environment);

DROP INDEX ix_deployments_status;
CREATE INDEX ix_deployments_status_created ON deployments (status, created_at);
CREATE INDEX ix_targets_deployment_batch ON deployment_targets (deployment_id, batch, instance_id);

-- A process id alone is reused by the OS; with its start time a dead owner is never mistaken for a live one.
ALTER TABLE instance_leases ADD COLUMN process_started_at INTEGER;
ALTER TABLE deployments ADD COLUMN owner_process_started_at INTEGER;

-- Completion asks for the versions of a service on every key press; a small catalogue answers without
-- walking a million history rows.
CREATE TABLE service_versions (
    service TEXT NOT NULL COLLATE NOCASE,
    version TEXT NOT NULL,
    PRIMARY KEY (service, version)
) WITHOUT ROWID;
INSERT OR IGNORE INTO service_versions (service, version) SELECT service, version FROM version_history;
INSERT OR IGNORE INTO service_versions (service, version) SELECT service, version FROM instances WHERE version IS NOT NULL;
"),
            new StoreMigration(3, "Resumed runs name their resume, cancelled targets are counted, history is found by service and environment or version", @"
ALTER TABLE deployments ADD COLUMN resumed_by TEXT;
ALTER TABLE deployments ADD COLUMN cancelled_targets INTEGER NOT NULL DEFAULT 0;
UPDATE deployments SET resumed_by = (SELECT max(r.deployment_id) FROM deployments AS r WHERE r.resumed_from = deployments.deployment_id);
UPDATE deployments SET cancelled_targets = (SELECT count(*) FROM deployment_targets AS t WHERE t.deployment_id = deployments.deployment_id AND t.status = 'cancelled');

-- The config a redeploy keeps (last release of a service and environment) and the package MD5 a version was
-- released with are found without walking every instance's history.
CREATE INDEX ix_history_service_environment ON version_history (service, environment COLLATE NOCASE, sequence DESC);
CREATE INDEX ix_history_service_version ON version_history (service, version, sequence DESC);
"),
            new StoreMigration(4, "Fencing tokens on leases: each claim draws a larger number from one store-wide counter", @"
ALTER TABLE instance_leases ADD COLUMN fencing_token INTEGER NOT NULL DEFAULT 0;
INSERT INTO releasetools_store (key, value) VALUES ('lease_fencing_token', '0');
"),
            new StoreMigration(5, "Release notifications: the webhooks a team posts release notices to, and the log of their deliveries", @"
CREATE TABLE webhooks (
    name       TEXT NOT NULL COLLATE NOCASE PRIMARY KEY,
    url        TEXT NOT NULL,
    format     TEXT NOT NULL,
    enabled    INTEGER NOT NULL,
    secret     TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    sequence         INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook          TEXT NOT NULL COLLATE NOCASE,
    notice_id        TEXT NOT NULL,
    release_id       TEXT NOT NULL COLLATE NOCASE,
    event            TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    last_status_code INTEGER,
    error            TEXT,
    elapsed_ms       INTEGER NOT NULL,
    recorded_at      INTEGER NOT NULL
);
CREATE INDEX ix_webhook_deliveries_webhook ON webhook_deliveries (webhook, sequence DESC);
CREATE INDEX ix_webhook_deliveries_release ON webhook_deliveries (release_id, sequence DESC);
"),
            new StoreMigration(6, "The newest runs, of all services or of one, are read from an index in the order they are listed", @"
-- Runs are listed newest first with the id breaking ties: an index in exactly that order reads the first 20 of
-- 100,000 runs without sorting them all, and one led by the service does the same for Get-ReleaseDeployment -Service.
DROP INDEX ix_deployments_created;
CREATE INDEX ix_deployments_created ON deployments (created_at, deployment_id);
CREATE INDEX ix_deployments_service_created ON deployments (service, created_at, deployment_id);
"),
            new StoreMigration(7, "History keeps reverted attempts: a release the agent installed and undid is a row of outcome 'reverted', never a current or previous release", @"
ALTER TABLE version_history ADD COLUMN outcome TEXT NOT NULL DEFAULT 'released';
ALTER TABLE version_history ADD COLUMN failed_check TEXT;
"),
            new StoreMigration(8, "Release lifecycle: releases, service entries, frozen configs, transitions, approvals, stage runs, lifecycle leases", @"
-- State is the lifecycle's numeric code (PendingReview 0 ... Cancelled 90), kept as a number for interoperability.
CREATE TABLE releases (
    release_id       TEXT NOT NULL PRIMARY KEY,
    name             TEXT NOT NULL COLLATE NOCASE,
    description      TEXT,
    pre_environment  TEXT NOT NULL COLLATE NOCASE,
    prod_environment TEXT NOT NULL COLLATE NOCASE,
    state            INTEGER NOT NULL,
    revision         INTEGER NOT NULL,
    created_by       TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX ix_releases_state_created ON releases (state, created_at);
CREATE INDEX ix_releases_created ON releases (created_at);

CREATE TABLE release_entries (
    release_id          TEXT NOT NULL,
    service             TEXT NOT NULL COLLATE NOCASE,
    position            INTEGER NOT NULL,
    version             TEXT NOT NULL,
    package_url         TEXT NOT NULL,
    checksum            TEXT,
    allow_local_package INTEGER NOT NULL DEFAULT 0,
    config_kind         TEXT NOT NULL,
    config_content      BLOB,
    config_file_name    TEXT,
    config_values       TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (release_id, service)
);

-- The config each entry sends to each environment, frozen when the release is tagged (bytes in config_snapshots).
CREATE TABLE release_config_snapshots (
    release_id  TEXT NOT NULL,
    service     TEXT NOT NULL COLLATE NOCASE,
    environment TEXT NOT NULL COLLATE NOCASE,
    digest      TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    PRIMARY KEY (release_id, service, environment)
);

CREATE TABLE release_transitions (
    sequence    INTEGER PRIMARY KEY AUTOINCREMENT,
    release_id  TEXT NOT NULL,
    event       TEXT NOT NULL,
    from_state  INTEGER,
    to_state    INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    comment     TEXT,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX ix_release_transitions_release ON release_transitions (release_id, sequence);

CREATE TABLE release_approvals (
    release_id  TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    approver    TEXT NOT NULL COLLATE NOCASE,
    comment     TEXT,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (release_id, revision, approver)
);

CREATE TABLE release_runs (
    sequence      INTEGER PRIMARY KEY AUTOINCREMENT,
    release_id    TEXT NOT NULL,
    -- The start_* transition row this run belongs to: a stage run again after a failure has runs of its own.
    transition    INTEGER NOT NULL,
    stage         TEXT NOT NULL,
    service       TEXT NOT NULL COLLATE NOCASE,
    environment   TEXT NOT NULL COLLATE NOCASE,
    deployment_id TEXT,
    status        TEXT NOT NULL,
    error         TEXT,
    started_at    INTEGER NOT NULL,
    ended_at      INTEGER
);
CREATE INDEX ix_release_runs_release ON release_runs (release_id, sequence);

-- Named leases: the scanner's (one scanner acts at a time across machines) and each stage's while it deploys.
CREATE TABLE lifecycle_leases (
    name        TEXT NOT NULL PRIMARY KEY,
    holder_id   TEXT NOT NULL,
    host_name   TEXT NOT NULL,
    process_id  INTEGER NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
"),
            new StoreMigration(9, "Instances say how their agent is reached: which of the agent's instances they are, over HTTPS or not, and the agent certificate they pin", @"
-- NULL agent_instance is the agent's default instance (every instance registered before this migration).
ALTER TABLE instances ADD COLUMN agent_instance TEXT;
ALTER TABLE instances ADD COLUMN use_https INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN agent_certificate TEXT;
"),
        };

        public static int LatestVersion => All[All.Count - 1].Number;
    }

    internal sealed class StoreMigration
    {
        public StoreMigration(int number, string description, string sql)
        {
            Number = number;
            Description = description;
            Sql = sql;
        }

        public int Number { get; }
        public string Description { get; }
        public string Sql { get; }
    }
}
