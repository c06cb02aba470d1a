//! `llmroute config check [--show]`: load and validate the config as the server would,
//! warn about unsupported keys, and print it resolved with every secret redacted.

use llmroute_core::config::Config;
use llmroute_core::Secret;
use llmroute_store::redact_url;
use serde_json::{json, Value};

use crate::args::{ConfigAction, ConfigCmdArgs};
use crate::context::load_config;
use crate::error::CliError;
use crate::output::Output;

/// Runs `llmroute config …`.
pub fn run(args: ConfigCmdArgs, out: &Output) -> Result<u8, CliError> {
    let ConfigAction::Check {
        show,
        json: as_json,
        config,
    } = args.action;
    let cfg = load_config(&config)?;
    if as_json {
        let mut v =
            json!({ "ok": true, "source": cfg.source, "unsupported_keys": cfg.unsupported_keys });
        if show {
            v["config"] = redacted(&cfg);
        }
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(0);
    }
    println!(
        "{} {}: {} model name(s), {} deployment(s)",
        out.green("✓"),
        cfg.source,
        cfg.model_names().len(),
        cfg.models.len()
    );
    if let Some(w) = cfg.unsupported_warning() {
        println!("{} {w}", out.yellow("!"));
    }
    if show {
        print!(
            "{}",
            serde_yaml::to_string(&redacted(&cfg)).unwrap_or_default()
        );
    }
    Ok(0)
}

fn hint(s: &Option<Secret>) -> Value {
    match s {
        Some(s) => json!(format!("[REDACTED {}]", s.hint())),
        None => Value::Null,
    }
}

/// The resolved config as a document, secrets replaced by `[REDACTED sk-...abcd]` and
/// passwords in URLs by `***`.
pub fn redacted(c: &Config) -> Value {
    let models: Vec<Value> = c
        .models
        .iter()
        .map(|d| {
            json!({
                "model_name": d.model_name,
                "id": d.id,
                "model": format!("{}/{}", d.provider.prefix(), d.deployment),
                "api_base": d.api_base,
                "api_key": hint(&d.api_key),
                "api_version": d.api_version,
                "azure_ad_token": hint(&d.azure_ad_token),
                "entra": d.entra.as_ref().map(|e| json!({"tenant_id": e.tenant_id, "client_id": e.client_id, "client_secret": hint(&Some(e.client_secret.clone()))})),
                "rpm": d.rpm,
                "tpm": d.tpm,
                "weight": d.weight,
                "order": d.order,
                "timeout_seconds": d.timeout.map(|t| t.as_secs_f64()),
            })
        })
        .collect();
    json!({
        "source": c.source,
        "model_list": models,
        "general_settings": {
            "master_key": hint(&c.general.master_key),
            "database_url": c.general.database_url.as_ref().map(|u| redact_url(u.expose())),
            "block_robots": c.general.block_robots,
            "max_request_bytes": c.general.max_request_bytes,
            "graceful_shutdown_seconds": c.general.graceful_shutdown.as_secs_f64(),
            // null: the store's default (10 s, 600 s, 100 000; docs/configuration.md).
            "user_api_key_cache_ttl": c.general.key_cache_ttl.map(|t| t.as_secs_f64()),
            "key_cache_stale_seconds": c.general.key_cache_stale.map(|t| t.as_secs_f64()),
            "request_log_queue_size": c.general.request_log_queue_size,
        },
        "router_settings": {
            "routing_strategy": c.router.routing_strategy,
            "num_retries": c.router.num_retries,
            "timeout_seconds": c.router.timeout.as_secs_f64(),
            "fallbacks": c.router.fallbacks,
            "allowed_fails": c.router.allowed_fails,
            "cooldown_seconds": c.router.cooldown_time.as_secs_f64(),
        },
        "cache": {"enabled": c.cache.enabled, "type": c.cache.kind, "ttl_seconds": c.cache.ttl.map(|t| t.as_secs_f64())},
        "redis": c.redis.as_ref().map(|r| json!({"url": redact_url(r.url.expose()), "from": r.from})),
        "drop_params": c.drop_params,
        "unsupported_keys": c.unsupported_keys,
    })
}
