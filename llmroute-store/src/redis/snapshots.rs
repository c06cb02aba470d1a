//! Snapshots of the shared counters, reused briefly and refreshed in the background.
//!
//! A snapshot younger than [`SNAPSHOT_REUSE`] is used as it is. One older than that but
//! younger than [`STALE_LIMIT`] is still used while a single background call fetches a
//! fresh one (stale while revalidate): no request waits on Redis for it. A request
//! waits for Redis only when there is no snapshot, or when it is older than
//! [`STALE_LIMIT`] (Redis has not answered the refreshes).
//!
//! Before, every request that came between a snapshot's expiry and the fresh one's
//! arrival asked Redis itself and waited: with PostgreSQL + Redis at 64 connections the
//! proxy's own time (the overhead histogram) had a p99 of 4.4 ms against 0.04 ms with
//! the embedded store (docs/performance.md).
//!
//! [`Snapshots::forget`] (after an upstream failure or a cooldown) drops every snapshot,
//! and a fetch that was under way when it happened is not kept, so the next request
//! sees the cooldown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use llmroute_core::router::UsageSnapshot;

/// How long a snapshot of the shared counters is used before a fresh one is asked for.
pub const SNAPSHOT_REUSE: Duration = Duration::from_millis(50);

/// How old a snapshot may grow while fresh ones are fetched in the background; past it,
/// a request waits for Redis (and so learns when Redis is down).
pub const STALE_LIMIT: Duration = Duration::from_millis(200);

/// The snapshots by deployment list.
#[derive(Default)]
pub(super) struct Snapshots {
    recent: Mutex<HashMap<String, Recent>>,
    /// Bumped by [`Snapshots::forget`]; a fetch begun before the bump is not kept.
    generation: AtomicU64,
}

struct Recent {
    taken: Instant,
    snapshot: Vec<UsageSnapshot>,
    /// Per deployment, this instance's usage confirmed sent when it was asked for.
    sent_before: Vec<(u64, u64)>,
    refreshing: bool,
}

/// When a fetch began: the generation, to drop it after a forget, and the time, to
/// never let it replace a newer snapshot.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket {
    generation: u64,
    asked: Instant,
}

/// A snapshot to use, with its age.
pub(super) struct Taken {
    pub snapshot: Vec<UsageSnapshot>,
    pub sent_before: Vec<(u64, u64)>,
    pub age: Duration,
}

/// What [`Snapshots::lookup`] found.
pub(super) enum Lookup {
    /// Use this; when `refresh`, the caller starts the one background fetch.
    Use { taken: Taken, refresh: bool },
    /// None, or too old: fetch one and wait for it.
    Missing,
}

impl Snapshots {
    fn recent(&self) -> MutexGuard<'_, HashMap<String, Recent>> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The snapshot for `key`, and whether the caller should refresh it in the background.
    pub fn lookup(&self, key: &str) -> Lookup {
        let mut recent = self.recent();
        let Some(r) = recent.get_mut(key) else {
            return Lookup::Missing;
        };
        let age = r.taken.elapsed();
        if age >= STALE_LIMIT {
            return Lookup::Missing;
        }
        let refresh = age >= SNAPSHOT_REUSE && !r.refreshing;
        r.refreshing |= refresh;
        let taken = Taken {
            snapshot: r.snapshot.clone(),
            sent_before: r.sent_before.clone(),
            age,
        };
        Lookup::Use { taken, refresh }
    }

    /// Marks a fetch about to begin, for [`Snapshots::keep`] or
    /// [`Snapshots::refresh_failed`] when it ends.
    pub fn ticket(&self) -> Ticket {
        Ticket {
            generation: self.generation.load(Ordering::SeqCst),
            asked: Instant::now(),
        }
    }

    /// Keeps a fetched snapshot, unless [`Snapshots::forget`] ran since the fetch began
    /// or a snapshot taken after it began is already kept (a slow refresh must not
    /// replace a newer fetch).
    pub fn keep(
        &self,
        key: String,
        ticket: Ticket,
        snapshot: Vec<UsageSnapshot>,
        sent_before: Vec<(u64, u64)>,
    ) {
        let mut recent = self.recent();
        if self.generation.load(Ordering::SeqCst) != ticket.generation
            || recent.get(&key).is_some_and(|r| r.taken > ticket.asked)
        {
            return;
        }
        let recent_entry = Recent {
            taken: Instant::now(),
            snapshot,
            sent_before,
            refreshing: false,
        };
        recent.insert(key, recent_entry);
    }

    /// A background fetch failed: a later request may start another (unless the fetch
    /// began before a [`Snapshots::forget`]: an entry kept since has its own refresh).
    pub fn refresh_failed(&self, key: &str, ticket: Ticket) {
        let mut recent = self.recent();
        if self.generation.load(Ordering::SeqCst) != ticket.generation {
            return;
        }
        if let Some(r) = recent.get_mut(key) {
            r.refreshing = false;
        }
    }

    /// Drops every snapshot, and any fetch under way will not be kept.
    pub fn forget(&self) {
        let mut recent = self.recent();
        self.generation.fetch_add(1, Ordering::SeqCst);
        recent.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requests(n: u64) -> Vec<UsageSnapshot> {
        vec![UsageSnapshot {
            requests: n,
            tokens: 0,
            cooldown: None,
        }]
    }

    fn kept(s: &Snapshots) -> Option<u64> {
        match s.lookup("a") {
            Lookup::Use { taken, .. } => Some(taken.snapshot[0].requests),
            Lookup::Missing => None,
        }
    }

    #[test]
    fn a_slow_fetch_never_replaces_a_newer_one_nor_outlives_a_forget() {
        let s = Snapshots::default();
        let slow = s.ticket();
        std::thread::sleep(Duration::from_millis(2));
        s.keep("a".into(), s.ticket(), requests(2), vec![(0, 0)]);
        s.keep("a".into(), slow, requests(1), vec![(0, 0)]);
        assert_eq!(
            kept(&s),
            Some(2),
            "the fetch asked earlier came back later: not kept"
        );

        let before_forget = s.ticket();
        s.forget();
        s.keep("a".into(), before_forget, requests(3), vec![(0, 0)]);
        assert_eq!(
            kept(&s),
            None,
            "a fetch begun before the forget is not kept"
        );
    }

    #[test]
    fn a_failed_refresh_from_before_a_forget_leaves_the_new_entrys_refresh_alone() {
        let s = Snapshots::default();
        let old = s.ticket();
        s.forget();
        let now = s.ticket();
        s.keep("a".into(), now, requests(1), vec![(0, 0)]);
        s.recent().get_mut("a").expect("kept").refreshing = true;
        s.refresh_failed("a", old);
        assert!(
            s.recent()["a"].refreshing,
            "still refreshing: the failure was another's"
        );
        s.refresh_failed("a", now);
        assert!(!s.recent()["a"].refreshing);
    }
}
