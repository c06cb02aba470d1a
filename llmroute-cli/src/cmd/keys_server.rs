//! `llmroute keys … --server URL`: the same commands through the server's admin API,
//! which has LiteLLM's paths and fields (`POST /key/generate`, `GET /key/info?key=`,
//! `POST /key/update`, `POST /key/delete {"keys":[…]}`, `GET /key/list`).

use llmroute_core::keys::VirtualKey;
use serde_json::{json, Map, Value};

use super::keys::{print_created, print_key, print_list, print_revoked};
use crate::admin::ServerClient;
use crate::args::{AdminTarget, KeyFields, KeysAction, KeysArgs};
use crate::error::CliError;
use crate::output::Output;
use crate::time::{format_utc, parse_date, parse_duration};

/// Runs `llmroute keys …` against `server`.
pub async fn run(server: &str, args: KeysArgs, out: &Output) -> Result<u8, CliError> {
    let client = ServerClient::new(server, Some(master_key(&args.target)?))?;
    match args.action {
        KeysAction::Create { fields, key } => {
            let mut body = fields_json(&fields)?;
            if let Some(k) = key {
                body.insert("key".into(), json!(k));
            }
            let v = client
                .post("/key/generate", &Value::Object(body), "creating a key")
                .await?;
            let key = v
                .get("key")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            print_created(&key, &key_from_json(&v), args.json, out);
        }
        KeysAction::List { page, size } => {
            let q = [
                ("page", page.to_string()),
                ("size", size.to_string()),
                ("return_full_object", "true".into()),
            ];
            let v = client.get("/key/list", &q, "listing keys").await?;
            let keys: Vec<VirtualKey> = v
                .get("keys")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(key_from_json).collect())
                .unwrap_or_default();
            let total = v
                .get("total_count")
                .or_else(|| v.get("total"))
                .and_then(Value::as_u64)
                .unwrap_or(keys.len() as u64);
            print_list(&keys, total, args.json, out);
        }
        KeysAction::Info { key } => {
            let v = client
                .get("/key/info", &[("key", key)], "reading the key")
                .await?;
            let info = v.get("info").unwrap_or(&v);
            let mut k = key_from_json(info);
            if k.token_hash.is_empty() {
                k.token_hash = v
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
            }
            print_key(&k, args.json, out);
        }
        KeysAction::Update {
            key,
            fields,
            block,
            unblock,
            reset_spend,
        } => {
            super::keys::key_update(&fields, block, unblock, reset_spend)?;
            let mut body = fields_json(&fields)?;
            body.insert("key".into(), json!(key));
            if block || unblock {
                body.insert("blocked".into(), json!(block));
            }
            if reset_spend {
                body.insert("spend".into(), json!(0.0));
            }
            let v = client
                .post("/key/update", &Value::Object(body), "updating the key")
                .await?;
            let data = v.get("data").unwrap_or(&v);
            print_key(&key_from_json(data), args.json, out);
        }
        KeysAction::Revoke { keys } => {
            let asked = keys.len();
            let v = client
                .post("/key/delete", &json!({ "keys": keys }), "revoking keys")
                .await?;
            // `count` is how many existed; `deleted_keys` (LiteLLM) lists what was asked.
            let n = v
                .get("count")
                .and_then(Value::as_u64)
                .or_else(|| {
                    v.get("deleted_keys")
                        .and_then(Value::as_array)
                        .map(|a| a.len() as u64)
                })
                .unwrap_or(0);
            print_revoked(n, asked, args.json)?;
        }
    }
    Ok(0)
}

/// The master key for the admin API: `--master-key` / `LLMROUTE_MASTER_KEY`, else the
/// config's `general_settings.master_key`.
pub fn master_key(target: &AdminTarget) -> Result<String, CliError> {
    target
        .master_key
        .clone()
        .or_else(|| {
            crate::context::load_config(&target.config)
                .ok()
                .and_then(|c| c.general.master_key.map(|k| k.expose().to_string()))
        })
        .ok_or_else(|| {
            CliError::Usage(
                "the admin API needs the master key: pass --master-key or set LLMROUTE_MASTER_KEY"
                    .into(),
            )
        })
}

/// The flags as LiteLLM's request fields. `--expires 30d` is sent as `duration`, a
/// date as `expires` (RFC 3339).
pub fn fields_json(f: &KeyFields) -> Result<Map<String, Value>, CliError> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    if let Some(v) = &f.models {
        put("models", json!(v));
    }
    if let Some(v) = f.max_budget {
        put("max_budget", json!(v));
    }
    if let Some(v) = &f.budget_duration {
        put("budget_duration", json!(v));
    }
    if let Some(v) = f.rpm_limit {
        put("rpm_limit", json!(v));
    }
    if let Some(v) = f.tpm_limit {
        put("tpm_limit", json!(v));
    }
    if let Some(v) = &f.alias {
        put("key_alias", json!(v));
    }
    if let Some(v) = &f.metadata {
        let parsed: Value = serde_json::from_str(v)
            .map_err(|e| CliError::Usage(format!("--metadata is not JSON: {e}")))?;
        put("metadata", parsed);
    }
    if let Some(e) = &f.expires {
        if parse_duration(e).is_ok() {
            put("duration", json!(e));
        } else {
            let at = parse_date(e).ok_or_else(|| {
                CliError::Usage(format!(
                    "--expires '{e}' is neither a duration (30d) nor a date (2025-12-31)"
                ))
            })?;
            put("expires", json!(format_utc(at)));
        }
    }
    Ok(m)
}

fn time_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => parse_date(s),
        _ => None,
    }
}

/// A key record from the server's JSON (numbers or RFC 3339 strings for times).
pub fn key_from_json(v: &Value) -> VirtualKey {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let u = |k: &str| v.get(k).and_then(Value::as_u64);
    VirtualKey {
        token_hash: s("token").or_else(|| s("token_hash")).unwrap_or_default(),
        key_alias: s("key_alias"),
        models: v
            .get("models")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        max_budget: v.get("max_budget").and_then(Value::as_f64),
        budget_duration: s("budget_duration"),
        budget_reset_at: time_of(v.get("budget_reset_at")),
        spend: v.get("spend").and_then(Value::as_f64).unwrap_or(0.0),
        rpm_limit: u("rpm_limit"),
        tpm_limit: u("tpm_limit"),
        expires: time_of(v.get("expires")),
        metadata: v.get("metadata").cloned().unwrap_or_else(|| json!({})),
        blocked: v.get("blocked").and_then(Value::as_bool).unwrap_or(false),
        created_at: time_of(v.get("created_at")).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn litellm_json_reads_with_iso_times() {
        let k = key_from_json(
            &json!({"token":"ab","key_alias":"t","models":["gpt-4o"],"expires":"1970-01-02T00:00:00Z","rpm_limit":5,"blocked":null}),
        );
        assert_eq!(
            (k.token_hash.as_str(), k.expires, k.rpm_limit, k.blocked),
            ("ab", Some(86_400), Some(5), false)
        );
        let f = KeyFields {
            expires: Some("30d".into()),
            models: Some(vec!["a".into()]),
            ..Default::default()
        };
        let m = fields_json(&f).expect("fields");
        assert_eq!(m.get("duration"), Some(&json!("30d")));
        assert_eq!(m.get("models"), Some(&json!(["a"])));
    }
}
