//! Reading a LiteLLM database: `LiteLLM_VerificationToken` rows become virtual keys and
//! `LiteLLM_SpendLogs` rows become request records. Columns that an older LiteLLM did
//! not have yet are read as NULL, so any LiteLLM version's database imports.

use std::collections::HashSet;
use std::time::{Duration, UNIX_EPOCH};

use llmroute_core::events::RequestRecord;
use llmroute_core::keys::VirtualKey;
use llmroute_core::types::Usage;
use serde_json::{json, Value};
use tokio_postgres::Client;

use crate::pg::describe;

/// The columns a table has.
async fn columns(client: &Client, table: &str) -> Result<HashSet<String>, String> {
    let rows = client
        .query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $1",
            &[&table],
        )
        .await
        .map_err(|e| format!("reading the columns of \"{table}\": {}", describe(&e)))?;
    if rows.is_empty() {
        return Err(format!("table \"{table}\" not found; is this LiteLLM's database (the one its DATABASE_URL names)?"));
    }
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get::<_, String>(0).ok())
        .collect())
}

/// `"col"` when the table has it, else `NULL::<ty>`, aliased to `alias`.
fn col(have: &HashSet<String>, name: &str, expr: &str, null_ty: &str, alias: &str) -> String {
    if have.contains(name) {
        format!("{expr} AS {alias}")
    } else {
        format!("NULL::{null_ty} AS {alias}")
    }
}

fn epoch(quoted: &str) -> String {
    format!("EXTRACT(EPOCH FROM {quoted})::float8")
}

/// Every LiteLLM virtual key, as llmroute records (the hash is LiteLLM's `token`).
pub async fn read_keys(client: &Client) -> Result<Vec<VirtualKey>, String> {
    let t = "LiteLLM_VerificationToken";
    let have = columns(client, t).await?;
    let select = [
        "token AS token".to_string(),
        col(&have, "key_alias", "key_alias", "text", "key_alias"),
        col(&have, "key_name", "key_name", "text", "key_name"),
        col(&have, "spend", "spend::float8", "float8", "spend"),
        col(
            &have,
            "max_budget",
            "max_budget::float8",
            "float8",
            "max_budget",
        ),
        col(
            &have,
            "budget_duration",
            "budget_duration",
            "text",
            "budget_duration",
        ),
        col(
            &have,
            "budget_reset_at",
            &epoch("budget_reset_at"),
            "float8",
            "budget_reset_at",
        ),
        col(&have, "models", "models", "text[]", "models"),
        col(
            &have,
            "rpm_limit",
            "rpm_limit::bigint",
            "bigint",
            "rpm_limit",
        ),
        col(
            &have,
            "tpm_limit",
            "tpm_limit::bigint",
            "bigint",
            "tpm_limit",
        ),
        col(&have, "expires", &epoch("expires"), "float8", "expires"),
        col(&have, "metadata", "metadata::jsonb", "jsonb", "metadata"),
        col(&have, "blocked", "blocked", "boolean", "blocked"),
        col(
            &have,
            "created_at",
            &epoch("created_at"),
            "float8",
            "created_at",
        ),
    ]
    .join(", ");
    let rows = client
        .query(&format!("SELECT {select} FROM \"{t}\" ORDER BY token"), &[])
        .await
        .map_err(|e| format!("reading \"{t}\": {}", describe(&e)))?;
    let mut keys = Vec::with_capacity(rows.len());
    for r in rows {
        let get = |e: tokio_postgres::Error| format!("reading a row of \"{t}\": {}", describe(&e));
        let token: String = r.try_get("token").map_err(get)?;
        let secs = |name: &str| {
            r.try_get::<_, Option<f64>>(name)
                .ok()
                .flatten()
                .map(|s| s as i64)
        };
        let models: Vec<String> = r
            .try_get::<_, Option<Vec<String>>>("models")
            .map_err(get)?
            .unwrap_or_default();
        // LiteLLM's "all-proxy-models" (and an empty list) mean every model.
        let models = models
            .into_iter()
            .filter(|m| m != "all-proxy-models")
            .collect();
        let mut metadata: Value = r
            .try_get::<_, Option<Value>>("metadata")
            .map_err(get)?
            .unwrap_or_else(|| json!({}));
        if !metadata.is_object() {
            metadata = json!({ "litellm_metadata": metadata });
        }
        if let Some(name) = r.try_get::<_, Option<String>>("key_name").map_err(get)? {
            metadata["litellm_key_name"] = json!(name);
        }
        keys.push(VirtualKey {
            token_hash: token.to_ascii_lowercase(),
            key_alias: r.try_get("key_alias").map_err(get)?,
            models,
            max_budget: r.try_get("max_budget").map_err(get)?,
            budget_duration: r.try_get("budget_duration").map_err(get)?,
            budget_reset_at: secs("budget_reset_at"),
            spend: r
                .try_get::<_, Option<f64>>("spend")
                .map_err(get)?
                .unwrap_or(0.0),
            rpm_limit: r
                .try_get::<_, Option<i64>>("rpm_limit")
                .map_err(get)?
                .map(|v| v.max(0) as u64),
            tpm_limit: r
                .try_get::<_, Option<i64>>("tpm_limit")
                .map_err(get)?
                .map(|v| v.max(0) as u64),
            expires: secs("expires"),
            metadata,
            blocked: r
                .try_get::<_, Option<bool>>("blocked")
                .map_err(get)?
                .unwrap_or(false),
            created_at: secs("created_at").unwrap_or_else(crate::time::now_secs),
        });
    }
    Ok(keys)
}

/// Every LiteLLM spend log, oldest first, as request records.
pub async fn read_spend_logs(client: &Client) -> Result<Vec<RequestRecord>, String> {
    let t = "LiteLLM_SpendLogs";
    let have = columns(client, t).await?;
    let select = [
        "request_id AS request_id".to_string(),
        col(&have, "api_key", "api_key", "text", "api_key"),
        col(&have, "spend", "spend::float8", "float8", "spend"),
        col(
            &have,
            "prompt_tokens",
            "prompt_tokens::bigint",
            "bigint",
            "prompt_tokens",
        ),
        col(
            &have,
            "completion_tokens",
            "completion_tokens::bigint",
            "bigint",
            "completion_tokens",
        ),
        col(
            &have,
            "startTime",
            &epoch("\"startTime\""),
            "float8",
            "start_time",
        ),
        col(
            &have,
            "endTime",
            &epoch("\"endTime\""),
            "float8",
            "end_time",
        ),
        col(
            &have,
            "completionStartTime",
            &epoch("\"completionStartTime\""),
            "float8",
            "first_token",
        ),
        col(&have, "model", "model", "text", "model"),
        col(&have, "model_group", "model_group", "text", "model_group"),
        col(&have, "model_id", "model_id", "text", "model_id"),
        col(&have, "cache_hit", "cache_hit", "text", "cache_hit"),
        col(&have, "status", "status", "text", "status"),
    ]
    .join(", ");
    let order = if have.contains("startTime") {
        "ORDER BY \"startTime\", request_id"
    } else {
        "ORDER BY request_id"
    };
    let rows = client
        .query(&format!("SELECT {select} FROM \"{t}\" {order}"), &[])
        .await
        .map_err(|e| format!("reading \"{t}\": {}", describe(&e)))?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let get = |e: tokio_postgres::Error| format!("reading a row of \"{t}\": {}", describe(&e));
        let f = |name: &str| r.try_get::<_, Option<f64>>(name).ok().flatten();
        let s = |name: &str| {
            r.try_get::<_, Option<String>>(name)
                .ok()
                .flatten()
                .filter(|v| !v.is_empty())
        };
        let n = |name: &str| {
            r.try_get::<_, Option<i64>>(name)
                .ok()
                .flatten()
                .unwrap_or(0)
                .max(0) as u64
        };
        let start = f("start_time").unwrap_or(0.0);
        let end = f("end_time").unwrap_or(start);
        let failed = s("status").is_some_and(|st| st != "success");
        let model = s("model").unwrap_or_default();
        out.push(RequestRecord {
            request_id: r.try_get("request_id").map_err(get)?,
            started_at: UNIX_EPOCH + Duration::from_secs_f64(start.max(0.0)),
            key_hash: s("api_key"),
            key_alias: None,
            model: s("model_group").unwrap_or_else(|| model.clone()),
            deployment: s("model_id"),
            upstream_model: Some(model).filter(|m| !m.is_empty()),
            status: if failed { 500 } else { 200 },
            error_type: failed.then_some("litellm_failure"),
            usage: Some(Usage::new(n("prompt_tokens"), n("completion_tokens"))),
            cost: f("spend").unwrap_or(0.0),
            latency: Duration::from_secs_f64((end - start).max(0.0)),
            upstream_time: Duration::from_secs_f64((end - start).max(0.0)),
            time_to_first_token: f("first_token")
                .map(|ft| Duration::from_secs_f64((ft - start).max(0.0))),
            attempts: 1,
            cache_hit: s("cache_hit").is_some_and(|c| c.eq_ignore_ascii_case("true")),
            stream: false,
            upstream_request_id: None,
        });
    }
    Ok(out)
}
