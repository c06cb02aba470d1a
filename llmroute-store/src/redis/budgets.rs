//! [`RedisBudgets`]: budget reservations shared through Redis, so a key's `max_budget`
//! holds across every instance. Reserve before the upstream call, settle with the real
//! cost after; each is one Lua script.
//!
//! PostgreSQL stays the ledger of record. The spend in Redis is seeded from the key's
//! stored spend when Redis has none (first use, or after a flush or eviction) and never
//! falls below it, so Redis is rebuilt from the ledger by itself. Each reservation is a
//! member of a sorted set that expires on its own ([`RESERVATION_LIFETIME`]), so a
//! reservation whose instance died, or whose settle could not reach Redis, frees its
//! budget by itself.
//!
//! An admin changing a key's spend or budget calls [`BudgetReserver::forget`], which
//! removes the spend from Redis so the next reservation seeds it from the ledger again.
//!
//! Keys, under the prefix: `<prefix>:budget:<key hash>` (hash `spend`, `reset`, `seq`;
//! amounts in integer nano-dollars) and `<prefix>:budget:<key hash>:res`.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use llmroute_core::keys::VirtualKey;
use llmroute_core::store::{parse_budget_duration, unix_secs};
use llmroute_core::Error;
use redis::Script;

use super::pool::{RedisFailure, RedisPool};
use crate::budget::{BudgetReserver, Reservation};
use crate::checks::{effective_spend, key_name};

/// How long a reservation holds budget when it is never settled (longer than any
/// request may take).
pub const RESERVATION_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// How long an idle key's budget state stays in Redis before it is re-seeded from the ledger.
pub const BUDGET_STATE_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// Budget reservations shared through Redis.
#[derive(Debug, Clone)]
pub struct RedisBudgets {
    pool: RedisPool,
    prefix: String,
}

fn scripts() -> &'static [Script; 2] {
    static SCRIPTS: std::sync::OnceLock<[Script; 2]> = std::sync::OnceLock::new();
    SCRIPTS.get_or_init(|| {
        [
            Script::new(include_str!("scripts/budget_reserve.lua")),
            Script::new(include_str!("scripts/budget_settle.lua")),
        ]
    })
}

/// Dollars as integer nano-dollars (exact sums in Redis).
fn nanos(dollars: f64) -> i64 {
    (dollars.max(0.0) * 1e9).round() as i64
}

fn dollars(nanos: i64) -> f64 {
    nanos as f64 / 1e9
}

impl RedisBudgets {
    /// Budgets under `prefix` (a namespace: tests use a random one).
    pub fn new(pool: RedisPool, prefix: &str) -> Self {
        RedisBudgets {
            pool,
            prefix: prefix.to_string(),
        }
    }

    fn keys(&self, key_hash: &str) -> (String, String) {
        let h = format!("{}:budget:{key_hash}", self.prefix);
        let z = format!("{h}:res");
        (h, z)
    }

    /// [`BudgetReserver::reserve`]; the outer error is Redis failing, the inner one the
    /// budget being exceeded.
    pub async fn try_reserve(
        &self,
        key: &VirtualKey,
        estimate: f64,
    ) -> Result<Result<Reservation, Error>, RedisFailure> {
        let Some(max) = key.max_budget else {
            return Ok(Ok(Reservation {
                key_hash: key.token_hash.clone(),
                amount: 0.0,
                local: false,
            }));
        };
        let now_t = SystemTime::now();
        let now = unix_secs(now_t);
        let period = key
            .budget_duration
            .as_deref()
            .and_then(parse_budget_duration)
            .map_or(0, |p| p.as_secs());
        let (max_n, est_n) = (nanos(max), nanos(estimate));
        // Tolerance for the float estimates (ten reservations of a tenth fit a budget of one).
        let allowed = max_n.saturating_add((max_n / 1_000_000).max(100));
        let (h, z) = self.keys(&key.token_hash);
        let mut inv = scripts()[0].prepare_invoke();
        inv.key(h)
            .key(z)
            .arg(nanos(effective_spend(key, now_t)))
            .arg(key.budget_reset_at.unwrap_or(-1))
            .arg(now)
            .arg(period)
            .arg(max_n)
            .arg(allowed)
            .arg(est_n)
            .arg(RESERVATION_LIFETIME.as_millis() as u64)
            .arg(BUDGET_STATE_LIFETIME.as_secs());
        let (ok, spend, reserved, _seeded): (i64, i64, i64, i64) = self
            .pool
            .run("reserving budget", |mut c| async move {
                inv.invoke_async(&mut c).await
            })
            .await?;
        if ok == 1 {
            return Ok(Ok(Reservation {
                key_hash: key.token_hash.clone(),
                amount: dollars(est_n),
                local: false,
            }));
        }
        Ok(Err(Error::BudgetExceeded {
            message: format!(
                "budget exceeded for key {}: spent ${:.6}, ${:.6} reserved by requests in flight on every instance, this request may cost ${:.6}, max_budget ${max:.6}",
                key_name(key),
                dollars(spend),
                dollars(reserved),
                dollars(est_n),
            ),
        }))
    }

    /// Ends `reservation` and adds `actual` dollars to the key's spend (nothing to do,
    /// and no round trip, for a reservation of zero: a key without a budget).
    pub async fn try_settle(
        &self,
        reservation: &Reservation,
        actual: f64,
    ) -> Result<(), RedisFailure> {
        let (amount, actual) = (nanos(reservation.amount), nanos(actual));
        if amount == 0 {
            // Nothing was reserved (no budget): no round trip. The ledger records the cost.
            return Ok(());
        }
        let (h, z) = self.keys(&reservation.key_hash);
        let mut inv = scripts()[1].prepare_invoke();
        inv.key(h).key(z).arg(amount).arg(actual);
        self.pool
            .run("settling a budget reservation", |mut c| async move {
                inv.invoke_async::<i64>(&mut c).await
            })
            .await
            .map(|_| ())
    }

    /// [`BudgetReserver::forget`]: removes the key's spend and period from Redis (the
    /// reservations in flight and the sequence stay), so the next reservation seeds them
    /// from the ledger.
    pub async fn try_forget(&self, key_hash: &str) -> Result<(), RedisFailure> {
        let (h, _) = self.keys(key_hash);
        self.pool
            .run("forgetting a key's budget state", |mut c| async move {
                redis::cmd("HDEL")
                    .arg(h)
                    .arg("spend")
                    .arg("reset")
                    .query_async::<i64>(&mut c)
                    .await
            })
            .await
            .map(|_| ())
    }

    fn warn_unsettled(f: &RedisFailure) {
        tracing::warn!(error = %f, "a budget reservation could not be settled in Redis; it expires by itself and the ledger keeps the real cost");
    }
}

#[async_trait]
impl BudgetReserver for RedisBudgets {
    async fn reserve(&self, key: &VirtualKey, estimate: f64) -> Result<Reservation, Error> {
        self.try_reserve(key, estimate).await?
    }

    async fn settle(&self, reservation: Reservation, actual: f64) {
        if let Err(f) = self.try_settle(&reservation, actual).await {
            Self::warn_unsettled(&f);
        }
    }

    async fn release(&self, reservation: Reservation) {
        if let Err(f) = self.try_settle(&reservation, 0.0).await {
            Self::warn_unsettled(&f);
        }
    }

    async fn forget(&self, key_hash: &str) {
        if let Err(f) = self.try_forget(key_hash).await {
            tracing::warn!(error = %f, "a key's budget state could not be cleared in Redis; it follows the ledger again once the ledger passes it or after {} idle days", BUDGET_STATE_LIFETIME.as_secs() / 86_400);
        }
    }
}
