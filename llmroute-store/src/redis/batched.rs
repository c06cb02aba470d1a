//! The shared counters as the router should use them: [`BatchedCounters`] keeps the
//! Redis round trips off most requests (a snapshot reused briefly, usage sent in
//! batches), while failures and cooldowns still go straight through.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use llmroute_core::router::{Counters, UsageSnapshot};

/// How long a snapshot of the shared counters is reused before Redis is asked again.
pub const SNAPSHOT_REUSE: Duration = Duration::from_millis(50);

/// The shared counters as the router uses them, without a Redis round trip on most
/// requests: usage is added up here and sent once per deployment every
/// [`SNAPSHOT_REUSE`] by a background task; `snapshot` is reused for up to
/// [`SNAPSHOT_REUSE`] (with cooldowns aged by the time passed); failures and cooldowns
/// go straight through and drop the reused snapshots, so this instance sees its own at
/// once and other instances within [`SNAPSHOT_REUSE`].
pub struct BatchedCounters {
    inner: Arc<dyn Counters>,
    recent: Mutex<HashMap<String, (Instant, Vec<UsageSnapshot>)>>,
    pending: Arc<Mutex<HashMap<String, (u64, u64)>>>,
    flush_scheduled: Arc<AtomicBool>,
}

impl BatchedCounters {
    /// Wraps the shared counters (the Redis ones).
    pub fn new(inner: Arc<dyn Counters>) -> Self {
        BatchedCounters {
            inner,
            recent: Mutex::new(HashMap::new()),
            pending: Arc::new(Mutex::new(HashMap::new())),
            flush_scheduled: Arc::new(AtomicBool::new(false)),
        }
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Vec<UsageSnapshot>)>> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends the usage added up since the last flush, one call per deployment.
    fn schedule_flush(&self) {
        if self.flush_scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let (inner, pending, scheduled) = (
            self.inner.clone(),
            self.pending.clone(),
            self.flush_scheduled.clone(),
        );
        tokio::spawn(async move {
            tokio::time::sleep(SNAPSHOT_REUSE).await;
            scheduled.store(false, Ordering::Release);
            let batch: Vec<(String, (u64, u64))> = pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain()
                .collect();
            for (deployment, (requests, tokens)) in batch {
                if let Err(e) = inner.add_usage(&deployment, requests, tokens).await {
                    tracing::debug!(deployment = %deployment, error = %e, "counting usage in Redis failed");
                }
            }
        });
    }
}

#[async_trait::async_trait]
impl Counters for BatchedCounters {
    async fn snapshot(&self, deployments: &[&str]) -> llmroute_core::Result<Vec<UsageSnapshot>> {
        let key = deployments.join("\n");
        if let Some((taken, snapshot)) = self.recent().get(&key) {
            let age = taken.elapsed();
            if age < SNAPSHOT_REUSE {
                let aged = snapshot
                    .iter()
                    .map(|s| UsageSnapshot {
                        cooldown: s
                            .cooldown
                            .and_then(|c| c.checked_sub(age))
                            .filter(|c| !c.is_zero()),
                        ..*s
                    })
                    .collect();
                return Ok(aged);
            }
        }
        let fresh = self.inner.snapshot(deployments).await?;
        self.recent().insert(key, (Instant::now(), fresh.clone()));
        Ok(fresh)
    }

    async fn add_usage(
        &self,
        deployment: &str,
        requests: u64,
        tokens: u64,
    ) -> llmroute_core::Result<()> {
        {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let entry = pending.entry(deployment.to_string()).or_default();
            entry.0 += requests;
            entry.1 += tokens;
        }
        self.schedule_flush();
        Ok(())
    }

    async fn add_failure(&self, deployment: &str, window: Duration) -> llmroute_core::Result<u64> {
        self.recent().clear();
        self.inner.add_failure(deployment, window).await
    }

    async fn cool_down(&self, deployment: &str, duration: Duration) -> llmroute_core::Result<()> {
        let done = self.inner.cool_down(deployment, duration).await;
        self.recent().clear();
        done
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;

    /// In-process counters that count the snapshots asked of them (standing for Redis).
    #[derive(Default)]
    struct Counted {
        inner: llmroute_core::router::InMemoryCounters,
        snapshots: AtomicU64,
    }

    #[async_trait::async_trait]
    impl Counters for Counted {
        async fn snapshot(&self, d: &[&str]) -> llmroute_core::Result<Vec<UsageSnapshot>> {
            self.snapshots.fetch_add(1, Ordering::SeqCst);
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
        assert_eq!(
            counted.snapshots.load(Ordering::SeqCst),
            3,
            "asked again once stale"
        );
    }
}
