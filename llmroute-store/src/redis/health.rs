//! Outage handling shared by every Redis-backed component: a [`Gate`] remembers that
//! Redis failed, lets one call try it again at most every `retry_every` (so an outage
//! adds no latency to the other requests), warns once per outage and then at most every
//! 30 s, and counts errors and fallbacks for `/metrics` ([`RedisStats`]).

use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::pool::RedisFailure;

/// Longest silence between two warnings while Redis stays down.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// The health of Redis as one component (`counters`, `rate_limiter`, `budgets`,
/// `cache`) sees it.
#[derive(Debug)]
pub struct Gate {
    component: &'static str,
    fallback: &'static str,
    epoch: Instant,
    retry_every_ms: u64,
    down: AtomicBool,
    retry_at_ms: AtomicU64,
    last_warn_ms: AtomicU64,
    errors: AtomicU64,
    fallbacks: AtomicU64,
}

impl Gate {
    /// A gate for `component`; `fallback` says what serves while Redis is down (for the log).
    pub fn new(component: &'static str, fallback: &'static str, retry_every: Duration) -> Self {
        Gate {
            component,
            fallback,
            epoch: Instant::now(),
            retry_every_ms: retry_every.as_millis().max(1) as u64,
            down: AtomicBool::new(false),
            retry_at_ms: AtomicU64::new(0),
            last_warn_ms: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
        }
    }

    /// The component's name (the metric label).
    pub fn component(&self) -> &'static str {
        self.component
    }

    /// Whether Redis is currently considered down.
    pub fn is_down(&self) -> bool {
        self.down.load(Relaxed)
    }

    /// Redis errors seen.
    pub fn errors(&self) -> u64 {
        self.errors.load(Relaxed)
    }

    /// Calls served by the in-process fallback.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Relaxed)
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Whether this call should use Redis: always while it is up; while it is down,
    /// one call per `retry_every`.
    pub fn should_try(&self) -> bool {
        if !self.down.load(Relaxed) {
            return true;
        }
        let now = self.now_ms();
        let at = self.retry_at_ms.load(Relaxed);
        now >= at
            && self
                .retry_at_ms
                .compare_exchange(at, now + self.retry_every_ms, Relaxed, Relaxed)
                .is_ok()
    }

    /// Marks Redis up after a call that worked (logs the recovery once).
    pub fn succeeded(&self) {
        if self.down.swap(false, Relaxed) {
            tracing::info!(
                component = self.component,
                "Redis answers again: {} shared through Redis again",
                self.component
            );
        }
    }

    /// Marks Redis down after `failure`; warns on the first failure of an outage, then
    /// at most every 30 s.
    pub fn failed(&self, failure: &RedisFailure) {
        self.errors.fetch_add(1, Relaxed);
        let now = self.now_ms();
        self.retry_at_ms.store(now + self.retry_every_ms, Relaxed);
        let was_down = self.down.swap(true, Relaxed);
        let last = self.last_warn_ms.load(Relaxed);
        let due = !was_down || now.saturating_sub(last) >= WARN_EVERY.as_millis() as u64;
        if due
            && self
                .last_warn_ms
                .compare_exchange(last, now.max(1), Relaxed, Relaxed)
                .is_ok()
        {
            tracing::warn!(
                component = self.component,
                error = %failure,
                fallbacks = self.fallbacks(),
                "Redis unavailable: {} served by {} until it answers again (tried again at most every {} ms); requests are not failed",
                self.component,
                self.fallback,
                self.retry_every_ms
            );
        }
    }

    /// Counts one call served by the fallback.
    pub fn fell_back(&self) {
        self.fallbacks.fetch_add(1, Relaxed);
    }

    /// Runs `redis` when the gate allows it, else (or when it fails) `local`.
    pub async fn call<T>(
        &self,
        redis: impl Future<Output = Result<T, RedisFailure>>,
        local: impl Future<Output = T>,
    ) -> T {
        if self.should_try() {
            match redis.await {
                Ok(v) => {
                    self.succeeded();
                    return v;
                }
                Err(f) => self.failed(&f),
            }
        }
        self.fell_back();
        local.await
    }
}

/// The gates of every Redis-backed component, for `/metrics`.
#[derive(Debug, Default, Clone)]
pub struct RedisStats {
    gates: Vec<Arc<Gate>>,
}

impl RedisStats {
    /// Stats over these gates.
    pub fn new(gates: Vec<Arc<Gate>>) -> Self {
        RedisStats { gates }
    }

    /// The gate of `component`, if any.
    pub fn gate(&self, component: &str) -> Option<&Arc<Gate>> {
        self.gates.iter().find(|g| g.component == component)
    }

    /// Appends Prometheus text: `llmroute_redis_up`, `llmroute_redis_errors_total` and
    /// `llmroute_redis_fallbacks_total`, each by `component`.
    pub fn render_prometheus(&self, out: &mut String) {
        type Family = (&'static str, &'static str, &'static str, fn(&Gate) -> u64);
        let families: [Family; 3] = [
            (
                "llmroute_redis_up",
                "gauge",
                "1 while Redis answers for the component, 0 while it is served in process.",
                |g| u64::from(!g.is_down()),
            ),
            (
                "llmroute_redis_errors_total",
                "counter",
                "Redis calls that failed or timed out, by component.",
                Gate::errors,
            ),
            (
                "llmroute_redis_fallbacks_total",
                "counter",
                "Calls served by the in-process fallback because Redis was down, by component.",
                Gate::fallbacks,
            ),
        ];
        for (name, kind, help, value) in families {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for g in &self.gates {
                let _ = writeln!(out, "{name}{{component=\"{}\"}} {}", g.component, value(g));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure() -> RedisFailure {
        RedisFailure {
            target: "127.0.0.1:1".into(),
            action: "testing",
            reason: "refused".into(),
        }
    }

    #[tokio::test]
    async fn falls_back_and_retries_at_most_once_per_period() {
        let g = Gate::new("counters", "in-process counters", Duration::from_millis(50));
        let r: u32 = g.call(async { Err(failure()) }, async { 2 }).await;
        assert_eq!(r, 2);
        assert!(g.is_down());
        // Within the period Redis is not tried at all.
        let r: u32 = g
            .call(async { panic!("Redis tried while backing off") }, async {
                3
            })
            .await;
        assert_eq!((r, g.fallbacks(), g.errors()), (3, 2, 1));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(g.should_try());
        assert!(!g.should_try(), "only one caller probes per period");
        g.succeeded();
        let r: u32 = g.call(async { Ok(1) }, async { 2 }).await;
        assert_eq!(r, 1);
        let mut text = String::new();
        RedisStats::new(vec![Arc::new(g)]).render_prometheus(&mut text);
        assert!(
            text.contains("llmroute_redis_fallbacks_total{component=\"counters\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("llmroute_redis_up{component=\"counters\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE llmroute_redis_errors_total counter"),
            "{text}"
        );
    }
}
