//! `llmroute spend`: requests, tokens and cost per day, key or model, from the database
//! or from a server's `GET /spend/logs`.

use std::collections::BTreeMap;

use llmroute_core::store::{LogFilter, SpendRow};
use serde_json::{json, Value};

use crate::admin::ServerClient;
use crate::args::{SpendArgs, SpendBy};
use crate::context::{key_hash_of, open_store};
use crate::error::CliError;
use crate::output::{dollars, table, Output};
use crate::time::{ago, format_utc, now_secs, parse_date, parse_duration};

/// Runs `llmroute spend`.
pub async fn run(args: SpendArgs, out: &Output) -> Result<u8, CliError> {
    let since =
        parse_duration(&args.since).map_err(|e| CliError::Usage(format!("--since: {e}")))?;
    let rows = match &args.target.server {
        Some(server) => from_server(server, &args, since).await?,
        None => {
            let store =
                open_store(args.target.database_url.as_deref(), &args.target.config).await?;
            let filter = LogFilter {
                key_hash: args.key.as_deref().map(key_hash_of),
                start: Some(ago(since)),
                end: None,
            };
            match args.by {
                SpendBy::Day => store.spend_by_day(&filter).await?,
                SpendBy::Key => store.spend_by_key(&filter).await?,
                SpendBy::Model => store.spend_by_model(&filter).await?,
            }
        }
    };
    print_rows(&rows, args.by, args.json, out);
    Ok(0)
}

/// Prints spend rows with a total line (or JSON).
pub fn print_rows(rows: &[SpendRow], by: SpendBy, as_json: bool, out: &Output) {
    let total = rows.iter().fold((0u64, 0u64, 0u64, 0.0f64), |t, r| {
        (
            t.0 + r.requests,
            t.1 + r.prompt_tokens,
            t.2 + r.completion_tokens,
            t.3 + r.spend,
        )
    });
    if as_json {
        let v = json!({
            "by": format!("{by:?}").to_lowercase(),
            "rows": rows,
            "total": {"requests": total.0, "prompt_tokens": total.1, "completion_tokens": total.2, "spend": total.3},
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    let first = match by {
        SpendBy::Day => "day",
        SpendBy::Key => "key",
        SpendBy::Model => "model",
    };
    let mut table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let group = if by == SpendBy::Key {
                r.group.chars().take(12).collect()
            } else {
                r.group.clone()
            };
            vec![
                group,
                r.requests.to_string(),
                r.prompt_tokens.to_string(),
                r.completion_tokens.to_string(),
                dollars(r.spend),
            ]
        })
        .collect();
    table_rows.push(vec![
        "total".into(),
        total.0.to_string(),
        total.1.to_string(),
        total.2.to_string(),
        dollars(total.3),
    ]);
    let text = table(
        &[
            first,
            "requests",
            "prompt_tokens",
            "completion_tokens",
            "cost",
        ],
        &table_rows,
    );
    if rows.is_empty() {
        println!("{}", out.dim("no requests logged in this period"));
    }
    print!("{text}");
}

async fn from_server(
    server: &str,
    args: &SpendArgs,
    since: std::time::Duration,
) -> Result<Vec<SpendRow>, CliError> {
    let master = super::keys_server::master_key(&args.target)?;
    let client = ServerClient::new(server, Some(master))?;
    let start = now_secs() - since.as_secs() as i64;
    let mut q = vec![
        ("start_date", format_utc(start)),
        ("end_date", format_utc(now_secs() + 86_400)),
    ];
    if let Some(k) = &args.key {
        q.push(("api_key", key_hash_of(k)));
    }
    // llmroute servers group on the server (`/spend/report`); others only have LiteLLM's
    // `/spend/logs`, grouped here.
    let by = match args.by {
        SpendBy::Day => "day",
        SpendBy::Key => "key",
        SpendBy::Model => "model",
    };
    let mut report_q = q.clone();
    report_q.push(("group_by", by.to_string()));
    let report = client
        .request(reqwest::Method::GET, "/spend/report")
        .query(&report_q)
        .send()
        .await;
    if let Ok(resp) = report {
        if resp.status().is_success() {
            if let Ok(rows) = resp.json::<Vec<SpendRowJson>>().await {
                return Ok(rows.into_iter().map(SpendRowJson::into_row).collect());
            }
        }
    }
    q.push(("size", "1000".into()));
    let v = client.get("/spend/logs", &q, "reading spend logs").await?;
    let logs = match &v {
        Value::Array(a) => a.clone(),
        _ => v
            .get("logs")
            .or_else(|| v.get("data"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    };
    Ok(aggregate(&logs, args.by, start))
}

/// A row of `/spend/report`.
#[derive(Debug, serde::Deserialize)]
struct SpendRowJson {
    group: String,
    #[serde(default)]
    spend: f64,
    #[serde(default)]
    requests: u64,
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl SpendRowJson {
    fn into_row(self) -> SpendRow {
        SpendRow {
            group: self.group,
            spend: self.spend,
            requests: self.requests,
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
        }
    }
}

/// Groups LiteLLM-shaped (or llmroute-shaped) log rows into spend rows.
pub fn aggregate(logs: &[Value], by: SpendBy, since: i64) -> Vec<SpendRow> {
    let mut groups: BTreeMap<String, SpendRow> = BTreeMap::new();
    for log in logs {
        let n = |k: &str| log.get(k).and_then(Value::as_u64).unwrap_or(0);
        let started = log
            .get("startTime")
            .and_then(Value::as_str)
            .and_then(parse_date)
            .or_else(|| {
                log.get("started_at_ms")
                    .and_then(Value::as_i64)
                    .map(|ms| ms / 1000)
            });
        if started.is_some_and(|s| s < since) {
            continue;
        }
        let text = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| log.get(*k).and_then(Value::as_str))
                .unwrap_or("-")
                .to_string()
        };
        let group = match by {
            SpendBy::Day => started
                .map(|s| format_utc(s)[..10].to_string())
                .unwrap_or_else(|| "-".into()),
            SpendBy::Key => text(&["api_key", "key_hash"]),
            SpendBy::Model => text(&["model_group", "model"]),
        };
        let row = groups.entry(group.clone()).or_insert(SpendRow {
            group,
            spend: 0.0,
            requests: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
        });
        row.requests += 1;
        row.prompt_tokens += n("prompt_tokens");
        row.completion_tokens += n("completion_tokens");
        row.spend += log
            .get("spend")
            .or_else(|| log.get("cost"))
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
    }
    let mut rows: Vec<SpendRow> = groups.into_values().collect();
    if by != SpendBy::Day {
        rows.sort_by(|a, b| b.spend.total_cmp(&a.spend));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_litellm_rows_by_model() {
        let logs = vec![
            json!({"model_group":"gpt-4o","spend":0.5,"prompt_tokens":10,"completion_tokens":2,"startTime":"2024-05-01T10:00:00"}),
            json!({"model_group":"gpt-4o","spend":0.25,"prompt_tokens":5,"completion_tokens":1,"startTime":"2024-05-02T10:00:00"}),
            json!({"model":"mini","cost":1.0,"started_at_ms":1_714_600_000_000i64}),
        ];
        let rows = aggregate(&logs, SpendBy::Model, 0);
        assert_eq!(rows[0].group, "mini");
        assert_eq!(
            (rows[1].requests, rows[1].prompt_tokens, rows[1].spend),
            (2, 15, 0.75)
        );
        let days = aggregate(&logs, SpendBy::Day, 0);
        assert_eq!(days[0].group, "2024-05-01");
    }
}
