//! Shared accounting: requests and tokens per deployment per minute, failures, cooldowns.
//!
//! The router reads and writes this state only through the [`Counters`] trait, so that
//! several server instances can share it. [`InMemoryCounters`] keeps it in this process;
//! a Redis implementation (in `llmroute-store`) makes it shared. Every method is one
//! round trip for such a store: `snapshot` is a pipeline of `GET`/`PTTL` per deployment,
//! `add_usage` an `INCRBY` + `EXPIRE` pipeline, `add_failure` an `INCR` + `PEXPIRE NX`,
//! `cool_down` a `SET .. PX`. Times cross the trait as durations, never as instants, so
//! no two machines need agreeing clocks.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::error::Result;

/// The length of a usage window: `rpm` and `tpm` are counted per minute.
pub const USAGE_WINDOW: Duration = Duration::from_secs(60);

/// One deployment's usage in the current window, and its cooldown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageSnapshot {
    /// Requests sent in the current minute.
    pub requests: u64,
    /// Tokens used in the current minute.
    pub tokens: u64,
    /// How long the deployment still cools down, `None` when it is available.
    pub cooldown: Option<Duration>,
}

/// Where the router keeps usage and cooldowns.
///
/// Errors are never fatal to a request: when a call fails the router logs it and
/// routes as if the deployment had no usage and no cooldown.
#[async_trait]
pub trait Counters: Send + Sync + 'static {
    /// Usage and cooldown of each deployment, in the order given.
    async fn snapshot(&self, deployments: &[&str]) -> Result<Vec<UsageSnapshot>>;

    /// Adds `requests` and `tokens` to the deployment's current minute.
    async fn add_usage(&self, deployment: &str, requests: u64, tokens: u64) -> Result<()>;

    /// Records one failure and returns how many the deployment had within `window`,
    /// this one included. The window starts at the first failure.
    async fn add_failure(&self, deployment: &str, window: Duration) -> Result<u64>;

    /// Makes the deployment cool down for `duration` from now. A longer cooldown
    /// already in place is kept.
    async fn cool_down(&self, deployment: &str, duration: Duration) -> Result<()>;
}

/// A fixed window: a count that resets `length` after it started.
#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    first: u64,
    second: u64,
}

impl Window {
    fn current(slot: &mut Option<Window>, now: Instant, length: Duration) -> &mut Window {
        let fresh = Window {
            started: now,
            first: 0,
            second: 0,
        };
        match slot {
            Some(w) if now.duration_since(w.started) < length => {}
            _ => *slot = Some(fresh),
        }
        slot.get_or_insert(fresh)
    }
}

#[derive(Debug, Default)]
struct Entry {
    usage: Option<Window>,
    failures: Option<Window>,
    cooling_until: Option<Instant>,
}

/// [`Counters`] kept in this process (tokio's clock, so paused-time tests work).
#[derive(Debug, Default)]
pub struct InMemoryCounters {
    entries: Mutex<HashMap<String, Entry>>,
}

impl InMemoryCounters {
    /// Empty counters.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_entry<T>(&self, deployment: &str, f: impl FnOnce(&mut Entry) -> T) -> T {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = map.get_mut(deployment) {
            return f(entry);
        }
        f(map.entry(deployment.to_string()).or_default())
    }
}

#[async_trait]
impl Counters for InMemoryCounters {
    async fn snapshot(&self, deployments: &[&str]) -> Result<Vec<UsageSnapshot>> {
        let now = Instant::now();
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        Ok(deployments
            .iter()
            .map(|id| {
                let Some(entry) = map.get(*id) else {
                    return UsageSnapshot::default();
                };
                let usage = entry
                    .usage
                    .filter(|w| now.duration_since(w.started) < USAGE_WINDOW)
                    .map(|w| (w.first, w.second))
                    .unwrap_or((0, 0));
                UsageSnapshot {
                    requests: usage.0,
                    tokens: usage.1,
                    cooldown: entry
                        .cooling_until
                        .filter(|until| *until > now)
                        .map(|until| until - now),
                }
            })
            .collect())
    }

    async fn add_usage(&self, deployment: &str, requests: u64, tokens: u64) -> Result<()> {
        let now = Instant::now();
        self.with_entry(deployment, |e| {
            let w = Window::current(&mut e.usage, now, USAGE_WINDOW);
            w.first = w.first.saturating_add(requests);
            w.second = w.second.saturating_add(tokens);
        });
        Ok(())
    }

    async fn add_failure(&self, deployment: &str, window: Duration) -> Result<u64> {
        let now = Instant::now();
        Ok(self.with_entry(deployment, |e| {
            let w = Window::current(&mut e.failures, now, window);
            w.first = w.first.saturating_add(1);
            w.first
        }))
    }

    async fn cool_down(&self, deployment: &str, duration: Duration) -> Result<()> {
        let until = Instant::now() + duration;
        self.with_entry(deployment, |e| {
            if e.cooling_until.is_none_or(|current| current < until) {
                e.cooling_until = Some(until);
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn usage_resets_after_a_minute_and_cooldown_expires() {
        let c = InMemoryCounters::new();
        c.add_usage("a", 1, 100).await.expect("add");
        c.add_usage("a", 1, 50).await.expect("add");
        c.cool_down("b", Duration::from_millis(1500))
            .await
            .expect("cool");
        let s = c.snapshot(&["a", "b", "unknown"]).await.expect("snapshot");
        assert_eq!((s[0].requests, s[0].tokens, s[0].cooldown), (2, 150, None));
        assert_eq!(s[1].cooldown, Some(Duration::from_millis(1500)));
        assert_eq!(s[2], UsageSnapshot::default());

        tokio::time::advance(Duration::from_millis(1500)).await;
        let s = c.snapshot(&["b"]).await.expect("snapshot");
        assert_eq!(s[0].cooldown, None);

        tokio::time::advance(USAGE_WINDOW).await;
        let s = c.snapshot(&["a"]).await.expect("snapshot");
        assert_eq!((s[0].requests, s[0].tokens), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn failures_count_within_their_window_and_longer_cooldowns_win() {
        let c = InMemoryCounters::new();
        let w = Duration::from_secs(60);
        assert_eq!(c.add_failure("a", w).await.expect("fail"), 1);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(c.add_failure("a", w).await.expect("fail"), 2);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(c.add_failure("a", w).await.expect("fail"), 1);

        c.cool_down("a", Duration::from_secs(10))
            .await
            .expect("cool");
        c.cool_down("a", Duration::from_secs(2))
            .await
            .expect("cool");
        let s = c.snapshot(&["a"]).await.expect("snapshot");
        assert_eq!(s[0].cooldown, Some(Duration::from_secs(10)));
    }
}
