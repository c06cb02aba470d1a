//! [`RedisCache`]: answers cached in Redis as JSON, shared by every instance. A lookup
//! is one round trip (`GET` + `PTTL` pipelined) and returns the remaining lifetime so
//! the in-process layer in front expires the answer at the same moment.
//!
//! Key: `<prefix>:cache:<cache key>`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use llmroute_core::cache::{Cache, CachedAnswer};
use llmroute_core::Result;

use crate::redis::{RedisFailure, RedisPool};

/// The shared answer cache.
#[derive(Debug, Clone)]
pub struct RedisCache {
    pool: RedisPool,
    prefix: String,
}

impl RedisCache {
    /// A cache under `prefix` (a namespace: tests use a random one).
    pub fn new(pool: RedisPool, prefix: &str) -> Self {
        RedisCache {
            pool,
            prefix: prefix.to_string(),
        }
    }

    /// The pool it uses.
    pub fn pool(&self) -> &RedisPool {
        &self.pool
    }

    fn key(&self, key: &str) -> String {
        format!("{}:cache:{key}", self.prefix)
    }

    /// The answer under `key` and how long it still lives. An entry that does not
    /// decode (written by another version) is a miss.
    pub async fn try_get(
        &self,
        key: &str,
    ) -> std::result::Result<Option<(Arc<CachedAnswer>, Duration)>, RedisFailure> {
        let k = self.key(key);
        let (body, pttl): (Option<Vec<u8>>, i64) = self
            .pool
            .run("reading the response cache", |mut c| async move {
                redis::pipe().get(&k).pttl(&k).query_async(&mut c).await
            })
            .await?;
        let Some(body) = body else { return Ok(None) };
        let Ok(answer) = serde_json::from_slice::<CachedAnswer>(&body) else {
            tracing::debug!(
                key,
                "a cached answer in Redis did not decode; treated as a miss"
            );
            return Ok(None);
        };
        let ttl = Duration::from_millis(pttl.max(1) as u64);
        Ok(Some((Arc::new(answer), ttl)))
    }

    /// Stores `answer` under `key` for `ttl` (`SET … PX`).
    pub async fn try_set(
        &self,
        key: &str,
        answer: &CachedAnswer,
        ttl: Duration,
    ) -> std::result::Result<(), RedisFailure> {
        let ms = ttl.as_millis() as u64;
        if ms == 0 {
            return Ok(());
        }
        let body = serde_json::to_vec(answer).map_err(|e| RedisFailure {
            target: self.pool.target().to_string(),
            action: "encoding an answer for the response cache",
            reason: e.to_string(),
        })?;
        let k = self.key(key);
        self.pool
            .run("writing the response cache", |mut c| async move {
                redis::cmd("SET")
                    .arg(&k)
                    .arg(body)
                    .arg("PX")
                    .arg(ms)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Arc<CachedAnswer>>> {
        Ok(self.try_get(key).await?.map(|(a, _)| a))
    }

    async fn set(&self, key: &str, answer: Arc<CachedAnswer>, ttl: Duration) -> Result<()> {
        Ok(self.try_set(key, &answer, ttl).await?)
    }
}
