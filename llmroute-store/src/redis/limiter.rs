//! [`RedisRateLimiter`]: per-key `rpm_limit` / `tpm_limit` windows in Redis, so a key's
//! limits hold across every instance. Admission is one Lua script that checks and counts
//! atomically (concurrent requests on several instances never overshoot).
//!
//! Key, under the prefix: `<prefix>:key:<key hash>:rl` (hash `r`, `t`), expiring when
//! the key's minute ends.

use std::time::Duration;

use async_trait::async_trait;
use llmroute_core::limits::{over_limit, KeyRateLimiter, RATE_WINDOW};
use llmroute_core::Result;
use redis::Script;

use super::pool::{RedisFailure, RedisPool};

/// Per-key rate limits shared through Redis.
#[derive(Debug, Clone)]
pub struct RedisRateLimiter {
    pool: RedisPool,
    prefix: String,
}

fn scripts() -> &'static [Script; 2] {
    static SCRIPTS: std::sync::OnceLock<[Script; 2]> = std::sync::OnceLock::new();
    SCRIPTS.get_or_init(|| {
        [
            Script::new(include_str!("scripts/rate_admit.lua")),
            Script::new(include_str!("scripts/rate_adjust.lua")),
        ]
    })
}

impl RedisRateLimiter {
    /// A limiter under `prefix` (a namespace: tests use a random one).
    pub fn new(pool: RedisPool, prefix: &str) -> Self {
        RedisRateLimiter {
            pool,
            prefix: prefix.to_string(),
        }
    }

    fn key(&self, key_hash: &str) -> String {
        format!("{}:key:{key_hash}:rl", self.prefix)
    }

    /// [`KeyRateLimiter::admit`]; the outer error is Redis failing, the inner one the
    /// key being over its limit.
    pub async fn try_admit(
        &self,
        key_hash: &str,
        rpm: Option<u64>,
        tpm: Option<u64>,
        tokens: u64,
    ) -> std::result::Result<Result<()>, RedisFailure> {
        if rpm.is_none() && tpm.is_none() {
            return Ok(Ok(()));
        }
        let limit = |l: Option<u64>| l.map_or(-1, |v| v.min(i64::MAX as u64) as i64);
        let mut inv = scripts()[0].prepare_invoke();
        inv.key(self.key(key_hash))
            .arg(limit(rpm))
            .arg(limit(tpm))
            .arg(tokens)
            .arg(RATE_WINDOW.as_millis() as u64);
        let (verdict, ttl_ms): (i64, i64) = self
            .pool
            .run("checking a key's rate limit", |mut c| async move {
                inv.invoke_async(&mut c).await
            })
            .await?;
        let retry_after = Duration::from_millis(ttl_ms.max(0) as u64);
        Ok(match verdict {
            0 => Ok(()),
            1 => Err(over_limit("rpm", rpm.unwrap_or(0), retry_after)),
            _ => Err(over_limit("tpm", tpm.unwrap_or(0), retry_after)),
        })
    }

    /// [`KeyRateLimiter::adjust_tokens`], with the Redis failure kept.
    pub async fn try_adjust_tokens(
        &self,
        key_hash: &str,
        delta: i64,
    ) -> std::result::Result<(), RedisFailure> {
        if delta == 0 {
            return Ok(());
        }
        let mut inv = scripts()[1].prepare_invoke();
        inv.key(self.key(key_hash)).arg(delta);
        self.pool
            .run("correcting a key's token count", |mut c| async move {
                inv.invoke_async::<i64>(&mut c).await
            })
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl KeyRateLimiter for RedisRateLimiter {
    async fn admit(
        &self,
        key_hash: &str,
        rpm: Option<u64>,
        tpm: Option<u64>,
        tokens: u64,
    ) -> Result<()> {
        self.try_admit(key_hash, rpm, tpm, tokens).await?
    }

    async fn adjust_tokens(&self, key_hash: &str, delta: i64) -> Result<()> {
        Ok(self.try_adjust_tokens(key_hash, delta).await?)
    }
}
