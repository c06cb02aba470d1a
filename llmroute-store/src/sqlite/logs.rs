//! Request logs and spend queries in SQLite.

use std::collections::HashMap;
use std::time::SystemTime;

use async_trait::async_trait;
use llmroute_core::events::RequestRecord;
use llmroute_core::store::{
    unix_millis, unix_secs, LogEntry, LogFilter, LogStore, Page, SpendRow, StoreResult,
};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection};

use super::keys::ADD_SPEND;
use super::{q, SqliteStore};

fn insert_batch(c: &mut Connection, batch: &[RequestRecord]) -> StoreResult<u64> {
    let tx = c.transaction().map_err(q("inserting request logs"))?;
    let mut spend: HashMap<String, f64> = HashMap::new();
    let mut inserted = 0;
    {
        let mut st = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO llmroute_request_logs (request_id, started_at, key_hash, key_alias,
                    model, deployment, upstream_model, status, error_type, prompt_tokens, cached_tokens,
                    completion_tokens, cost, latency_ms, upstream_ms, ttft_ms, attempts, cache_hit, stream,
                    upstream_request_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
            )
            .map_err(q("inserting request logs"))?;
        for r in batch {
            let u = r.usage.as_ref();
            let n = st
                .execute(params![
                    r.request_id,
                    unix_millis(r.started_at),
                    r.key_hash,
                    r.key_alias,
                    r.model,
                    r.deployment,
                    r.upstream_model,
                    r.status,
                    r.error_type,
                    u.map(|u| u.prompt_tokens as i64),
                    u.map(|u| u.cached_tokens() as i64),
                    u.map(|u| u.completion_tokens as i64),
                    r.cost,
                    r.latency.as_secs_f64() * 1000.0,
                    r.upstream_time.as_secs_f64() * 1000.0,
                    r.time_to_first_token.map(|d| d.as_secs_f64() * 1000.0),
                    r.attempts,
                    r.cache_hit,
                    r.stream,
                    r.upstream_request_id,
                ])
                .map_err(q("inserting request logs"))?;
            inserted += n as u64;
            if let (1, Some(h)) = (n, &r.key_hash) {
                if r.cost != 0.0 {
                    *spend.entry(h.clone()).or_default() += r.cost;
                }
            }
        }
    }
    let now = unix_secs(SystemTime::now());
    for (hash, amount) in spend {
        tx.execute(ADD_SPEND, params![hash, amount, now])
            .map_err(q("adding logged spend to keys"))?;
    }
    tx.commit().map_err(q("committing request logs"))?;
    Ok(inserted)
}

/// ` WHERE ...` for a filter, and its parameters.
fn where_clause(f: &LogFilter) -> (String, Vec<Value>) {
    let (mut conds, mut vals) = (Vec::new(), Vec::new());
    if let Some(h) = &f.key_hash {
        conds.push("key_hash = ?");
        vals.push(Value::Text(h.clone()));
    }
    if let Some(s) = f.start {
        conds.push("started_at >= ?");
        vals.push(Value::Integer(unix_millis(s)));
    }
    if let Some(e) = f.end {
        conds.push("started_at < ?");
        vals.push(Value::Integer(unix_millis(e)));
    }
    let sql = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    (sql, vals)
}

fn spend(
    c: &Connection,
    group: &str,
    filter: &LogFilter,
    order: &str,
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
        "SELECT {group} AS g, COALESCE(SUM(cost), 0), COUNT(*), COALESCE(SUM(prompt_tokens), 0),
                COALESCE(SUM(completion_tokens), 0)
         FROM llmroute_request_logs{w} GROUP BY g ORDER BY {order}"
    );
    let mut st = c.prepare(&sql).map_err(q("summing spend"))?;
    let rows = st
        .query_map(params_from_iter(vals), |r| {
            Ok(SpendRow {
                group: r.get(0)?,
                spend: r.get(1)?,
                requests: r.get::<_, i64>(2)? as u64,
                prompt_tokens: r.get::<_, i64>(3)? as u64,
                completion_tokens: r.get::<_, i64>(4)? as u64,
            })
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(q("summing spend"))?;
    Ok(rows)
}

fn recent(c: &Connection, filter: &LogFilter, page: Page) -> StoreResult<Vec<LogEntry>> {
    let (w, mut vals) = where_clause(filter);
    vals.push(Value::Integer(i64::from(page.limit())));
    vals.push(Value::Integer(page.offset() as i64));
    let sql = format!(
        "SELECT request_id, started_at, key_hash, key_alias, model, deployment, upstream_model, status,
                error_type, prompt_tokens, cached_tokens, completion_tokens, cost, latency_ms, upstream_ms,
                ttft_ms, attempts, cache_hit, stream, upstream_request_id
         FROM llmroute_request_logs{w} ORDER BY started_at DESC, request_id LIMIT ? OFFSET ?"
    );
    let mut st = c.prepare(&sql).map_err(q("reading request logs"))?;
    let tokens = |v: Option<i64>| v.map(|v| v.max(0) as u64);
    let rows = st
        .query_map(params_from_iter(vals), |r| {
            Ok(LogEntry {
                request_id: r.get(0)?,
                started_at_ms: r.get(1)?,
                key_hash: r.get(2)?,
                key_alias: r.get(3)?,
                model: r.get(4)?,
                deployment: r.get(5)?,
                upstream_model: r.get(6)?,
                status: r.get(7)?,
                error_type: r.get(8)?,
                prompt_tokens: tokens(r.get(9)?),
                cached_tokens: tokens(r.get(10)?),
                completion_tokens: tokens(r.get(11)?),
                cost: r.get(12)?,
                latency_ms: r.get(13)?,
                upstream_ms: r.get(14)?,
                ttft_ms: r.get(15)?,
                attempts: r.get(16)?,
                cache_hit: r.get(17)?,
                stream: r.get(18)?,
                upstream_request_id: r.get(19)?,
            })
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(q("reading request logs"))?;
    Ok(rows)
}

#[async_trait]
impl LogStore for SqliteStore {
    async fn insert_logs(&self, batch: &[RequestRecord]) -> StoreResult<u64> {
        let batch = batch.to_vec();
        self.call("inserting request logs", move |c| insert_batch(c, &batch))
            .await
    }

    async fn spend_by_key(&self, filter: &LogFilter) -> StoreResult<Vec<SpendRow>> {
        let f = filter.clone();
        self.call("summing spend by key", move |c| {
            spend(c, "key_hash", &f, "2 DESC, g")
        })
        .await
    }

    async fn spend_by_day(&self, filter: &LogFilter) -> StoreResult<Vec<SpendRow>> {
        let f = filter.clone();
        self.call("summing spend by day", move |c| {
            spend(c, "date(started_at / 1000, 'unixepoch')", &f, "g")
        })
        .await
    }

    async fn spend_by_model(&self, filter: &LogFilter) -> StoreResult<Vec<SpendRow>> {
        let f = filter.clone();
        self.call("summing spend by model", move |c| {
            spend(c, "model", &f, "2 DESC, g")
        })
        .await
    }

    async fn recent_logs(&self, filter: &LogFilter, page: Page) -> StoreResult<Vec<LogEntry>> {
        let f = filter.clone();
        self.call("reading request logs", move |c| recent(c, &f, page))
            .await
    }
}
