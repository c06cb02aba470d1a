//! The shared counters as the router should use them: [`BatchedCounters`] keeps the
//! Redis round trips off most requests (a snapshot reused briefly, usage sent in
//! batches), while failures and cooldowns still go straight through.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llmroute_core::router::{Counters, UsageSnapshot};

use super::snapshots::{Lookup, Snapshots, SNAPSHOT_REUSE};

/// The shared counters as the router uses them, without a Redis round trip on most
/// requests: usage is added up here and sent once per deployment every
/// [`SNAPSHOT_REUSE`] by a background task; `snapshot` is reused for up to
/// [`SNAPSHOT_REUSE`] (with cooldowns aged by the time passed), then refreshed in the
/// background while the old one still answers (`snapshots.rs`); failures and cooldowns
/// go straight through and drop the reused snapshots, so this instance sees its own at
/// once, and other instances' within [`SNAPSHOT_REUSE`] and a Redis round trip while
/// requests flow (within `STALE_LIMIT` for the first request after a pause).
///
/// Every snapshot returned, reused or fresh, includes this instance's own usage that
/// the snapshot from the shared counters may not hold yet (not sent, or sent after the
/// snapshot was asked for), so one instance never overshoots a deployment's rpm / tpm
/// however fast its requests come; other instances' usage is seen within
/// [`SNAPSHOT_REUSE`] plus one flush.
pub struct BatchedCounters {
    inner: Arc<dyn Counters>,
    /// Snapshots by deployment list: when taken, what the shared counters said, and
    /// this instance's usage already confirmed sent when it was asked for.
    snapshots: Arc<Snapshots>,
    usage: Arc<Mutex<HashMap<String, Local>>>,
    flush_scheduled: Arc<AtomicBool>,
}

/// This instance's usage of one deployment (requests, tokens), running totals.
#[derive(Default, Clone, Copy)]
struct Local {
    /// Everything added here.
    added: (u64, u64),
    /// Taken by a flush (sent or being sent).
    taken: (u64, u64),
    /// Sent, the shared counters' call returned.
    sent: (u64, u64),
}

impl BatchedCounters {
    /// Wraps the shared counters (the Redis ones).
    pub fn new(inner: Arc<dyn Counters>) -> Self {
        BatchedCounters {
            inner,
            snapshots: Arc::new(Snapshots::default()),
            usage: Arc::new(Mutex::new(HashMap::new())),
            flush_scheduled: Arc::new(AtomicBool::new(false)),
        }
    }

    fn usage(&self) -> std::sync::MutexGuard<'_, HashMap<String, Local>> {
        lock_usage(&self.usage)
    }

    /// Sends the usage added up since the last flush, one call per deployment.
    fn schedule_flush(&self) {
        if self.flush_scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let (inner, usage, scheduled) = (
            self.inner.clone(),
            self.usage.clone(),
            self.flush_scheduled.clone(),
        );
        tokio::spawn(async move {
            tokio::time::sleep(SNAPSHOT_REUSE).await;
            scheduled.store(false, Ordering::Release);
            let batch: Vec<(String, (u64, u64))> = lock_usage(&usage)
                .iter_mut()
                .filter(|(_, l)| l.added != l.taken)
                .map(|(d, l)| {
                    let delta = (l.added.0 - l.taken.0, l.added.1 - l.taken.1);
                    l.taken = l.added;
                    (d.clone(), delta)
                })
                .collect();
            for (deployment, (requests, tokens)) in batch {
                if let Err(e) = inner.add_usage(&deployment, requests, tokens).await {
                    tracing::debug!(deployment = %deployment, error = %e, "counting usage in Redis failed");
                }
                // Counted as sent even when it failed: the shared counters (with their
                // in-process fallback) are then as good as they get.
                if let Some(l) = lock_usage(&usage).get_mut(&deployment) {
                    l.sent.0 += requests;
                    l.sent.1 += tokens;
                }
            }
        });
    }

    /// Fetches a fresh snapshot for `key` in the background, keeping it unless the
    /// snapshots were forgotten meanwhile.
    fn refresh_in_background(&self, key: String, deployments: &[&str]) {
        let (inner, usage, snapshots) = (
            self.inner.clone(),
            self.usage.clone(),
            self.snapshots.clone(),
        );
        let ticket = snapshots.ticket();
        let deployments: Vec<String> = deployments.iter().map(|d| d.to_string()).collect();
        tokio::spawn(async move {
            let names: Vec<&str> = deployments.iter().map(String::as_str).collect();
            match fetch(inner.as_ref(), &usage, &names).await {
                Ok((fresh, sent_before)) => snapshots.keep(key, ticket, fresh, sent_before),
                Err(e) => {
                    tracing::debug!(error = %e, "refreshing the shared counters' snapshot failed");
                    snapshots.refresh_failed(&key, ticket);
                }
            }
        });
    }

    /// `snapshot` plus this instance's usage not yet confirmed sent when it was asked.
    fn with_own_usage(
        &self,
        deployments: &[&str],
        snapshot: &[UsageSnapshot],
        sent_before: &[(u64, u64)],
        age: Duration,
    ) -> Vec<UsageSnapshot> {
        let usage = self.usage();
        snapshot
            .iter()
            .zip(deployments)
            .zip(sent_before)
            .map(|((s, d), before)| {
                let added = usage.get(*d).map_or((0, 0), |l| l.added);
                UsageSnapshot {
                    requests: s.requests + added.0.saturating_sub(before.0),
                    tokens: s.tokens + added.1.saturating_sub(before.1),
                    cooldown: s
                        .cooldown
                        .and_then(|c| c.checked_sub(age))
                        .filter(|c| !c.is_zero()),
                }
            })
            .collect()
    }
}

/// What the shared counters say of `deployments`, and this instance's usage confirmed
/// sent when they were asked.
async fn fetch(
    inner: &dyn Counters,
    usage: &Mutex<HashMap<String, Local>>,
    deployments: &[&str],
) -> llmroute_core::Result<(Vec<UsageSnapshot>, Vec<(u64, u64)>)> {
    let sent_before: Vec<(u64, u64)> = {
        let usage = lock_usage(usage);
        deployments
            .iter()
            .map(|d| usage.get(*d).map_or((0, 0), |l| l.sent))
            .collect()
    };
    let fresh = inner.snapshot(deployments).await?;
    Ok((fresh, sent_before))
}

fn lock_usage(
    usage: &Mutex<HashMap<String, Local>>,
) -> std::sync::MutexGuard<'_, HashMap<String, Local>> {
    usage.lock().unwrap_or_else(|p| p.into_inner())
}

#[async_trait::async_trait]
impl Counters for BatchedCounters {
    async fn snapshot(&self, deployments: &[&str]) -> llmroute_core::Result<Vec<UsageSnapshot>> {
        let key = deployments.join("\n");
        if let Lookup::Use { taken, refresh } = self.snapshots.lookup(&key) {
            if refresh {
                self.refresh_in_background(key, deployments);
            }
            return Ok(self.with_own_usage(
                deployments,
                &taken.snapshot,
                &taken.sent_before,
                taken.age,
            ));
        }
        let ticket = self.snapshots.ticket();
        let (fresh, sent_before) = fetch(self.inner.as_ref(), &self.usage, deployments).await?;
        let out = self.with_own_usage(deployments, &fresh, &sent_before, Duration::ZERO);
        self.snapshots.keep(key, ticket, fresh, sent_before);
        Ok(out)
    }

    async fn add_usage(
        &self,
        deployment: &str,
        requests: u64,
        tokens: u64,
    ) -> llmroute_core::Result<()> {
        {
            let mut usage = self.usage();
            let entry = usage.entry(deployment.to_string()).or_default();
            entry.added.0 += requests;
            entry.added.1 += tokens;
        }
        self.schedule_flush();
        Ok(())
    }

    async fn add_failure(&self, deployment: &str, window: Duration) -> llmroute_core::Result<u64> {
        self.snapshots.forget();
        self.inner.add_failure(deployment, window).await
    }

    async fn cool_down(&self, deployment: &str, duration: Duration) -> llmroute_core::Result<()> {
        let done = self.inner.cool_down(deployment, duration).await;
        self.snapshots.forget();
        done
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;
    use std::time::Instant;

    use super::super::snapshots::STALE_LIMIT;
    use super::*;

    /// In-process counters that count the snapshots asked of them (standing for Redis).
    #[derive(Default)]
    struct Counted {
        inner: llmroute_core::router::InMemoryCounters,
        snapshots: AtomicU64,
        /// How long a snapshot takes (a slow Redis), milliseconds.
        delay_ms: AtomicU64,
    }

    #[async_trait::async_trait]
    impl Counters for Counted {
        async fn snapshot(&self, d: &[&str]) -> llmroute_core::Result<Vec<UsageSnapshot>> {
            self.snapshots.fetch_add(1, Ordering::SeqCst);
            let delay = self.delay_ms.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            self.inner.snapshot(d).await
        }
        async fn add_usage(&self, d: &str, r: u64, t: u64) -> llmroute_core::Result<()> {
            self.inner.add_usage(d, r, t).await
        }
        async fn add_failure(&self, d: &str, w: Duration) -> llmroute_core::Result<u64> {
            self.inner.add_failure(d, w).await
        }
        async fn cool_down(&self, d: &str, c: Duration) -> llmroute_core::Result<()> {
            self.inner.cool_down(d, c).await
        }
    }

    #[tokio::test]
    async fn usage_is_added_up_and_sent_once_per_deployment() {
        let counted = Arc::new(Counted::default());
        let shared = BatchedCounters::new(counted.clone());
        for _ in 0..100 {
            shared.add_usage("a", 1, 10).await.expect("add");
        }
        shared.add_usage("b", 1, 5).await.expect("add");
        assert_eq!(
            counted.inner.snapshot(&["a"]).await.expect("s")[0].requests,
            0,
            "not sent yet"
        );
        tokio::time::sleep(SNAPSHOT_REUSE * 2).await;
        let s = counted.inner.snapshot(&["a", "b"]).await.expect("s");
        assert_eq!(
            (s[0].requests, s[0].tokens, s[1].requests, s[1].tokens),
            (100, 1000, 1, 5)
        );
    }

    #[tokio::test]
    async fn own_unsent_usage_is_in_every_snapshot_and_never_counted_twice() {
        let counted = Arc::new(Counted::default());
        let shared = BatchedCounters::new(counted.clone());
        counted
            .inner
            .add_usage("a", 2, 20)
            .await
            .expect("another instance");
        let first = shared.snapshot(&["a", "b"]).await.expect("snapshot");
        assert_eq!((first[0].requests, first[0].tokens), (2, 20));
        shared.add_usage("a", 1, 0).await.expect("add");
        shared.add_usage("a", 0, 7).await.expect("add");
        shared.add_usage("b", 1, 0).await.expect("add");
        let reused = shared.snapshot(&["a", "b"]).await.expect("snapshot");
        assert_eq!(counted.snapshots.load(Ordering::SeqCst), 1, "reused");
        assert_eq!(
            (reused[0].requests, reused[0].tokens, reused[1].requests),
            (3, 27, 1),
            "the reused snapshot counts this instance's unsent usage"
        );
        // A fresh one from the shared counters, before the flush: still counted.
        let other_order = shared.snapshot(&["b", "a"]).await.expect("snapshot");
        assert_eq!((other_order[0].requests, other_order[1].requests), (1, 3));

        // After the flush the shared counters hold it: counted once, reused or fresh.
        tokio::time::sleep(SNAPSHOT_REUSE * 2).await;
        let fresh = shared.snapshot(&["a", "b"]).await.expect("snapshot");
        assert_eq!(
            (fresh[0].requests, fresh[0].tokens, fresh[1].requests),
            (3, 27, 1)
        );
        let reused = shared.snapshot(&["a", "b"]).await.expect("snapshot");
        assert_eq!((reused[0].requests, reused[1].requests), (3, 1));
    }

    #[tokio::test]
    async fn snapshots_are_reused_briefly_and_a_cooldown_is_seen_at_once() {
        let counted = Arc::new(Counted::default());
        let shared = BatchedCounters::new(counted.clone());
        for _ in 0..10 {
            shared.snapshot(&["a", "b"]).await.expect("snapshot");
        }
        assert_eq!(
            counted.snapshots.load(Ordering::SeqCst),
            1,
            "one round trip for ten requests"
        );

        shared
            .cool_down("a", Duration::from_secs(30))
            .await
            .expect("cool");
        let after = shared.snapshot(&["a", "b"]).await.expect("snapshot");
        assert!(after[0].cooldown.is_some() && after[1].cooldown.is_none());
        assert_eq!(
            counted.snapshots.load(Ordering::SeqCst),
            2,
            "the cooldown dropped the reused snapshot"
        );

        tokio::time::sleep(SNAPSHOT_REUSE + Duration::from_millis(5)).await;
        shared.snapshot(&["a", "b"]).await.expect("snapshot");
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(
            counted.snapshots.load(Ordering::SeqCst),
            3,
            "asked again once past its reuse time"
        );
    }

    /// Past its reuse time a snapshot still answers at once while one background call
    /// fetches a fresh one; past the stale limit a request waits for the shared counters.
    #[tokio::test]
    async fn a_snapshot_past_its_reuse_time_answers_at_once_while_one_refresh_runs() {
        let counted = Arc::new(Counted::default());
        let shared = Arc::new(BatchedCounters::new(counted.clone()));
        counted.inner.add_usage("a", 4, 0).await.expect("add");
        shared.snapshot(&["a"]).await.expect("first");
        counted
            .inner
            .add_usage("a", 1, 0)
            .await
            .expect("another instance");
        counted.delay_ms.store(100, Ordering::SeqCst);
        tokio::time::sleep(SNAPSHOT_REUSE + Duration::from_millis(5)).await;

        let began = Instant::now();
        let calls: Vec<_> = (0..10)
            .map(|_| {
                let shared = shared.clone();
                tokio::spawn(async move { shared.snapshot(&["a"]).await.expect("snapshot") })
            })
            .collect();
        for call in calls {
            assert_eq!(
                call.await.expect("task")[0].requests,
                4,
                "the stale snapshot"
            );
        }
        assert!(
            began.elapsed() < Duration::from_millis(50),
            "no request waited on the slow counters: {:?}",
            began.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(
            counted.snapshots.load(Ordering::SeqCst),
            2,
            "one refresh for ten"
        );
        let fresh = shared.snapshot(&["a"]).await.expect("snapshot");
        assert_eq!(fresh[0].requests, 5, "the refreshed snapshot");

        // A refresh under way when a cooldown drops the snapshots is not kept.
        tokio::time::sleep(SNAPSHOT_REUSE + Duration::from_millis(5)).await;
        shared
            .snapshot(&["a"])
            .await
            .expect("stale, starts a refresh");
        shared
            .cool_down("a", Duration::from_secs(30))
            .await
            .expect("cool");
        tokio::time::sleep(Duration::from_millis(150)).await;
        counted.delay_ms.store(0, Ordering::SeqCst);
        let after = shared.snapshot(&["a"]).await.expect("snapshot");
        assert!(
            after[0].cooldown.is_some(),
            "the cooldown is seen: {after:?}"
        );
        assert_eq!(
            counted.snapshots.load(Ordering::SeqCst),
            4,
            "asked again after the cooldown"
        );

        // Past the stale limit (no request in between), the next request waits for a fresh one.
        counted
            .inner
            .add_usage("a", 1, 0)
            .await
            .expect("another instance");
        tokio::time::sleep(STALE_LIMIT + Duration::from_millis(5)).await;
        let late = shared.snapshot(&["a"]).await.expect("snapshot");
        assert_eq!(late[0].requests, 6);
        assert_eq!(counted.snapshots.load(Ordering::SeqCst), 5);
    }
}
