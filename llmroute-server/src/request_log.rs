//! The request-completed log line: one structured line per request, no prompt, no key.

use llmroute_core::events::{RequestRecord, RequestSink};

/// Writes each finished request as one `tracing` event at INFO (target `llmroute::request`).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogSink;

impl RequestSink for LogSink {
    fn record(&self, r: RequestRecord) {
        let usage = r.usage.as_ref();
        tracing::info!(
            target: "llmroute::request",
            request_id = %r.request_id,
            key_alias = r.key_alias.as_deref().unwrap_or("-"),
            model = %r.model,
            deployment = r.deployment.as_deref().unwrap_or("-"),
            upstream_model = r.upstream_model.as_deref().unwrap_or("-"),
            status = r.status,
            error = r.error_type.unwrap_or("-"),
            prompt_tokens = usage.map(|u| u.prompt_tokens).unwrap_or(0),
            cached_tokens = usage.map(|u| u.cached_tokens()).unwrap_or(0),
            completion_tokens = usage.map(|u| u.completion_tokens).unwrap_or(0),
            cost = r.cost,
            latency_ms = r.latency.as_secs_f64() * 1000.0,
            upstream_ms = r.upstream_time.as_secs_f64() * 1000.0,
            ttft_ms = r.time_to_first_token.map(|t| t.as_secs_f64() * 1000.0),
            attempts = r.attempts,
            cache_hit = r.cache_hit,
            stream = r.stream,
            upstream_request_id = r.upstream_request_id.as_deref().unwrap_or("-"),
            "request"
        );
    }
}
