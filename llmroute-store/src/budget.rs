//! Budget reservations: reserve a request's estimated cost before calling the upstream,
//! settle with the real cost after, so concurrent requests cannot race past a key's
//! budget. [`BudgetReserver`] is the seam: [`LocalBudgets`] holds the counts in this
//! process; a Redis implementation shares them between instances.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use llmroute_core::keys::VirtualKey;
use llmroute_core::store::{parse_budget_duration, unix_secs};
use llmroute_core::Error;

use crate::checks::{effective_spend, key_name};

/// Dollars set aside for one request.
#[derive(Debug)]
#[must_use = "a reservation holds budget until it is settled or released"]
pub struct Reservation {
    /// The key's hash.
    pub key_hash: String,
    /// Dollars reserved (0 for a key without a budget).
    pub amount: f64,
    /// Made in this process (not in a shared store): settled where it was made.
    pub local: bool,
}

/// Reserves and settles budget.
#[async_trait]
pub trait BudgetReserver: Send + Sync + 'static {
    /// Sets `estimate` dollars aside on `key`, or refuses with [`Error::BudgetExceeded`]
    /// when spend + reservations + `estimate` would pass `max_budget`.
    async fn reserve(&self, key: &VirtualKey, estimate: f64) -> Result<Reservation, Error>;
    /// Replaces the reservation with the `actual` cost.
    async fn settle(&self, reservation: Reservation, actual: f64);
    /// Gives the reservation back (the request cost nothing).
    async fn release(&self, reservation: Reservation);
    /// Forgets the spend counted for `key_hash` (an admin changed the key's `spend`,
    /// `max_budget` or `budget_duration` in the store): the next reservation starts again
    /// from the key's stored record. Reservations in flight still count. Without this,
    /// the count only follows the stored spend upward, so lowering it would not lift a
    /// refusal.
    async fn forget(&self, key_hash: &str);
}

/// Reserves on a reserver and gives the budget back if dropped unsettled (a failed or
/// cancelled request).
pub struct BudgetGuard {
    reserver: Arc<dyn BudgetReserver>,
    reservation: Option<Reservation>,
}

impl BudgetGuard {
    /// Reserves `estimate` on `key`.
    pub async fn reserve(
        reserver: Arc<dyn BudgetReserver>,
        key: &VirtualKey,
        estimate: f64,
    ) -> Result<Self, Error> {
        let reservation = reserver.reserve(key, estimate).await?;
        Ok(BudgetGuard {
            reserver,
            reservation: Some(reservation),
        })
    }

    /// Dollars reserved.
    pub fn amount(&self) -> f64 {
        self.reservation.as_ref().map_or(0.0, |r| r.amount)
    }

    /// Settles with the real cost.
    pub async fn settle(mut self, actual: f64) {
        if let Some(r) = self.reservation.take() {
            self.reserver.settle(r, actual).await;
        }
    }
}

impl Drop for BudgetGuard {
    fn drop(&mut self) {
        if let Some(r) = self.reservation.take() {
            let reserver = self.reserver.clone();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { reserver.release(r).await });
            }
        }
    }
}

#[derive(Debug, Default)]
struct KeyState {
    spend: f64,
    reserved: f64,
    reset_at: Option<i64>,
    /// Forgotten: take the spend and period from the next stored record seen.
    reseed: bool,
}

/// Budget counts held in this process (one instance). Spend starts from the key's
/// stored spend and follows it upward as the stored record catches up.
#[derive(Debug, Default)]
pub struct LocalBudgets {
    keys: Mutex<HashMap<String, KeyState>>,
}

impl LocalBudgets {
    /// Empty counts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Dollars currently reserved on a key.
    pub fn reserved(&self, key_hash: &str) -> f64 {
        self.lock().get(key_hash).map_or(0.0, |s| s.reserved)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, KeyState>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Tolerance for float sums (ten reservations of a tenth must fit a budget of one).
const EPSILON: f64 = 1e-9;

#[async_trait]
impl BudgetReserver for LocalBudgets {
    async fn reserve(&self, key: &VirtualKey, estimate: f64) -> Result<Reservation, Error> {
        let Some(max) = key.max_budget else {
            return Ok(Reservation {
                key_hash: key.token_hash.clone(),
                amount: 0.0,
                local: true,
            });
        };
        let now_t = SystemTime::now();
        let now = unix_secs(now_t);
        let stored = effective_spend(key, now_t);
        let mut keys = self.lock();
        let st = keys
            .entry(key.token_hash.clone())
            .or_insert_with(|| KeyState {
                spend: stored,
                reserved: 0.0,
                reset_at: key.budget_reset_at,
                reseed: false,
            });
        if st.reseed || key.budget_reset_at > st.reset_at {
            // The store began a new period, or an admin changed the key.
            st.spend = stored;
            st.reset_at = key.budget_reset_at;
            st.reseed = false;
        } else {
            st.spend = st.spend.max(stored);
        }
        if let Some(reset) = st.reset_at.filter(|r| *r <= now) {
            let period = key
                .budget_duration
                .as_deref()
                .and_then(parse_budget_duration);
            st.spend = 0.0;
            st.reset_at = period.map(|p| now + p.as_secs() as i64).or(Some(reset));
        }
        let estimate = estimate.max(0.0);
        if st.spend >= max || st.spend + st.reserved + estimate > max * (1.0 + EPSILON) {
            return Err(Error::BudgetExceeded {
                message: format!(
                    "budget exceeded for key {}: spent ${:.6}, ${:.6} reserved by requests in flight, this request may cost ${estimate:.6}, max_budget ${max:.6}",
                    key_name(key),
                    st.spend,
                    st.reserved
                ),
            });
        }
        st.reserved += estimate;
        Ok(Reservation {
            key_hash: key.token_hash.clone(),
            amount: estimate,
            local: true,
        })
    }

    async fn settle(&self, reservation: Reservation, actual: f64) {
        if let Some(st) = self.lock().get_mut(&reservation.key_hash) {
            st.reserved = (st.reserved - reservation.amount).max(0.0);
            st.spend += actual.max(0.0);
        }
    }

    async fn release(&self, reservation: Reservation) {
        if let Some(st) = self.lock().get_mut(&reservation.key_hash) {
            st.reserved = (st.reserved - reservation.amount).max(0.0);
        }
    }

    async fn forget(&self, key_hash: &str) {
        let mut keys = self.lock();
        match keys.get_mut(key_hash) {
            // Reservations in flight still hold their amounts until settled.
            Some(st) if st.reserved > 0.0 => st.reseed = true,
            Some(_) => {
                keys.remove(key_hash);
            }
            None => {}
        }
    }
}
