//! [`TieredCache`]: moka in front of Redis. A lookup asks moka, then Redis (and keeps a
//! Redis hit in moka for its remaining lifetime); a store writes both. Redis failing
//! never fails a call: the lookup is a miss, the store keeps the moka copy, the error
//! is counted and logged (once per outage, then at most every 30 s), and Redis is not
//! asked again for a second, so an outage adds no latency. Without Redis it is moka alone.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use llmroute_core::cache::{Cache, CacheControl, CachedAnswer};
use llmroute_core::Result;

use super::memory::MokaCache;
use super::shared::RedisCache;
use super::stats::{CacheStats, Layer};
use crate::redis::Gate;

/// Default lifetime of a cached answer when the config sets none (LiteLLM's default
/// in-memory TTL is 10 minutes too).
pub const DEFAULT_TTL: Duration = Duration::from_secs(600);

/// Answers cached in process, and in Redis when there is one.
#[derive(Debug)]
pub struct TieredCache {
    memory: MokaCache,
    redis: Option<(RedisCache, Arc<Gate>)>,
    stats: Arc<CacheStats>,
    default_ttl: Duration,
}

impl TieredCache {
    /// Moka alone, holding at most `capacity` answers.
    pub fn memory_only(capacity: u64, default_ttl: Option<Duration>) -> Self {
        TieredCache {
            memory: MokaCache::new(capacity),
            redis: None,
            stats: Arc::new(CacheStats::default()),
            default_ttl: default_ttl.unwrap_or(DEFAULT_TTL),
        }
    }

    /// Moka (at most `capacity` answers) in front of `redis`; `gate` tracks its outages.
    pub fn new(
        capacity: u64,
        redis: RedisCache,
        gate: Arc<Gate>,
        default_ttl: Option<Duration>,
    ) -> Self {
        TieredCache {
            redis: Some((redis, gate)),
            ..Self::memory_only(capacity, default_ttl)
        }
    }

    /// For the start-up log: `moka (in process) in front of Redis at host:port (from …)`.
    pub fn describe(&self) -> String {
        match &self.redis {
            Some((r, _)) => format!("moka (in process) in front of {}", r.pool().describe()),
            None => "moka (in process only; not shared between instances)".to_string(),
        }
    }

    /// The counters for `/metrics`.
    pub fn stats(&self) -> &Arc<CacheStats> {
        &self.stats
    }

    /// The gate tracking Redis outages, when there is Redis.
    pub fn gate(&self) -> Option<&Arc<Gate>> {
        self.redis.as_ref().map(|(_, g)| g)
    }

    /// The configured lifetime (`cache_params.ttl`, else [`DEFAULT_TTL`]).
    pub fn default_ttl(&self) -> Duration {
        self.default_ttl
    }

    /// The lifetime for a request: its own `cache.ttl` if it set one, else the default.
    ///
    /// A request may shorten the lifetime, never make it longer than the configured one.
    pub fn ttl_for(&self, control: &CacheControl) -> Duration {
        control
            .ttl
            .map_or(self.default_ttl, |t| t.min(self.default_ttl))
    }

    /// Appends the cache's Prometheus lines (see [`CacheStats::render_prometheus`]).
    pub fn render_prometheus(&self, out: &mut String) {
        self.stats.render_prometheus(out);
    }

    /// The answer under `key`, from moka or Redis; a Redis failure is a miss.
    pub async fn lookup(&self, key: &str) -> Option<Arc<CachedAnswer>> {
        if let Some(a) = self.memory.lookup(key).await {
            self.stats.hit(Layer::Moka);
            return Some(a);
        }
        self.stats.miss(Layer::Moka);
        let Some((redis, gate)) = &self.redis else {
            return None;
        };
        if !gate.should_try() {
            gate.fell_back();
            self.stats.miss(Layer::Redis);
            return None;
        }
        match redis.try_get(key).await {
            Ok(Some((answer, ttl))) => {
                gate.succeeded();
                self.stats.hit(Layer::Redis);
                self.memory.insert(key, answer.clone(), ttl).await;
                Some(answer)
            }
            Ok(None) => {
                gate.succeeded();
                self.stats.miss(Layer::Redis);
                None
            }
            Err(f) => {
                gate.failed(&f);
                gate.fell_back();
                self.stats.redis_error();
                self.stats.miss(Layer::Redis);
                None
            }
        }
    }

    /// Stores `answer` in moka and Redis; a Redis failure keeps the moka copy.
    pub async fn store(&self, key: &str, answer: Arc<CachedAnswer>, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        self.stats.stored();
        if let Some((redis, gate)) = &self.redis {
            if gate.should_try() {
                match redis.try_set(key, &answer, ttl).await {
                    Ok(()) => gate.succeeded(),
                    Err(f) => {
                        gate.failed(&f);
                        self.stats.redis_error();
                    }
                }
            } else {
                gate.fell_back();
            }
        }
        self.memory.insert(key, answer, ttl).await;
    }
}

#[async_trait]
impl Cache for TieredCache {
    async fn get(&self, key: &str) -> Result<Option<Arc<CachedAnswer>>> {
        Ok(self.lookup(key).await)
    }

    async fn set(&self, key: &str, answer: Arc<CachedAnswer>, ttl: Duration) -> Result<()> {
        self.store(key, answer, ttl).await;
        Ok(())
    }
}
