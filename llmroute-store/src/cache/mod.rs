//! Response caches implementing [`llmroute_core::cache::Cache`]: [`MokaCache`] in
//! process, [`RedisCache`] shared, and [`TieredCache`] — moka in front of Redis, which
//! never fails a call when Redis does — with [`CacheStats`] for `/metrics`.
//!
//! ```no_run
//! # async fn demo(answer: std::sync::Arc<llmroute_core::cache::CachedAnswer>) {
//! use llmroute_store::cache::TieredCache;
//! let cache = TieredCache::memory_only(10_000, None);
//! cache.store("k", answer, cache.default_ttl()).await;
//! assert!(cache.lookup("k").await.is_some());
//! # }
//! ```

mod memory;
mod shared;
mod stats;
mod tiered;

pub use memory::MokaCache;
pub use shared::RedisCache;
pub use stats::{CacheStats, Layer};
pub use tiered::{TieredCache, DEFAULT_TTL};
