//! What happens when a request ends: cost, metrics, the log line and the request record.
//!
//! A [`Ledger`] is opened when a chat request is authenticated and closed exactly once,
//! by the handler for whole responses or by the stream body when a stream ends — also
//! when the caller went away mid-stream, so usage known so far is still recorded.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use llmroute_core::auth::Principal;
use llmroute_core::events::RequestRecord;
use llmroute_core::router::AttemptFailure;
use llmroute_core::types::Usage;

use crate::gateway::{Gateway, Routing};
use crate::metrics::{Metrics, ModelLabels, TokenLabels};
use crate::spending::Spending;

/// How a request ended.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// HTTP status sent to the caller.
    pub status: u16,
    /// Error label when it failed (also for a stream that failed after the 200).
    pub error: Option<&'static str>,
    /// Whether the error came from an upstream.
    pub upstream_error: bool,
    /// Tokens used, when known.
    pub usage: Option<Usage>,
    /// The model the upstream reported.
    pub upstream_model: Option<String>,
    /// The deployment that answered or failed last.
    pub deployment: Option<String>,
    /// Upstream attempts.
    pub attempts: u32,
    /// The attempts that failed, in order (the router's [`AttemptFailure`]s). When
    /// `attempts` is larger, the last attempt answered.
    pub failures: Vec<AttemptFailure>,
    /// Time waiting on upstreams.
    pub upstream_time: Duration,
    /// Of `upstream_time`, the waits between attempts (backoff, cooldown).
    pub waited: Duration,
    /// Time until the first chunk reached the caller.
    pub time_to_first_token: Option<Duration>,
    /// Served from the response cache.
    pub cache_hit: bool,
    /// Upstream's request id.
    pub upstream_request_id: Option<String>,
    /// The caller went away before the end.
    pub client_gone: bool,
    /// A cheap estimate of the prompt's tokens, charged when a stream is cut before its
    /// usage chunk (Azure bills the prompt anyway).
    pub prompt_estimate: u64,
}

/// An open request, closed once with [`Ledger::close`]. Dropped unclosed (the caller
/// went away while the gateway waited on the upstream), it records status 499.
pub struct Ledger {
    inner: Option<Open>,
}

struct Open {
    gateway: Arc<Gateway>,
    routing: Arc<Routing>,
    request_id: String,
    route: &'static str,
    started: Instant,
    started_at: SystemTime,
    principal: Option<Principal>,
    model: String,
    stream: bool,
    spending: Option<Spending>,
}

impl Ledger {
    /// Opens the ledger of a request.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        gateway: Arc<Gateway>,
        routing: Arc<Routing>,
        request_id: String,
        route: &'static str,
        started: Instant,
        started_at: SystemTime,
        principal: Option<Principal>,
        model: String,
        stream: bool,
    ) -> Self {
        Ledger {
            inner: Some(Open {
                gateway,
                routing,
                request_id,
                route,
                started,
                started_at,
                principal,
                model,
                stream,
                spending: None,
            }),
        }
    }

    /// The key limits this request was admitted under, settled when it closes.
    pub fn attach(&mut self, spending: Option<Spending>) {
        if let Some(open) = self.inner.as_mut() {
            open.spending = spending;
        }
    }

    /// When the request arrived.
    pub fn started(&self) -> Instant {
        self.inner
            .as_ref()
            .map(|o| o.started)
            .unwrap_or_else(Instant::now)
    }

    /// Records the end of the request (metrics, the log line, the request record) and
    /// returns its cost: the usage priced on its deployment, 0 for a cache hit.
    pub fn close(mut self, outcome: Outcome) -> f64 {
        self.inner.take().map_or(0.0, |open| open.close(outcome))
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if let Some(open) = self.inner.take() {
            open.close(Outcome {
                status: 499,
                error: Some("client_disconnected"),
                client_gone: true,
                ..Outcome::default()
            });
        }
    }
}

/// Each upstream call of a request: the failed attempts, then the one that answered
/// (its time is what the request waited on upstreams minus the failed calls and the
/// waits between them; for a stream, until its end). An answer that failed after it
/// began (a stream cut) counts as a failed call.
fn upstream_calls(m: &Metrics, outcome: &Outcome) {
    let mut failed_time = Duration::ZERO;
    for failure in &outcome.failures {
        failed_time += failure.elapsed;
        m.upstream_call(
            &failure.deployment,
            Some(failure.error.label()),
            failure.elapsed,
        );
    }
    let answered = outcome.attempts as usize > outcome.failures.len();
    if let Some(deployment) = outcome.deployment.as_ref().filter(|_| answered) {
        let own = outcome
            .upstream_time
            .saturating_sub(outcome.waited)
            .saturating_sub(failed_time);
        let error = outcome.error.filter(|_| outcome.upstream_error);
        m.upstream_call(deployment, error, own);
    }
}

impl Open {
    fn cost_of(&self, outcome: &Outcome) -> f64 {
        match &outcome.usage {
            Some(usage) if !outcome.cache_hit => self.routing.prices.cost(
                outcome.deployment.as_deref(),
                outcome.upstream_model.as_deref().unwrap_or(&self.model),
                usage,
            ),
            _ => 0.0,
        }
    }

    fn close(mut self, outcome: Outcome) -> f64 {
        let latency = self.started.elapsed();
        let cost = self.cost_of(&outcome);
        if let Some(spending) = self.spending.take() {
            spending.settle(cost, outcome.usage.as_ref());
        }
        let m = &self.gateway.metrics;
        // Opened only for admitted requests, so the model is a configured group
        // (a bounded label set).
        let model_label = self.model.clone();
        m.finish_request(self.route, &model_label, outcome.status, latency);
        upstream_calls(m, &outcome);
        if !self.stream && outcome.attempts > 0 {
            m.observe_overhead(latency, outcome.upstream_time);
        }
        if outcome.attempts > 1 {
            m.retried_requests.inc();
        }
        if outcome.client_gone {
            m.client_disconnects.inc();
        }
        if let Some(ttft) = outcome.time_to_first_token {
            m.time_to_first_token
                .get_or_create(&ModelLabels {
                    model: model_label.clone(),
                })
                .observe(ttft.as_secs_f64());
        }
        if let Some(u) = &outcome.usage {
            let cached = u.cached_tokens();
            for (kind, n) in [
                ("prompt", u.prompt_tokens),
                ("cached", cached),
                ("completion", u.completion_tokens),
            ] {
                if n > 0 {
                    m.tokens
                        .get_or_create(&TokenLabels {
                            model: model_label.clone(),
                            kind,
                        })
                        .inc_by(n);
                }
            }
        }
        if cost > 0.0 {
            m.cost
                .get_or_create(&ModelLabels { model: model_label })
                .inc_by(cost);
        }
        let record = RequestRecord {
            request_id: self.request_id,
            started_at: self.started_at,
            key_hash: self.principal.as_ref().map(|p| p.key_hash.clone()),
            key_alias: self
                .principal
                .as_ref()
                .and_then(|p| p.alias().map(str::to_string)),
            model: self.model,
            deployment: outcome.deployment,
            upstream_model: outcome.upstream_model,
            status: outcome.status,
            error_type: outcome.error,
            usage: outcome.usage,
            cost,
            latency,
            upstream_time: outcome.upstream_time,
            time_to_first_token: outcome.time_to_first_token,
            attempts: outcome.attempts,
            cache_hit: outcome.cache_hit,
            stream: self.stream,
            upstream_request_id: outcome.upstream_request_id,
        };
        self.gateway.sink.record(record);
        cost
    }
}
