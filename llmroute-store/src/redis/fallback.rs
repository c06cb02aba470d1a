//! Outage behaviour: [`FallbackCounters`], [`FallbackRateLimiter`] and
//! [`FallbackBudgets`] use Redis and, while it fails, the in-process implementation
//! ([`InMemoryCounters`], [`LocalRateLimiter`], [`LocalBudgets`]). A Redis outage never
//! fails a call: limits then hold per instance, with a warning and
//! `llmroute_redis_fallbacks_total`; Redis is tried again at most every
//! [`RedisOptions::retry_every`](super::RedisOptions) and used as soon as it answers.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use llmroute_core::keys::VirtualKey;
use llmroute_core::limits::{KeyRateLimiter, LocalRateLimiter};
use llmroute_core::router::counters::{Counters, InMemoryCounters, UsageSnapshot};
use llmroute_core::{Error, Result};

use super::budgets::RedisBudgets;
use super::counters::RedisCounters;
use super::health::Gate;
use super::limiter::RedisRateLimiter;
use crate::budget::{BudgetReserver, LocalBudgets, Reservation};

/// Router counters in Redis, in process while Redis is down.
#[derive(Debug)]
pub struct FallbackCounters {
    redis: RedisCounters,
    local: InMemoryCounters,
    gate: Arc<Gate>,
}

impl FallbackCounters {
    /// Redis counters with an in-process fallback behind `gate`.
    pub fn new(redis: RedisCounters, gate: Arc<Gate>) -> Self {
        FallbackCounters {
            redis,
            local: InMemoryCounters::new(),
            gate,
        }
    }

    /// The outage state and metrics of this component.
    pub fn gate(&self) -> &Arc<Gate> {
        &self.gate
    }
}

#[async_trait]
impl Counters for FallbackCounters {
    async fn snapshot(&self, deployments: &[&str]) -> Result<Vec<UsageSnapshot>> {
        let local = self.local.snapshot(deployments);
        Ok(self
            .gate
            .call(self.redis.try_snapshot(deployments), async {
                local.await.unwrap_or_default()
            })
            .await)
    }

    async fn add_usage(&self, deployment: &str, requests: u64, tokens: u64) -> Result<()> {
        let redis = self.redis.try_add_usage(deployment, requests, tokens);
        let local = self.local.add_usage(deployment, requests, tokens);
        self.gate.call(async { redis.await.map(Ok) }, local).await
    }

    async fn add_failure(&self, deployment: &str, window: Duration) -> Result<u64> {
        let redis = self.redis.try_add_failure(deployment, window);
        let local = self.local.add_failure(deployment, window);
        self.gate.call(async { redis.await.map(Ok) }, local).await
    }

    async fn cool_down(&self, deployment: &str, duration: Duration) -> Result<()> {
        let redis = self.redis.try_cool_down(deployment, duration);
        let local = self.local.cool_down(deployment, duration);
        self.gate.call(async { redis.await.map(Ok) }, local).await
    }
}

/// Per-key rate limits in Redis, in process while Redis is down.
#[derive(Debug)]
pub struct FallbackRateLimiter {
    redis: RedisRateLimiter,
    local: LocalRateLimiter,
    gate: Arc<Gate>,
}

impl FallbackRateLimiter {
    /// A Redis limiter with an in-process fallback behind `gate`.
    pub fn new(redis: RedisRateLimiter, gate: Arc<Gate>) -> Self {
        FallbackRateLimiter {
            redis,
            local: LocalRateLimiter::new(),
            gate,
        }
    }

    /// The outage state and metrics of this component.
    pub fn gate(&self) -> &Arc<Gate> {
        &self.gate
    }
}

#[async_trait]
impl KeyRateLimiter for FallbackRateLimiter {
    async fn admit(
        &self,
        key_hash: &str,
        rpm: Option<u64>,
        tpm: Option<u64>,
        tokens: u64,
    ) -> Result<()> {
        if rpm.is_none() && tpm.is_none() {
            return Ok(());
        }
        let redis = self.redis.try_admit(key_hash, rpm, tpm, tokens);
        let local = self.local.admit(key_hash, rpm, tpm, tokens);
        self.gate.call(redis, local).await
    }

    async fn adjust_tokens(&self, key_hash: &str, delta: i64) -> Result<()> {
        if delta == 0 {
            return Ok(());
        }
        let redis = self.redis.try_adjust_tokens(key_hash, delta);
        let local = self.local.adjust_tokens(key_hash, delta);
        self.gate.call(async { redis.await.map(Ok) }, local).await
    }
}

/// Budget reservations in Redis, in process while Redis is down. A reservation is
/// settled where it was made ([`Reservation::local`] says where).
#[derive(Debug)]
pub struct FallbackBudgets {
    redis: RedisBudgets,
    local: LocalBudgets,
    gate: Arc<Gate>,
}

impl FallbackBudgets {
    /// Redis budgets with an in-process fallback behind `gate`.
    pub fn new(redis: RedisBudgets, gate: Arc<Gate>) -> Self {
        FallbackBudgets {
            redis,
            local: LocalBudgets::new(),
            gate,
        }
    }

    /// The outage state and metrics of this component.
    pub fn gate(&self) -> &Arc<Gate> {
        &self.gate
    }

    async fn end(&self, r: Reservation, actual: Option<f64>) {
        if r.local {
            match actual {
                Some(a) => self.local.settle(r, a).await,
                None => self.local.release(r).await,
            }
            return;
        }
        // Made in Redis: settle there; if Redis is down the reservation expires by
        // itself and the ledger keeps the real cost.
        if self.gate.should_try() {
            match self.redis.try_settle(&r, actual.unwrap_or(0.0)).await {
                Ok(()) => self.gate.succeeded(),
                Err(f) => self.gate.failed(&f),
            }
        }
    }
}

#[async_trait]
impl BudgetReserver for FallbackBudgets {
    async fn reserve(
        &self,
        key: &VirtualKey,
        estimate: f64,
    ) -> std::result::Result<Reservation, Error> {
        if key.max_budget.is_none() {
            return Ok(Reservation {
                key_hash: key.token_hash.clone(),
                amount: 0.0,
                local: true,
            });
        }
        let redis = self.redis.try_reserve(key, estimate);
        let local = self.local.reserve(key, estimate);
        self.gate.call(redis, local).await
    }

    async fn settle(&self, reservation: Reservation, actual: f64) {
        self.end(reservation, Some(actual)).await;
    }

    async fn release(&self, reservation: Reservation) {
        self.end(reservation, None).await;
    }

    async fn forget(&self, key_hash: &str) {
        self.local.forget(key_hash).await;
        if self.gate.should_try() {
            match self.redis.try_forget(key_hash).await {
                Ok(()) => self.gate.succeeded(),
                Err(f) => self.gate.failed(&f),
            }
        }
    }
}
