//! [`RedisCounters`]: the router's per-deployment usage windows, failure counts and
//! cooldowns in Redis, so every instance routes on the same numbers and one instance's
//! 429 cools a deployment down for all. Each call is one Lua script (one round trip).
//!
//! Keys, under the prefix: `<prefix>:dep:<id>:u` (hash `r`, `t`; expires with the
//! minute), `<prefix>:dep:<id>:f` (failures in their window), `<prefix>:dep:<id>:c`
//! (exists while the deployment cools down).

use std::time::Duration;

use async_trait::async_trait;
use llmroute_core::router::counters::{Counters, UsageSnapshot, USAGE_WINDOW};
use llmroute_core::Result;
use redis::Script;

use super::pool::{RedisFailure, RedisPool};

/// Router counters shared through Redis.
#[derive(Debug, Clone)]
pub struct RedisCounters {
    pool: RedisPool,
    prefix: String,
}

fn scripts() -> &'static [Script; 4] {
    static SCRIPTS: std::sync::OnceLock<[Script; 4]> = std::sync::OnceLock::new();
    SCRIPTS.get_or_init(|| {
        [
            Script::new(include_str!("scripts/usage_snapshot.lua")),
            Script::new(include_str!("scripts/usage_add.lua")),
            Script::new(include_str!("scripts/failure_add.lua")),
            Script::new(include_str!("scripts/cool_down.lua")),
        ]
    })
}

impl RedisCounters {
    /// Counters under `prefix` (a namespace: tests use a random one).
    pub fn new(pool: RedisPool, prefix: &str) -> Self {
        RedisCounters {
            pool,
            prefix: prefix.to_string(),
        }
    }

    fn key(&self, deployment: &str, kind: &str) -> String {
        format!("{}:dep:{deployment}:{kind}", self.prefix)
    }

    /// [`Counters::snapshot`], with the Redis failure kept.
    pub async fn try_snapshot(
        &self,
        deployments: &[&str],
    ) -> std::result::Result<Vec<UsageSnapshot>, RedisFailure> {
        if deployments.is_empty() {
            return Ok(Vec::new());
        }
        let mut inv = scripts()[0].prepare_invoke();
        for d in deployments {
            inv.key(self.key(d, "u")).key(self.key(d, "c"));
        }
        let raw: Vec<i64> = self
            .pool
            .run("reading deployment usage", |mut c| async move {
                inv.invoke_async(&mut c).await
            })
            .await?;
        Ok(raw
            .chunks(3)
            .map(|v| UsageSnapshot {
                requests: v.first().copied().unwrap_or(0).max(0) as u64,
                tokens: v.get(1).copied().unwrap_or(0).max(0) as u64,
                cooldown: v
                    .get(2)
                    .copied()
                    .filter(|ms| *ms > 0)
                    .map(|ms| Duration::from_millis(ms as u64)),
            })
            .collect())
    }

    /// [`Counters::add_usage`], with the Redis failure kept.
    pub async fn try_add_usage(
        &self,
        deployment: &str,
        requests: u64,
        tokens: u64,
    ) -> std::result::Result<(), RedisFailure> {
        let mut inv = scripts()[1].prepare_invoke();
        inv.key(self.key(deployment, "u"))
            .arg(requests)
            .arg(tokens)
            .arg(USAGE_WINDOW.as_millis() as u64);
        self.pool
            .run("adding deployment usage", |mut c| async move {
                inv.invoke_async::<i64>(&mut c).await
            })
            .await
            .map(|_| ())
    }

    /// [`Counters::add_failure`], with the Redis failure kept.
    pub async fn try_add_failure(
        &self,
        deployment: &str,
        window: Duration,
    ) -> std::result::Result<u64, RedisFailure> {
        let mut inv = scripts()[2].prepare_invoke();
        inv.key(self.key(deployment, "f"))
            .arg(window.as_millis().max(1) as u64);
        self.pool
            .run("counting a deployment failure", |mut c| async move {
                inv.invoke_async::<u64>(&mut c).await
            })
            .await
    }

    /// [`Counters::cool_down`], with the Redis failure kept.
    pub async fn try_cool_down(
        &self,
        deployment: &str,
        duration: Duration,
    ) -> std::result::Result<(), RedisFailure> {
        let ms = duration.as_millis() as u64;
        if ms == 0 {
            return Ok(());
        }
        let mut inv = scripts()[3].prepare_invoke();
        inv.key(self.key(deployment, "c")).arg(ms);
        self.pool
            .run("cooling a deployment down", |mut c| async move {
                inv.invoke_async::<i64>(&mut c).await
            })
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl Counters for RedisCounters {
    async fn snapshot(&self, deployments: &[&str]) -> Result<Vec<UsageSnapshot>> {
        Ok(self.try_snapshot(deployments).await?)
    }

    async fn add_usage(&self, deployment: &str, requests: u64, tokens: u64) -> Result<()> {
        Ok(self.try_add_usage(deployment, requests, tokens).await?)
    }

    async fn add_failure(&self, deployment: &str, window: Duration) -> Result<u64> {
        Ok(self.try_add_failure(deployment, window).await?)
    }

    async fn cool_down(&self, deployment: &str, duration: Duration) -> Result<()> {
        Ok(self.try_cool_down(deployment, duration).await?)
    }
}
