//! The admin API, with LiteLLM's paths and bodies (master key only):
//! `POST /key/generate`, `GET /key/info?key=`, `POST /key/update`, `POST /key/delete`,
//! `GET /key/list`, `GET /spend/logs`, `GET /spend/report`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use llmroute_core::auth::hash_key;
use llmroute_core::keys::VirtualKey;
use llmroute_core::store::{parse_budget_duration, KeyUpdate, NewKey, Page};
use llmroute_core::{Error, Secret};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::body::{parse_json, read_limited};
use super::credentials::authenticate_master;
use super::response::{self, Body};
use crate::gateway::Gateway;
use spend::{spend_logs, spend_report};

mod spend;

/// Which admin operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminOp {
    /// `POST /key/generate`.
    Generate,
    /// `GET /key/info`.
    Info,
    /// `POST /key/update`.
    Update,
    /// `POST /key/delete`.
    Delete,
    /// `GET /key/list`.
    List,
    /// `GET /spend/logs`.
    SpendLogs,
    /// `GET /spend/report`.
    SpendReport,
}

const ADMIN_BODY_LIMIT: usize = 1024 * 1024;

/// How long an admin call may wait on the database.
const ADMIN_STORE_TIMEOUT: Duration = Duration::from_secs(5);

/// The 503 of an admin call the database did not answer in time.
fn store_timed_out(op: AdminOp) -> Error {
    let changes = matches!(op, AdminOp::Generate | AdminOp::Update | AdminOp::Delete);
    Error::Unavailable {
        message: format!(
            "the database did not answer within {} s{}; check GET /health/readiness and the database",
            ADMIN_STORE_TIMEOUT.as_secs(),
            if changes {
                ", so the change may or may not have been made: look with GET /key/info or /key/list once it answers"
            } else {
                ""
            }
        ),
    }
}

/// Serves one admin request.
pub async fn handle(gw: &Gateway, req: Request<Incoming>, op: AdminOp) -> Response<Body> {
    if let Err(e) = authenticate_master(gw, req.headers()).await {
        return response::error(&e);
    }
    let query = query(&req);
    let sent = match op {
        AdminOp::Generate | AdminOp::Update | AdminOp::Delete => match body(req).await {
            Ok(b) => b,
            Err(e) => return response::error(&e),
        },
        _ => Map::new(),
    };
    let work = async {
        match op {
            AdminOp::Generate => generate(gw, sent).await,
            AdminOp::Info => info(gw, &query).await,
            AdminOp::Update => update(gw, sent).await,
            AdminOp::Delete => delete(gw, sent).await,
            AdminOp::List => list(gw, &query).await,
            AdminOp::SpendLogs => spend_logs(gw, &query).await,
            AdminOp::SpendReport => spend_report(gw, &query).await,
        }
    };
    // A database that hangs must not hold an admin call (and its connection) forever.
    let result = tokio::time::timeout(ADMIN_STORE_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| Err(store_timed_out(op)));
    match result {
        Ok(value) => response::json(StatusCode::OK, &value),
        Err(e) => response::error(&e),
    }
}

fn query(req: &Request<Incoming>) -> HashMap<String, String> {
    req.uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

async fn body(req: Request<Incoming>) -> Result<Map<String, Value>, Error> {
    let bytes = read_limited(req.into_body(), ADMIN_BODY_LIMIT).await?;
    if bytes.is_empty() {
        return Ok(Map::new());
    }
    parse_json(&bytes)
}

/// A key given as `sk-...` or as its SHA-256 hex hash.
fn key_hash(reference: &str) -> String {
    let r = reference.trim();
    if r.len() == 64 && r.bytes().all(|b| b.is_ascii_hexdigit()) {
        r.to_ascii_lowercase()
    } else {
        hash_key(r)
    }
}

fn field<T: for<'de> Deserialize<'de>>(
    body: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<T>, Error> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| Error::invalid(format!("`{name}`: {e}"), Some(name), "invalid_value")),
    }
}

/// A nullable field of an update: absent → leave, `null` → clear, value → set.
fn nullable<T: for<'de> Deserialize<'de>>(
    body: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<Option<T>>, Error> {
    match body.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(_) => field(body, name).map(Some),
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `expires` as Unix seconds or an RFC 3339 time, or `duration` (`30d`) from now.
fn expiry(body: &Map<String, Value>) -> Result<Option<Option<i64>>, Error> {
    if let Some(d) = body.get("duration") {
        return match d {
            Value::Null => Ok(Some(None)),
            Value::String(s) => parse_budget_duration(s)
                .map(|p| Some(Some(now_secs() + p.as_secs() as i64)))
                .ok_or_else(|| {
                    Error::invalid(
                        format!("`duration` {s:?} is not a period; use e.g. 30d, 12h, 1w"),
                        Some("duration"),
                        "invalid_value",
                    )
                }),
            _ => Err(Error::invalid(
                "`duration` must be a string like 30d",
                Some("duration"),
                "invalid_value",
            )),
        };
    }
    match body.get("expires") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::Number(n)) => Ok(Some(n.as_i64())),
        Some(Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| Some(Some(t.timestamp())))
            .map_err(|e| {
                Error::invalid(
                    format!("`expires` {s:?}: {e}; use RFC 3339 or Unix seconds"),
                    Some("expires"),
                    "invalid_value",
                )
            }),
        Some(_) => Err(Error::invalid(
            "`expires` must be a time",
            Some("expires"),
            "invalid_value",
        )),
    }
}

fn record_json(key: &VirtualKey) -> Value {
    let mut v = serde_json::to_value(key).unwrap_or_else(|_| json!({}));
    if let Some(obj) = v.as_object_mut() {
        obj.insert("token".to_string(), Value::from(key.token_hash.clone()));
        obj.insert(
            "key_name".to_string(),
            Value::from(format!(
                "sk-...{}",
                &key.token_hash[..4.min(key.token_hash.len())]
            )),
        );
    }
    v
}

async fn generate(gw: &Gateway, body: Map<String, Value>) -> Result<Value, Error> {
    let new = NewKey {
        key: field::<String>(&body, "key")?.map(Secret::new),
        key_alias: field(&body, "key_alias")?,
        models: field(&body, "models")?.unwrap_or_default(),
        max_budget: field(&body, "max_budget")?,
        budget_duration: field(&body, "budget_duration")?,
        rpm_limit: field(&body, "rpm_limit")?,
        tpm_limit: field(&body, "tpm_limit")?,
        expires: expiry(&body)?.flatten(),
        metadata: field(&body, "metadata")?.unwrap_or(Value::Null),
        blocked: field(&body, "blocked")?.unwrap_or(false),
    };
    let created = gw.store.create_key(new).await.map_err(Error::from)?;
    let mut v = record_json(&created.record);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("key".to_string(), Value::from(created.key.expose()));
    }
    tracing::info!(
        alias = created.record.key_alias.as_deref().unwrap_or("-"),
        "virtual key created"
    );
    Ok(v)
}

async fn info(gw: &Gateway, query: &HashMap<String, String>) -> Result<Value, Error> {
    let reference = query.get("key").filter(|k| !k.is_empty()).ok_or_else(|| {
        Error::invalid(
            "give the key to look up: GET /key/info?key=sk-... (or its hash)",
            Some("key"),
            "missing_key",
        )
    })?;
    let hash = key_hash(reference);
    match gw.store.get_key(&hash).await.map_err(Error::from)? {
        Some(key) => Ok(json!({"key": hash, "info": record_json(&key)})),
        None => Err(key_not_found()),
    }
}

fn key_not_found() -> Error {
    Error::invalid(
        "no such key; GET /key/list shows the keys that exist",
        Some("key"),
        "key_not_found",
    )
}

async fn update(gw: &Gateway, body: Map<String, Value>) -> Result<Value, Error> {
    let reference: String = field(&body, "key")?.ok_or_else(|| {
        Error::invalid(
            "`key` is required: the key (sk-...) or its hash",
            Some("key"),
            "missing_key",
        )
    })?;
    let hash = key_hash(&reference);
    let changes = KeyUpdate {
        key_alias: nullable(&body, "key_alias")?,
        models: field(&body, "models")?,
        max_budget: nullable(&body, "max_budget")?,
        budget_duration: nullable(&body, "budget_duration")?,
        spend: field(&body, "spend")?,
        rpm_limit: nullable(&body, "rpm_limit")?,
        tpm_limit: nullable(&body, "tpm_limit")?,
        expires: expiry(&body)?,
        metadata: field(&body, "metadata")?,
        blocked: field(&body, "blocked")?,
    };
    let updated = gw
        .store
        .update_key(&hash, &changes)
        .await
        .map_err(|e| match e {
            llmroute_core::store::StoreError::NotFound { .. } => key_not_found(),
            other => Error::from(other),
        })?;
    gw.key_auth.invalidate(&hash).await;
    if changes.spend.is_some() || changes.max_budget.is_some() || changes.budget_duration.is_some()
    {
        // The budget counts only follow the stored spend upward; start them again from
        // the new record so a lowered spend lifts a refusal at once.
        gw.budgets.forget(&hash).await;
    }
    Ok(record_json(&updated))
}

async fn delete(gw: &Gateway, body: Map<String, Value>) -> Result<Value, Error> {
    let keys: Vec<String> = field(&body, "keys")?.ok_or_else(|| {
        Error::invalid(
            "`keys` is required: a list of keys (sk-...) or hashes",
            Some("keys"),
            "missing_key",
        )
    })?;
    let hashes: Vec<String> = keys.iter().map(|k| key_hash(k)).collect();
    let deleted = gw.store.delete_keys(&hashes).await.map_err(Error::from)?;
    for h in &hashes {
        gw.key_auth.invalidate(h).await;
    }
    Ok(json!({"deleted_keys": hashes, "count": deleted}))
}

/// `page` and `size` from the query (1-based; size 1 to 1000, default 50).
fn page(query: &HashMap<String, String>) -> Page {
    let num = |name: &str, default: u32| {
        query
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    Page {
        page: num("page", 1).max(1),
        size: num("size", 50).clamp(1, 1000),
    }
}

async fn list(gw: &Gateway, query: &HashMap<String, String>) -> Result<Value, Error> {
    let page = page(query);
    let listed = gw.store.list_keys(page).await.map_err(Error::from)?;
    let total_pages = listed.total.div_ceil(u64::from(page.limit()));
    Ok(json!({
        "keys": listed.items.iter().map(record_json).collect::<Vec<_>>(),
        "total_count": listed.total,
        "current_page": page.page,
        "total_pages": total_pages,
    }))
}
