//! One deployment of a model group: its provider, its limits, and what this process
//! has observed about it (requests in flight, latency, the upstream's reported headroom).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::provider::{Provider, UpstreamMeta};

/// How long Azure's `x-ratelimit-remaining-*` values are trusted after they arrived.
/// Azure counts tokens per minute and requests in 10-second slices.
pub(crate) const REMAINING_REQUESTS_TTL: Duration = Duration::from_secs(10);
/// See [`REMAINING_REQUESTS_TTL`].
pub(crate) const REMAINING_TOKENS_TTL: Duration = Duration::from_secs(60);

/// Weight of a new sample in the latency moving average.
const EWMA_ALPHA: f64 = 0.3;

/// A deployment's limits and routing hints (LiteLLM's `litellm_params.rpm/tpm/weight/order`).
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentLimits {
    /// Stable id; `None` gives `<model>-<n>` (n counts the group's deployments from 0).
    pub id: Option<String>,
    /// Requests per minute this deployment may take.
    pub rpm: Option<u64>,
    /// Tokens per minute this deployment may take.
    pub tpm: Option<u64>,
    /// Relative weight for `simple-shuffle` (default 1).
    pub weight: f64,
    /// Priority tier, lower first (1 = e.g. PTU); `None` comes after every numbered tier.
    pub order: Option<u32>,
    /// Whole-request timeout for this deployment (else the router's).
    pub timeout: Option<Duration>,
    /// Time-to-first-chunk timeout for streams (else the router's).
    pub stream_timeout: Option<Duration>,
}

impl Default for DeploymentLimits {
    fn default() -> Self {
        DeploymentLimits {
            id: None,
            rpm: None,
            tpm: None,
            weight: 1.0,
            order: None,
            timeout: None,
            stream_timeout: None,
        }
    }
}

/// A deployment as listed by [`crate::router::Router::deployments`].
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentInfo {
    /// Stable id.
    pub id: String,
    /// The model group it serves.
    pub model_name: String,
    /// The provider's name (`azure/gpt4o-eastus`).
    pub provider: String,
    /// Priority tier.
    pub order: Option<u32>,
    /// Requests per minute limit.
    pub rpm: Option<u64>,
    /// Tokens per minute limit.
    pub tpm: Option<u64>,
}

/// A deployment with its provider and observed state.
pub(crate) struct Deployment {
    pub id: String,
    pub model_name: String,
    pub provider: Arc<dyn Provider>,
    pub limits: DeploymentLimits,
    pub stats: Arc<Stats>,
}

impl Deployment {
    pub fn info(&self) -> DeploymentInfo {
        DeploymentInfo {
            id: self.id.clone(),
            model_name: self.model_name.clone(),
            provider: self.provider.name().to_string(),
            order: self.limits.order,
            rpm: self.limits.rpm,
            tpm: self.limits.tpm,
        }
    }

    /// The priority tier as a sortable number.
    pub fn tier(&self) -> u32 {
        self.limits.order.unwrap_or(u32::MAX)
    }
}

/// What this process observed about a deployment.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    in_flight: AtomicU64,
    observed: Mutex<Observed>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Observed {
    latency_ewma: Option<f64>,
    remaining_requests: Option<(u64, Instant)>,
    remaining_tokens: Option<(u64, Instant)>,
}

impl Stats {
    fn observed(&self) -> std::sync::MutexGuard<'_, Observed> {
        self.observed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Requests sent and not finished (streams count until they end or are dropped).
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Marks one request in flight until the guard is dropped.
    pub fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    /// Recent latency in seconds (moving average), `None` before the first sample.
    pub fn latency(&self) -> Option<f64> {
        self.observed().latency_ewma
    }

    /// Adds a latency sample (whole answer, or time to first chunk for streams).
    pub fn record_latency(&self, took: Duration) {
        let sample = took.as_secs_f64();
        let mut o = self.observed();
        o.latency_ewma = Some(match o.latency_ewma {
            Some(avg) => avg + EWMA_ALPHA * (sample - avg),
            None => sample,
        });
    }

    /// Keeps the upstream's reported headroom.
    pub fn record_meta(&self, meta: &UpstreamMeta) {
        let now = Instant::now();
        let mut o = self.observed();
        if let Some(r) = meta.remaining_requests {
            o.remaining_requests = Some((r, now));
        }
        if let Some(t) = meta.remaining_tokens {
            o.remaining_tokens = Some((t, now));
        }
    }

    /// The upstream's last reported `(remaining requests, remaining tokens)`, while fresh.
    pub fn remaining(&self) -> (Option<u64>, Option<u64>) {
        let now = Instant::now();
        let o = self.observed();
        let fresh = |v: Option<(u64, Instant)>, ttl: Duration| {
            v.filter(|(_, at)| now.duration_since(*at) < ttl)
                .map(|(v, _)| v)
        };
        (
            fresh(o.remaining_requests, REMAINING_REQUESTS_TTL),
            fresh(o.remaining_tokens, REMAINING_TOKENS_TTL),
        )
    }
}

/// One request in flight on a deployment; dropping it ends the request.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Stats>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_counts_until_the_guard_is_dropped() {
        let stats = Arc::new(Stats::default());
        let first = stats.start();
        let second = stats.start();
        assert_eq!(stats.in_flight(), 2);
        drop(first);
        assert_eq!(stats.in_flight(), 1);
        drop(second);
        assert_eq!(stats.in_flight(), 0);
    }

    #[test]
    fn latency_is_a_moving_average_starting_at_the_first_sample() {
        let stats = Stats::default();
        assert_eq!(stats.latency(), None);
        stats.record_latency(Duration::from_millis(100));
        assert_eq!(stats.latency(), Some(0.1));
        stats.record_latency(Duration::from_millis(200));
        let avg = stats.latency().expect("measured");
        assert!((avg - 0.13).abs() < 1e-9, "{avg}");
    }

    #[tokio::test(start_paused = true)]
    async fn reported_headroom_goes_stale() {
        let stats = Stats::default();
        stats.record_meta(&UpstreamMeta {
            remaining_requests: Some(7),
            remaining_tokens: Some(9000),
            ..Default::default()
        });
        assert_eq!(stats.remaining(), (Some(7), Some(9000)));
        tokio::time::advance(REMAINING_REQUESTS_TTL).await;
        assert_eq!(stats.remaining(), (None, Some(9000)));
        tokio::time::advance(REMAINING_TOKENS_TTL).await;
        assert_eq!(stats.remaining(), (None, None));
    }
}
