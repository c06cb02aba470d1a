//! The record of a finished request, and the sink it goes to off the hot path.

use std::time::{Duration, SystemTime};

use crate::types::Usage;

/// Everything worth keeping about one request, once it is done (success or failure).
/// Holds no prompt text and no key, only the key's hash.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// The gateway's request id (also sent as `x-request-id`).
    pub request_id: String,
    /// When the request arrived.
    pub started_at: SystemTime,
    /// SHA-256 hex of the caller's key.
    pub key_hash: Option<String>,
    /// The key's alias, if it has one.
    pub key_alias: Option<String>,
    /// The model group the caller asked for.
    pub model: String,
    /// The deployment that answered (or failed last).
    pub deployment: Option<String>,
    /// The model the upstream reported (`gpt-4o-2024-08-06`).
    pub upstream_model: Option<String>,
    /// HTTP status returned to the caller.
    pub status: u16,
    /// Error label ([`crate::Error::label`]) when it failed.
    pub error_type: Option<&'static str>,
    /// Tokens used, when known (for streams: from the final usage chunk).
    pub usage: Option<Usage>,
    /// Cost in dollars (0 for a cache hit).
    pub cost: f64,
    /// Total time in the gateway.
    pub latency: Duration,
    /// Time spent waiting on upstreams.
    pub upstream_time: Duration,
    /// Time until the first chunk reached the caller (streams).
    pub time_to_first_token: Option<Duration>,
    /// Upstream attempts made (0 for a cache hit).
    pub attempts: u32,
    /// Served from the response cache.
    pub cache_hit: bool,
    /// A streamed request.
    pub stream: bool,
    /// The upstream's request id (`apim-request-id`).
    pub upstream_request_id: Option<String>,
}

/// Where finished requests go. `record` must not block: implementations queue the
/// record and write it in the background.
pub trait RequestSink: Send + Sync + 'static {
    /// Takes one finished request.
    fn record(&self, record: RequestRecord);
}

/// A sink that fans out to several sinks.
pub struct FanOut(pub Vec<std::sync::Arc<dyn RequestSink>>);

impl RequestSink for FanOut {
    fn record(&self, record: RequestRecord) {
        if let Some((last, rest)) = self.0.split_last() {
            for sink in rest {
                sink.record(record.clone());
            }
            last.record(record);
        }
    }
}
