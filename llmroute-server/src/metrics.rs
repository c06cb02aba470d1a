//! `/metrics`: Prometheus text, and the series the gateway keeps.
//!
//! Label values are low-cardinality by construction: routes are the route table's
//! patterns (`/v1/models/{id}`, never the raw path; `unmatched` for any other path),
//! model labels are configured model groups (`-` when the request names none or an
//! unknown one), error types come from [`llmroute_core::Error::label`].

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The label for a path no route matches.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The model label of a request that names no configured model group.
pub const NO_MODEL: &str = "-";

/// Route, model and status of a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route pattern, e.g. `/v1/chat/completions` or `/v1/models/{id}`.
    pub route: &'static str,
    /// Configured model group, or `-`.
    pub model: String,
    /// HTTP status.
    pub status: u16,
}

/// Route and model of a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// Route pattern.
    pub route: &'static str,
    /// Configured model group, or `-`.
    pub model: String,
}

/// A model group.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    /// Configured model group.
    pub model: String,
}

/// A deployment id.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeploymentLabels {
    /// Deployment id from the config.
    pub deployment: String,
}

/// Tokens of one kind for one model.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    /// Configured model group.
    pub model: String,
    /// `prompt`, `cached`, `completion`.
    pub kind: &'static str,
}

/// A failed upstream call of a deployment.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamErrorLabels {
    /// Deployment id.
    pub deployment: String,
    /// Error type ([`llmroute_core::Error::label`]).
    pub r#type: &'static str,
}

/// A named event counter (rejections, cache results...).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why.
    pub reason: &'static str,
}

fn latency_histogram() -> Histogram {
    // 50 µs .. ~105 s
    Histogram::new(exponential_buckets(0.00005, 2.0, 22))
}

fn overhead_histogram() -> Histogram {
    // 10 µs .. ~80 ms: the proxy's own time is small and worth seeing in detail.
    Histogram::new(exponential_buckets(0.00001, 2.0, 14))
}

/// Every series the server exports.
pub struct Metrics {
    registry: Registry,
    /// Requests by route, model and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Total time in the gateway, by route and model.
    pub request_duration: Family<RouteLabels, Histogram>,
    /// Time of each upstream call, by deployment.
    pub upstream_duration: Family<DeploymentLabels, Histogram>,
    /// The proxy's own time: total minus upstream wait.
    pub overhead: Histogram,
    /// Time to first token reaching the caller, by model.
    pub time_to_first_token: Family<ModelLabels, Histogram>,
    /// Tokens by model and kind.
    pub tokens: Family<TokenLabels, Counter>,
    /// Dollars by model.
    pub cost: Family<ModelLabels, Counter<f64, AtomicU64>>,
    /// Failed upstream calls by deployment and error type.
    pub upstream_errors: Family<UpstreamErrorLabels, Counter>,
    /// Requests answered after retrying upstream.
    pub retried_requests: Counter,
    /// Requests refused by the gateway's own limits (budget, rpm, tpm, ...).
    pub rejections: Family<ReasonLabels, Counter>,
    /// Streams whose caller went away before the end.
    pub client_disconnects: Counter,
    /// Requests in flight.
    pub in_flight: Gauge,
    /// Config reloads by result (`ok`, `failed`).
    pub reloads: Family<ReasonLabels, Counter>,
    extra: Vec<Arc<dyn ExtraMetrics>>,
}

/// Series owned by another component (store, cache), rendered with the rest.
pub trait ExtraMetrics: Send + Sync + 'static {
    /// Appends Prometheus text lines (with `# HELP` / `# TYPE`).
    fn render(&self, out: &mut String);
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

impl Metrics {
    /// Registers every series; `extra` components render their own.
    pub fn new(extra: Vec<Arc<dyn ExtraMetrics>>) -> Self {
        let mut registry = Registry::with_prefix("llmroute");
        let requests = Family::default();
        registry.register(
            "requests",
            "Requests by route, model and status",
            requests.clone(),
        );
        let request_duration = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "request_duration_seconds",
            "Total time in the gateway, by route and model (streams: until their last chunk)",
            request_duration.clone(),
        );
        let upstream_duration = Family::<DeploymentLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "upstream_duration_seconds",
            "Time of each upstream call, by deployment (streams: until their last chunk)",
            upstream_duration.clone(),
        );
        let overhead = overhead_histogram();
        registry.register(
            "overhead_seconds",
            "The proxy's own time per request: total minus time waiting on upstreams",
            overhead.clone(),
        );
        let time_to_first_token = Family::<ModelLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "time_to_first_token_seconds",
            "Time until the first chunk reached the caller",
            time_to_first_token.clone(),
        );
        let tokens = Family::default();
        registry.register("tokens", "Tokens by model and kind", tokens.clone());
        let cost = Family::default();
        registry.register("cost_dollars", "Spend in US dollars by model", cost.clone());
        let upstream_errors = Family::default();
        registry.register(
            "upstream_errors",
            "Failed upstream calls by deployment and error type, also those a retry or fallback recovered from",
            upstream_errors.clone(),
        );
        let retried_requests = Counter::default();
        registry.register(
            "retried_requests",
            "Requests that needed more than one upstream attempt",
            retried_requests.clone(),
        );
        let rejections = Family::default();
        registry.register(
            "rejections",
            "Requests refused by the gateway's own limits",
            rejections.clone(),
        );
        let client_disconnects = Counter::default();
        registry.register(
            "client_disconnects",
            "Streams whose caller went away before the end",
            client_disconnects.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "in_flight_requests",
            "Requests being served",
            in_flight.clone(),
        );
        let reloads = Family::default();
        registry.register(
            "config_reloads",
            "Config reloads by result",
            reloads.clone(),
        );
        Metrics {
            registry,
            requests,
            request_duration,
            upstream_duration,
            overhead,
            time_to_first_token,
            tokens,
            cost,
            upstream_errors,
            retried_requests,
            rejections,
            client_disconnects,
            in_flight,
            reloads,
            extra,
        }
    }

    /// Adds a component's series.
    pub fn add_extra(&mut self, extra: Arc<dyn ExtraMetrics>) {
        self.extra.push(extra);
    }

    /// Counts one finished request and observes its total time.
    pub fn finish_request(&self, route: &'static str, model: &str, status: u16, elapsed: Duration) {
        let labels = RequestLabels {
            route,
            model: model.to_string(),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.request_duration
            .get_or_create(&RouteLabels {
                route,
                model: labels.model,
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Observes one upstream call's time and, when it failed, counts its error type.
    pub fn upstream_call(&self, deployment: &str, error: Option<&'static str>, elapsed: Duration) {
        let deployment = deployment.to_string();
        if let Some(r#type) = error {
            self.upstream_errors
                .get_or_create(&UpstreamErrorLabels {
                    deployment: deployment.clone(),
                    r#type,
                })
                .inc();
        }
        self.upstream_duration
            .get_or_create(&DeploymentLabels { deployment })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one rejection by the gateway's own limits.
    pub fn reject(&self, reason: &'static str) {
        self.rejections
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Records the time spent in the proxy itself.
    pub fn observe_overhead(&self, total: Duration, upstream: Duration) {
        self.overhead
            .observe(total.saturating_sub(upstream).as_secs_f64());
    }

    /// The Prometheus text of every series.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.push_str("# error encoding metrics\n");
        }
        if out.ends_with("# EOF\n") {
            out.truncate(out.len() - "# EOF\n".len());
        }
        for extra in &self.extra {
            extra.render(&mut out);
        }
        out.push_str("# EOF\n");
        out
    }
}
