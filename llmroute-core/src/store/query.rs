//! What queries take and return: pages, log filters, log entries and spend rows.

use std::time::SystemTime;

use serde::Serialize;

/// A page of a listing: `page` counts from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Page number, from 1.
    pub page: u32,
    /// Items per page (1..=1000).
    pub size: u32,
}

impl Default for Page {
    fn default() -> Self {
        Page { page: 1, size: 50 }
    }
}

impl Page {
    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        u64::from(self.page.max(1) - 1) * u64::from(self.limit())
    }
    /// Rows to return (clamped to 1..=1000).
    pub fn limit(&self) -> u32 {
        self.size.clamp(1, 1000)
    }
}

/// One page of items and how many there are in all.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paged<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Items in all pages.
    pub total: u64,
}

/// Which logs a query covers: a key (by hash) and a time range `[start, end)`.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// SHA-256 hex of a key.
    pub key_hash: Option<String>,
    /// Inclusive start.
    pub start: Option<SystemTime>,
    /// Exclusive end.
    pub end: Option<SystemTime>,
}

/// A stored request log, as queries return it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    /// Gateway request id.
    pub request_id: String,
    /// Arrival time (Unix milliseconds).
    pub started_at_ms: i64,
    /// SHA-256 hex of the key.
    pub key_hash: Option<String>,
    /// The key's alias.
    pub key_alias: Option<String>,
    /// Model group asked for.
    pub model: String,
    /// Deployment that answered.
    pub deployment: Option<String>,
    /// Model reported by the upstream.
    pub upstream_model: Option<String>,
    /// HTTP status returned.
    pub status: u16,
    /// Error label, when it failed.
    pub error_type: Option<String>,
    /// Input tokens (cached included).
    pub prompt_tokens: Option<u64>,
    /// Cached input tokens.
    pub cached_tokens: Option<u64>,
    /// Output tokens.
    pub completion_tokens: Option<u64>,
    /// Dollars.
    pub cost: f64,
    /// Total time in the gateway, ms.
    pub latency_ms: f64,
    /// Time waiting on upstreams, ms.
    pub upstream_ms: f64,
    /// Time to first token, ms (streams).
    pub ttft_ms: Option<f64>,
    /// Upstream attempts.
    pub attempts: u32,
    /// Served from the response cache.
    pub cache_hit: bool,
    /// Streamed.
    pub stream: bool,
    /// Upstream's request id.
    pub upstream_request_id: Option<String>,
}

/// Spend of one group (a key hash, a `YYYY-MM-DD` UTC day, or a model).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendRow {
    /// The key hash, day or model.
    pub group: String,
    /// Dollars.
    pub spend: f64,
    /// Requests logged.
    pub requests: u64,
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
}
