//! Redis: what makes several llmroute instances one gateway. Shared per-deployment
//! usage and cooldowns ([`RedisCounters`]), per-key rate limits ([`RedisRateLimiter`]),
//! budget reservations ([`RedisBudgets`]) — each hot-path call one atomic Lua script —
//! and, in [`crate::cache`], the shared response cache.
//!
//! A Redis outage never fails a request: the [`fallback`] wrappers serve from the
//! in-process implementations while Redis is down (limits then hold per instance), the
//! cache acts as a miss, and everything goes back to Redis when it answers again.
//!
//! [`connect`] builds it all from the configuration:
//!
//! ```no_run
//! # async fn demo(cfg: llmroute_core::config::Config) -> Result<(), llmroute_store::StoreError> {
//! if let Some(settings) = &cfg.redis {
//!     let redis = llmroute_store::redis::connect(settings, &cfg.cache, "llmroute").await?;
//!     tracing::info!("counters, rate limits and budgets: {}", redis.describe());
//!     tracing::info!("response cache: {}", redis.cache.describe());
//!     // router_builder.counters(redis.counters.clone()); ...
//! }
//! # Ok(()) }
//! ```

mod batched;
mod budgets;
mod counters;
pub mod fallback;
mod health;
mod limiter;
mod pool;
mod snapshots;

use std::sync::Arc;

use llmroute_core::config::{CacheSettings, RedisSettings};
use llmroute_core::store::StoreError;

use crate::cache::{RedisCache, TieredCache};

pub use batched::BatchedCounters;
pub use budgets::{RedisBudgets, BUDGET_STATE_LIFETIME, RESERVATION_LIFETIME};
pub use counters::RedisCounters;
pub use fallback::{FallbackBudgets, FallbackCounters, FallbackRateLimiter};
pub use health::{Gate, RedisStats};
pub use limiter::RedisRateLimiter;
pub use pool::{RedisFailure, RedisOptions, RedisPool};
pub use snapshots::{SNAPSHOT_REUSE, STALE_LIMIT};

/// Answers the in-process cache in front of Redis holds at most.
pub const MOKA_CAPACITY: u64 = 10_000;

/// Everything the server needs from Redis, ready to use.
#[derive(Debug, Clone)]
pub struct RedisHandles {
    /// The connection.
    pub pool: RedisPool,
    /// For `RouterBuilder`: per-deployment usage and cooldowns.
    pub counters: Arc<FallbackCounters>,
    /// Per-key `rpm_limit` / `tpm_limit`.
    pub rate_limiter: Arc<FallbackRateLimiter>,
    /// Budget reservations.
    pub budgets: Arc<FallbackBudgets>,
    /// The response cache: moka in front of Redis.
    pub cache: Arc<TieredCache>,
    /// Outage state and counters of the counters, limiter, budgets and cache.
    pub stats: RedisStats,
}

impl RedisHandles {
    /// `Redis at host:port (from REDIS_URL)`, plus `, not answering yet: …` when the
    /// start-up ping failed. Never the password.
    pub fn describe(&self) -> String {
        let down = self.stats.gate("counters").is_some_and(|g| g.is_down());
        if down {
            format!(
                "{} — not answering yet; limits held in process until it does",
                self.pool.describe()
            )
        } else {
            self.pool.describe().to_string()
        }
    }

    /// Appends every Redis and cache line for `/metrics`.
    pub fn render_prometheus(&self, out: &mut String) {
        self.stats.render_prometheus(out);
        self.cache.render_prometheus(out);
    }
}

/// Connects to the configured Redis with [`RedisOptions::default`] (see [`connect_with`]).
pub async fn connect(
    settings: &RedisSettings,
    cache: &CacheSettings,
    prefix: &str,
) -> Result<RedisHandles, StoreError> {
    connect_with(settings, cache, prefix, RedisOptions::default()).await
}

/// Builds the Redis-backed counters, limiter, budgets and cache, every key under
/// `prefix`. Fails only on a URL that cannot work; a Redis that does not answer yet is
/// logged as a warning and served in process until it does.
pub async fn connect_with(
    settings: &RedisSettings,
    cache: &CacheSettings,
    prefix: &str,
    options: RedisOptions,
) -> Result<RedisHandles, StoreError> {
    let retry_every = options.retry_every;
    let pool = RedisPool::new(settings, options)?;
    let gate = |component, fallback| Arc::new(Gate::new(component, fallback, retry_every));
    let g_counters = gate("counters", "in-process deployment counters");
    let g_limiter = gate("rate_limiter", "in-process per-key rate limits");
    let g_budgets = gate("budgets", "in-process budget reservations");
    let g_cache = gate("cache", "the in-process cache alone");
    if let Err(f) = pool.ping().await {
        for g in [&g_counters, &g_limiter, &g_budgets, &g_cache] {
            g.failed(&f);
        }
    }
    let handles = RedisHandles {
        counters: Arc::new(FallbackCounters::new(
            RedisCounters::new(pool.clone(), prefix),
            g_counters.clone(),
        )),
        rate_limiter: Arc::new(FallbackRateLimiter::new(
            RedisRateLimiter::new(pool.clone(), prefix),
            g_limiter.clone(),
        )),
        budgets: Arc::new(FallbackBudgets::new(
            RedisBudgets::new(pool.clone(), prefix),
            g_budgets.clone(),
        )),
        cache: Arc::new(TieredCache::new(
            MOKA_CAPACITY,
            RedisCache::new(pool.clone(), prefix),
            g_cache.clone(),
            cache.ttl,
        )),
        stats: RedisStats::new(vec![g_counters, g_limiter, g_budgets, g_cache]),
        pool,
    };
    Ok(handles)
}
