//! Doctor's checks of a running server: `/health` (what the load balancer sees) and a
//! key-authenticated `/v1/models`, with what a 401 from it means.

use std::time::Duration;

use serde_json::Value;

use super::Check;

const G: &str = "server";

/// `/health`, then `/v1/models` with `key`.
pub async fn check_all(base: &str, key: Option<&str>, timeout: Duration) -> Vec<Check> {
    let base = base.trim_end_matches('/');
    let mut out = Vec::new();
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => {
            return vec![Check::fail(
                G,
                "/health",
                format!("HTTP client: {e}"),
                "this is a bug; please report it",
            )]
        }
    };
    match client.get(format!("{base}/health")).send().await {
        Ok(r) if r.status().is_success() => out.push(Check::pass(
            G,
            "/health",
            format!("{base}/health answered {}", r.status()),
        )),
        Ok(r) => {
            out.push(Check::fail(G, "/health", format!("{base}/health answered {}", r.status()), "is this an llmroute server? the ALB target group's health check path must be /health"));
            return out;
        }
        Err(e) => {
            out.push(Check::fail(G, "/health", format!("cannot reach {base}: {}", crate::admin::chain(&e)), "is the server running and listening there? (ECS: the task's port mapping and the ALB listener)"));
            return out;
        }
    }
    let Some(key) = key else {
        out.push(Check::fail(
            G,
            "/v1/models",
            "no key to authenticate with",
            "pass --key (or LLMROUTE_API_KEY), or set general_settings.master_key in the config",
        ));
        return out;
    };
    match client
        .get(format!("{base}/v1/models"))
        .bearer_auth(key)
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => {
            let v: Value = r.json().await.unwrap_or_default();
            let ids: Vec<&str> = v
                .get("data")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|m| m.get("id").and_then(Value::as_str))
                        .collect()
                })
                .unwrap_or_default();
            out.push(Check::pass(
                G,
                "/v1/models",
                format!(
                    "key {} accepted; models: {}",
                    llmroute_core::secret::redact_key(key),
                    ids.join(", ")
                ),
            ));
        }
        Ok(r) if r.status() == reqwest::StatusCode::UNAUTHORIZED => {
            let v: Value = r.json().await.unwrap_or_default();
            let msg = v
                .pointer("/error/message")
                .and_then(Value::as_str)
                .unwrap_or("(no message)")
                .to_string();
            out.push(Check::fail(
                G,
                "/v1/models",
                format!("401: the server does not accept key {}: {msg}", llmroute_core::secret::redact_key(key)),
                "send the master key (general_settings.master_key) or an existing virtual key as `Authorization: Bearer <key>`; if the key is right, the server cannot read keys from its database: run doctor on the server's config and look at the database lines",
            ));
        }
        Ok(r) => out.push(Check::fail(
            G,
            "/v1/models",
            format!("answered {}", r.status()),
            "see the server log for this request id",
        )),
        Err(e) => out.push(Check::fail(
            G,
            "/v1/models",
            crate::admin::chain(&e),
            "check the server and the network path",
        )),
    }
    out
}
