//! What several server instances share: per-deployment counters and cooldowns, per-key
//! rate limits, budget reservations and the response cache — through Redis when it is
//! configured, in this process otherwise. Which one is used is logged at start-up,
//! never chosen silently.

use std::sync::Arc;

use llmroute_core::config::Config;
use llmroute_core::limits::{KeyRateLimiter, LocalRateLimiter};
use llmroute_core::router::{Counters, InMemoryCounters};
use llmroute_store::budget::{BudgetReserver, LocalBudgets};
use llmroute_store::cache::TieredCache;
use llmroute_store::redis::{BatchedCounters, RedisHandles, MOKA_CAPACITY};

use crate::gateway::StartError;
use crate::metrics::ExtraMetrics;

/// The shared state's backends, built once and kept across config reloads.
#[derive(Clone)]
pub struct SharedState {
    /// Redis, when configured.
    pub redis: Option<RedisHandles>,
    /// The router's per-deployment usage and cooldowns (kept across reloads, so a
    /// reload does not forget a deployment's cooldown).
    pub counters: Arc<dyn Counters>,
    /// Per-key rpm / tpm.
    pub limiter: Arc<dyn KeyRateLimiter>,
    /// Budget reservations.
    pub budgets: Arc<dyn BudgetReserver>,
    /// The response cache, when `litellm_settings.cache` is on.
    pub cache: Option<Arc<TieredCache>>,
}

/// The prefix of every Redis key: `cache_params.namespace`, else `llmroute`. Each
/// component adds `:` and its own part (`llmroute:cache:…`, `llmroute:dep:…`).
pub fn redis_prefix(config: &Config) -> String {
    config
        .cache
        .namespace
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or("llmroute")
        .to_string()
}

/// Connects to Redis when the config names one, and says which backends are in use.
pub async fn connect(config: &Config) -> Result<SharedState, StartError> {
    let redis = match &config.redis {
        Some(settings) => Some(
            llmroute_store::connect_redis(settings, &config.cache, &redis_prefix(config)).await?,
        ),
        None => None,
    };
    let state = match &redis {
        Some(r) => SharedState {
            counters: Arc::new(BatchedCounters::new(r.counters.clone())),
            limiter: r.rate_limiter.clone(),
            budgets: r.budgets.clone(),
            cache: config.cache.enabled.then(|| r.cache.clone()),
            redis: redis.clone(),
        },
        None => SharedState {
            counters: Arc::new(InMemoryCounters::new()),
            limiter: Arc::new(LocalRateLimiter::new()),
            budgets: Arc::new(LocalBudgets::new()),
            cache: config
                .cache
                .enabled
                .then(|| Arc::new(TieredCache::memory_only(MOKA_CAPACITY, config.cache.ttl))),
            redis: None,
        },
    };
    announce(config, &state);
    Ok(state)
}

fn announce(config: &Config, state: &SharedState) {
    match &state.redis {
        Some(r) => tracing::info!(redis = %r.describe(), "counters, rate limits and budgets: shared through Redis"),
        None => tracing::info!("counters, rate limits and budgets: in this process (no Redis configured; set REDIS_URL to share them across instances)"),
    }
    match (&state.cache, config.cache.kind.as_deref(), &state.redis) {
        (None, _, _) => tracing::info!("response cache: off (litellm_settings.cache is not true)"),
        (Some(cache), _, Some(_)) => tracing::info!(cache = %cache.describe(), "response cache: in process, in front of Redis"),
        (Some(_), Some("redis"), None) => tracing::warn!(
            "response cache: cache_params.type is redis but no Redis location is configured (REDIS_URL, router_settings.redis_url or cache_params.host); caching in this process only"
        ),
        (Some(cache), _, None) => tracing::info!(cache = %cache.describe(), "response cache: in this process"),
    }
}

/// Settings a reload cannot change in a running process (they need a restart).
pub fn restart_only_changes(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if old.general.master_key != new.general.master_key {
        changed.push("general_settings.master_key");
    }
    if old.general.database_url != new.general.database_url {
        changed.push("general_settings.database_url");
    }
    if old.general.key_cache_ttl != new.general.key_cache_ttl {
        changed.push("general_settings.user_api_key_cache_ttl");
    }
    if old.general.key_cache_stale != new.general.key_cache_stale {
        changed.push("general_settings.key_cache_stale_seconds");
    }
    if old.general.request_log_queue_size != new.general.request_log_queue_size {
        changed.push("general_settings.request_log_queue_size");
    }
    if old.redis.as_ref().map(|r| &r.url) != new.redis.as_ref().map(|r| &r.url) {
        changed.push("the Redis location");
    }
    if old.cache.enabled != new.cache.enabled
        || old.cache.ttl != new.cache.ttl
        || old.cache.namespace != new.cache.namespace
    {
        changed.push("litellm_settings.cache / cache_params");
    }
    changed
}

impl ExtraMetrics for SharedState {
    fn render(&self, out: &mut String) {
        match (&self.redis, &self.cache) {
            (Some(r), _) => r.render_prometheus(out),
            (None, Some(cache)) => cache.render_prometheus(out),
            (None, None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(general: &str) -> Config {
        let yaml = format!(
            "model_list:\n  - model_name: m\n    litellm_params: {{model: mock/echo}}\ngeneral_settings: {{{general}}}\n"
        );
        Config::from_yaml(&yaml, "c.yaml", &|_| None).expect("config")
    }

    #[test]
    fn a_reload_names_the_degraded_mode_settings_it_cannot_apply() {
        let old = config("key_cache_stale_seconds: 60");
        assert!(restart_only_changes(&old, &config("key_cache_stale_seconds: 60")).is_empty());
        let new = config(
            "key_cache_stale_seconds: 5, user_api_key_cache_ttl: 1, request_log_queue_size: 10",
        );
        assert_eq!(
            restart_only_changes(&old, &new),
            [
                "general_settings.user_api_key_cache_ttl",
                "general_settings.key_cache_stale_seconds",
                "general_settings.request_log_queue_size"
            ]
        );
    }
}
