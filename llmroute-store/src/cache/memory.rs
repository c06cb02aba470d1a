//! [`MokaCache`]: answers cached in this process (moka), each with its own TTL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use llmroute_core::cache::{Cache, CachedAnswer};
use llmroute_core::Result;
use moka::future::Cache as Moka;
use moka::Expiry;

#[derive(Clone)]
struct Entry {
    answer: Arc<CachedAnswer>,
    ttl: Duration,
}

struct PerEntryTtl;

impl Expiry<String, Entry> for PerEntryTtl {
    fn expire_after_create(&self, _key: &String, value: &Entry, _now: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// An in-process answer cache holding at most `capacity` answers.
#[derive(Clone)]
pub struct MokaCache {
    inner: Moka<String, Entry>,
}

impl std::fmt::Debug for MokaCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MokaCache")
            .field("entries", &self.inner.entry_count())
            .finish()
    }
}

impl MokaCache {
    /// A cache of at most `capacity` answers.
    pub fn new(capacity: u64) -> Self {
        MokaCache {
            inner: Moka::builder()
                .max_capacity(capacity)
                .expire_after(PerEntryTtl)
                .build(),
        }
    }

    /// The answer under `key`, if present and not expired.
    pub async fn lookup(&self, key: &str) -> Option<Arc<CachedAnswer>> {
        self.inner.get(key).await.map(|e| e.answer)
    }

    /// Stores `answer` under `key` for `ttl`.
    pub async fn insert(&self, key: &str, answer: Arc<CachedAnswer>, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        self.inner
            .insert(key.to_string(), Entry { answer, ttl })
            .await;
    }
}

#[async_trait]
impl Cache for MokaCache {
    async fn get(&self, key: &str) -> Result<Option<Arc<CachedAnswer>>> {
        Ok(self.lookup(key).await)
    }

    async fn set(&self, key: &str, answer: Arc<CachedAnswer>, ttl: Duration) -> Result<()> {
        self.insert(key, answer, ttl).await;
        Ok(())
    }
}
