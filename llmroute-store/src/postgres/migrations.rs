//! The PostgreSQL schema, as numbered migrations. Applied under a session advisory lock,
//! so when several instances start at once one migrates and the others wait, then find
//! nothing left to do.

use deadpool_postgres::Object;
use llmroute_core::store::{StoreError, StoreResult};

use super::{describe, pg, BACKEND};

/// The advisory lock id: "llmroute" in ASCII.
const LOCK_ID: i64 = 0x6c6c_6d72_6f75_7465;

/// One schema step. Versions only grow; a shipped step is never edited.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// The newest schema version this build knows.
pub(crate) fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version.max(0) as u32)
}

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "keys and request logs",
    sql: r#"
CREATE TABLE llmroute_keys (
    token_hash           TEXT PRIMARY KEY,
    key_alias            TEXT,
    models               TEXT[] NOT NULL DEFAULT '{}',
    max_budget           DOUBLE PRECISION,
    budget_duration      TEXT,
    budget_duration_secs BIGINT,
    budget_reset_at      TIMESTAMPTZ,
    spend                DOUBLE PRECISION NOT NULL DEFAULT 0,
    rpm_limit            BIGINT,
    tpm_limit            BIGINT,
    expires              TIMESTAMPTZ,
    metadata             JSONB NOT NULL DEFAULT '{}',
    blocked              BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX llmroute_keys_created_at ON llmroute_keys (created_at DESC);
CREATE TABLE llmroute_request_logs (
    request_id          TEXT PRIMARY KEY,
    started_at          TIMESTAMPTZ NOT NULL,
    key_hash            TEXT,
    key_alias           TEXT,
    model               TEXT NOT NULL,
    deployment          TEXT,
    upstream_model      TEXT,
    status              INTEGER NOT NULL,
    error_type          TEXT,
    prompt_tokens       BIGINT,
    cached_tokens       BIGINT,
    completion_tokens   BIGINT,
    cost                DOUBLE PRECISION NOT NULL DEFAULT 0,
    latency_ms          DOUBLE PRECISION NOT NULL,
    upstream_ms         DOUBLE PRECISION NOT NULL,
    ttft_ms             DOUBLE PRECISION,
    attempts            INTEGER NOT NULL,
    cache_hit           BOOLEAN NOT NULL,
    stream              BOOLEAN NOT NULL,
    upstream_request_id TEXT
);
CREATE INDEX llmroute_request_logs_started_at ON llmroute_request_logs (started_at);
CREATE INDEX llmroute_request_logs_key ON llmroute_request_logs (key_hash, started_at);
"#,
}];

/// Brings the schema to the newest version under the advisory lock; returns it.
pub(super) async fn migrate(c: &mut Object) -> StoreResult<u32> {
    c.execute("SELECT pg_advisory_lock($1)", &[&LOCK_ID])
        .await
        .map_err(pg("taking the migration lock (pg_advisory_lock)"))?;
    let result = apply(c).await;
    if let Err(e) = c
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_ID])
        .await
    {
        // The lock is released with the session anyway.
        tracing::warn!(error = %describe(&e), "releasing the migration lock failed");
    }
    result
}

async fn apply(c: &mut Object) -> StoreResult<u32> {
    c.batch_execute(
        "CREATE TABLE IF NOT EXISTS llmroute_schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await
    .map_err(pg("creating the migrations table"))?;
    let current: i32 = c
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM llmroute_schema_migrations",
            &[],
        )
        .await
        .and_then(|r| r.try_get(0))
        .map_err(pg("reading the schema version"))?;
    let known = MIGRATIONS.last().map(|m| m.version).unwrap_or(0);
    if current > known {
        return Err(StoreError::SchemaTooNew {
            backend: BACKEND,
            found: current as u32,
            known: known as u32,
        });
    }
    let mut at = current;
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let fail = |e: tokio_postgres::Error| StoreError::Migration {
            backend: BACKEND,
            version: m.version as u32,
            name: m.name,
            previous: at as u32,
            reason: describe(&e),
        };
        let tx = c.transaction().await.map_err(fail)?;
        tx.batch_execute(m.sql).await.map_err(fail)?;
        tx.execute(
            "INSERT INTO llmroute_schema_migrations (version, name) VALUES ($1, $2)",
            &[&m.version, &m.name],
        )
        .await
        .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        at = m.version;
        tracing::info!(
            version = m.version,
            name = m.name,
            "PostgreSQL schema migrated"
        );
    }
    Ok(known as u32)
}
