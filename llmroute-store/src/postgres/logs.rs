//! Request logs and spend queries in PostgreSQL.
//!
//! A batch is one statement: the rows go in as arrays through `UNNEST` (one round trip
//! and one plan whatever the batch size), duplicates by request id are skipped, and the
//! new rows' cost is added to their keys' spend in the same statement, so the spend
//! ledger always equals the sum of the logs.

use std::time::SystemTime;

use async_trait::async_trait;
use llmroute_core::events::RequestRecord;
use llmroute_core::store::{
    unix_millis, LogEntry, LogFilter, LogStore, Page, SpendRow, StoreResult,
};
use tokio_postgres::types::ToSql;

use super::{pg, PgStore};

const INSERT: &str = "WITH ins AS (
    INSERT INTO llmroute_request_logs (request_id, started_at, key_hash, key_alias, model, deployment,
        upstream_model, status, error_type, prompt_tokens, cached_tokens, completion_tokens, cost,
        latency_ms, upstream_ms, ttft_ms, attempts, cache_hit, stream, upstream_request_id)
    SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
        $7::text[], $8::int4[], $9::text[], $10::int8[], $11::int8[], $12::int8[], $13::float8[],
        $14::float8[], $15::float8[], $16::float8[], $17::int4[], $18::bool[], $19::bool[], $20::text[])
    ON CONFLICT (request_id) DO NOTHING
    RETURNING key_hash, cost
), spent AS (
    SELECT key_hash, SUM(cost) AS amount FROM ins
    WHERE key_hash IS NOT NULL AND cost <> 0 GROUP BY key_hash
), upd AS (
    UPDATE llmroute_keys k SET
        spend = CASE WHEN k.budget_reset_at <= now() THEN s.amount ELSE k.spend + s.amount END,
        budget_reset_at = CASE WHEN k.budget_reset_at <= now()
            THEN now() + k.budget_duration_secs * interval '1 second' ELSE k.budget_reset_at END
    FROM spent s WHERE k.token_hash = s.key_hash
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM ins)";

/// The batch as one array per column.
#[derive(Default)]
struct Columns<'a> {
    request_id: Vec<&'a str>,
    started_at: Vec<SystemTime>,
    key_hash: Vec<Option<&'a str>>,
    key_alias: Vec<Option<&'a str>>,
    model: Vec<&'a str>,
    deployment: Vec<Option<&'a str>>,
    upstream_model: Vec<Option<&'a str>>,
    status: Vec<i32>,
    error_type: Vec<Option<&'a str>>,
    prompt_tokens: Vec<Option<i64>>,
    cached_tokens: Vec<Option<i64>>,
    completion_tokens: Vec<Option<i64>>,
    cost: Vec<f64>,
    latency_ms: Vec<f64>,
    upstream_ms: Vec<f64>,
    ttft_ms: Vec<Option<f64>>,
    attempts: Vec<i32>,
    cache_hit: Vec<bool>,
    stream: Vec<bool>,
    upstream_request_id: Vec<Option<&'a str>>,
}

impl<'a> Columns<'a> {
    fn of(batch: &'a [RequestRecord]) -> Self {
        let mut c = Columns::default();
        for r in batch {
            let u = r.usage.as_ref();
            c.request_id.push(&r.request_id);
            c.started_at.push(r.started_at);
            c.key_hash.push(r.key_hash.as_deref());
            c.key_alias.push(r.key_alias.as_deref());
            c.model.push(&r.model);
            c.deployment.push(r.deployment.as_deref());
            c.upstream_model.push(r.upstream_model.as_deref());
            c.status.push(i32::from(r.status));
            c.error_type.push(r.error_type);
            c.prompt_tokens.push(u.map(|u| u.prompt_tokens as i64));
            c.cached_tokens.push(u.map(|u| u.cached_tokens() as i64));
            c.completion_tokens
                .push(u.map(|u| u.completion_tokens as i64));
            c.cost.push(r.cost);
            c.latency_ms.push(r.latency.as_secs_f64() * 1000.0);
            c.upstream_ms.push(r.upstream_time.as_secs_f64() * 1000.0);
            c.ttft_ms
                .push(r.time_to_first_token.map(|d| d.as_secs_f64() * 1000.0));
            c.attempts.push(r.attempts.min(i32::MAX as u32) as i32);
            c.cache_hit.push(r.cache_hit);
            c.stream.push(r.stream);
            c.upstream_request_id.push(r.upstream_request_id.as_deref());
        }
        c
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 20] {
        [
            &self.request_id,
            &self.started_at,
            &self.key_hash,
            &self.key_alias,
            &self.model,
            &self.deployment,
            &self.upstream_model,
            &self.status,
            &self.error_type,
            &self.prompt_tokens,
            &self.cached_tokens,
            &self.completion_tokens,
            &self.cost,
            &self.latency_ms,
            &self.upstream_ms,
            &self.ttft_ms,
            &self.attempts,
            &self.cache_hit,
            &self.stream,
            &self.upstream_request_id,
        ]
    }
}

/// ` WHERE ...` for a filter (parameters from `$1`), and its parameters.
fn where_clause(f: &LogFilter) -> (String, Vec<Box<dyn ToSql + Sync + Send>>) {
    let mut conds = Vec::new();
    let mut vals: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    if let Some(h) = &f.key_hash {
        vals.push(Box::new(h.clone()));
        conds.push(format!("key_hash = ${}", vals.len()));
    }
    if let Some(s) = f.start {
        vals.push(Box::new(s));
        conds.push(format!("started_at >= ${}", vals.len()));
    }
    if let Some(e) = f.end {
        vals.push(Box::new(e));
        conds.push(format!("started_at < ${}", vals.len()));
    }
    let sql = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    (sql, vals)
}

fn refs(vals: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    vals.iter()
        .map(|v| v.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

impl PgStore {
    async fn spend(
        &self,
        group: &str,
        filter: &LogFilter,
        order: &str,
        action: &'static str,
    ) -> StoreResult<Vec<SpendRow>> {
        let (mut w, vals) = where_clause(filter);
        if group == "key_hash" {
            w.push_str(if w.is_empty() {
                " WHERE key_hash IS NOT NULL"
            } else {
                " AND key_hash IS NOT NULL"
            });
        }
        let sql = format!(
            "SELECT {group} AS g, COALESCE(SUM(cost), 0)::float8, COUNT(*),
                    COALESCE(SUM(prompt_tokens), 0)::int8, COALESCE(SUM(completion_tokens), 0)::int8
             FROM llmroute_request_logs{w} GROUP BY g ORDER BY {order}"
        );
        let c = self.client(action).await?;
        let rows = c.query(&sql, &refs(&vals)).await.map_err(pg(action))?;
        c.release();
        rows.iter()
            .map(|r| {
                Ok(SpendRow {
                    group: r.try_get(0)?,
                    spend: r.try_get(1)?,
                    requests: r.try_get::<_, i64>(2)? as u64,
                    prompt_tokens: r.try_get::<_, i64>(3)? as u64,
                    completion_tokens: r.try_get::<_, i64>(4)? as u64,
                })
            })
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(pg(action))
    }
}

#[async_trait]
impl LogStore for PgStore {
    async fn insert_logs(&self, batch: &[RequestRecord]) -> StoreResult<u64> {
        const ACTION: &str = "inserting request logs";
        if batch.is_empty() {
            return Ok(0);
        }
        let c = self.client(ACTION).await?;
        let st = c.prepare_cached(INSERT).await.map_err(pg(ACTION))?;
        let cols = Columns::of(batch);
        let row = c.query_one(&st, &cols.params()).await.map_err(pg(ACTION))?;
        c.release();
        let n: i64 = row.try_get(0).map_err(pg(ACTION))?;
        Ok(n as u64)
    }

    async fn spend_by_key(&self, filter: &LogFilter) -> StoreResult<Vec<SpendRow>> {
        self.spend("key_hash", filter, "2 DESC, g", "summing spend by key")
            .await
    }

    async fn spend_by_day(&self, filter: &LogFilter) -> StoreResult<Vec<SpendRow>> {
        self.spend(
            "to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            filter,
            "g",
            "summing spend by day",
        )
        .await
    }

    async fn spend_by_model(&self, filter: &LogFilter) -> StoreResult<Vec<SpendRow>> {
        self.spend("model", filter, "2 DESC, g", "summing spend by model")
            .await
    }

    async fn recent_logs(&self, filter: &LogFilter, page: Page) -> StoreResult<Vec<LogEntry>> {
        const ACTION: &str = "reading request logs";
        let (w, mut vals) = where_clause(filter);
        vals.push(Box::new(i64::from(page.limit())));
        vals.push(Box::new(page.offset() as i64));
        let (l, o) = (vals.len() - 1, vals.len());
        let sql = format!(
            "SELECT request_id, started_at, key_hash, key_alias, model, deployment, upstream_model, status,
                    error_type, prompt_tokens, cached_tokens, completion_tokens, cost, latency_ms, upstream_ms,
                    ttft_ms, attempts, cache_hit, stream, upstream_request_id
             FROM llmroute_request_logs{w} ORDER BY started_at DESC, request_id LIMIT ${l} OFFSET ${o}"
        );
        let c = self.client(ACTION).await?;
        let rows = c.query(&sql, &refs(&vals)).await.map_err(pg(ACTION))?;
        c.release();
        let tokens = |v: Option<i64>| v.map(|v| v.max(0) as u64);
        rows.iter()
            .map(|r| {
                Ok(LogEntry {
                    request_id: r.try_get(0)?,
                    started_at_ms: unix_millis(r.try_get(1)?),
                    key_hash: r.try_get(2)?,
                    key_alias: r.try_get(3)?,
                    model: r.try_get(4)?,
                    deployment: r.try_get(5)?,
                    upstream_model: r.try_get(6)?,
                    status: r.try_get::<_, i32>(7)?.clamp(0, 999) as u16,
                    error_type: r.try_get(8)?,
                    prompt_tokens: tokens(r.try_get(9)?),
                    cached_tokens: tokens(r.try_get(10)?),
                    completion_tokens: tokens(r.try_get(11)?),
                    cost: r.try_get(12)?,
                    latency_ms: r.try_get(13)?,
                    upstream_ms: r.try_get(14)?,
                    ttft_ms: r.try_get(15)?,
                    attempts: r.try_get::<_, i32>(16)?.max(0) as u32,
                    cache_hit: r.try_get(17)?,
                    stream: r.try_get(18)?,
                    upstream_request_id: r.try_get(19)?,
                })
            })
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(pg(ACTION))
    }
}
