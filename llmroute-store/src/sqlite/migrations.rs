//! The SQLite schema, as numbered migrations applied in one `BEGIN IMMEDIATE`
//! transaction (so two processes opening the same file apply them once).

use llmroute_core::store::{unix_secs, StoreError, StoreResult};
use rusqlite::{Connection, TransactionBehavior};

use super::{q, BACKEND};

/// One schema step. Versions only grow; a shipped step is never edited.
struct Migration {
    version: u32,
    name: &'static str,
    sql: &'static str,
}

/// The newest schema version this build knows.
pub(crate) fn latest() -> u32 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "keys and request logs",
    sql: r#"
CREATE TABLE llmroute_keys (
    token_hash           TEXT PRIMARY KEY NOT NULL,
    key_alias            TEXT,
    models               TEXT NOT NULL DEFAULT '[]',
    max_budget           REAL,
    budget_duration      TEXT,
    budget_duration_secs INTEGER,
    budget_reset_at      INTEGER,
    spend                REAL NOT NULL DEFAULT 0,
    rpm_limit            INTEGER,
    tpm_limit            INTEGER,
    expires              INTEGER,
    metadata             TEXT NOT NULL DEFAULT '{}',
    blocked              INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX llmroute_keys_created_at ON llmroute_keys (created_at DESC);
CREATE TABLE llmroute_request_logs (
    request_id          TEXT PRIMARY KEY NOT NULL,
    started_at          INTEGER NOT NULL,
    key_hash            TEXT,
    key_alias           TEXT,
    model               TEXT NOT NULL,
    deployment          TEXT,
    upstream_model      TEXT,
    status              INTEGER NOT NULL,
    error_type          TEXT,
    prompt_tokens       INTEGER,
    cached_tokens       INTEGER,
    completion_tokens   INTEGER,
    cost                REAL NOT NULL DEFAULT 0,
    latency_ms          REAL NOT NULL,
    upstream_ms         REAL NOT NULL,
    ttft_ms             REAL,
    attempts            INTEGER NOT NULL,
    cache_hit           INTEGER NOT NULL,
    stream              INTEGER NOT NULL,
    upstream_request_id TEXT
);
CREATE INDEX llmroute_request_logs_started_at ON llmroute_request_logs (started_at);
CREATE INDEX llmroute_request_logs_key ON llmroute_request_logs (key_hash, started_at);
"#,
}];

/// Brings the schema to the newest version; returns it.
pub(super) fn migrate(c: &mut Connection) -> StoreResult<u32> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(q("locking the database to migrate"))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS llmroute_schema_migrations (
            version INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )
    .map_err(q("creating the migrations table"))?;
    let current: u32 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM llmroute_schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(q("reading the schema version"))?;
    let known = MIGRATIONS.last().map(|m| m.version).unwrap_or(0);
    if current > known {
        return Err(StoreError::SchemaTooNew {
            backend: BACKEND,
            found: current,
            known,
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let fail = |e: rusqlite::Error| StoreError::Migration {
            backend: BACKEND,
            version: m.version,
            name: m.name,
            previous: current,
            reason: e.to_string(),
        };
        tx.execute_batch(m.sql).map_err(fail)?;
        tx.execute(
            "INSERT INTO llmroute_schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, m.name, unix_secs(std::time::SystemTime::now())],
        )
        .map_err(fail)?;
        tracing::info!(version = m.version, name = m.name, "SQLite schema migrated");
    }
    tx.commit().map_err(q("committing the migrations"))?;
    Ok(known)
}
