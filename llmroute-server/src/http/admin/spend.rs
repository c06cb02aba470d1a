//! `GET /spend/logs` and `GET /spend/report`: request logs and spend, filtered by key and
//! date.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use llmroute_core::store::LogFilter;
use llmroute_core::Error;
use serde_json::{json, Value};

use super::{key_hash, page};
use crate::gateway::Gateway;

/// `start_date` / `end_date` as `YYYY-MM-DD` (UTC) or RFC 3339; the end date is inclusive.
fn log_filter(query: &HashMap<String, String>) -> Result<LogFilter, Error> {
    let time = |name: &'static str, end: bool| -> Result<Option<SystemTime>, Error> {
        let Some(text) = query.get(name).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let secs = if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            let day = if end {
                day.succ_opt().unwrap_or(day)
            } else {
                day
            };
            day.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp())
        } else {
            chrono::DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.timestamp())
        };
        let secs = secs.ok_or_else(|| {
            Error::invalid(
                format!("`{name}` {text:?}: use YYYY-MM-DD or RFC 3339"),
                Some(name),
                "invalid_value",
            )
        })?;
        Ok(Some(UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)))
    };
    Ok(LogFilter {
        key_hash: query
            .get("api_key")
            .filter(|k| !k.is_empty())
            .map(|k| key_hash(k)),
        start: time("start_date", false)?,
        end: time("end_date", true)?,
    })
}

/// `GET /spend/logs`: request logs, newest first, paged.
pub(super) async fn spend_logs(
    gw: &Gateway,
    query: &HashMap<String, String>,
) -> Result<Value, Error> {
    let filter = log_filter(query)?;
    write_queued_logs(gw).await;
    let logs = gw
        .store
        .recent_logs(&filter, page(query))
        .await
        .map_err(Error::from)?;
    Ok(rows_json(logs))
}

/// `GET /spend/report`: requests, tokens and spend per day, key or model.
pub(super) async fn spend_report(
    gw: &Gateway,
    query: &HashMap<String, String>,
) -> Result<Value, Error> {
    let filter = log_filter(query)?;
    write_queued_logs(gw).await;
    let rows = match query.get("group_by").map(String::as_str).unwrap_or("day") {
        "day" => gw.store.spend_by_day(&filter).await,
        "key" => gw.store.spend_by_key(&filter).await,
        "model" => gw.store.spend_by_model(&filter).await,
        other => {
            return Err(Error::invalid(
                format!("`group_by` {other:?}: use day, key or model"),
                Some("group_by"),
                "invalid_value",
            ))
        }
    }
    .map_err(Error::from)?;
    Ok(rows_json(rows))
}

/// Writes the logs still queued in memory first (for up to 2 s), so a just-finished
/// request shows.
async fn write_queued_logs(gw: &Gateway) {
    let _ = tokio::time::timeout(Duration::from_secs(2), gw.log_writer.flush()).await;
}

/// Rows as a JSON array (empty if they cannot be serialized).
fn rows_json(rows: impl serde::Serialize) -> Value {
    serde_json::to_value(rows).unwrap_or_else(|_| json!([]))
}
