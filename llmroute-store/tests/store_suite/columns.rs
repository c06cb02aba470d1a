//! The request-log columns of the storage suite: every field written comes back.

use std::sync::Arc;
use std::time::Duration;

use llmroute_core::events::RequestRecord;
use llmroute_core::types::{PromptTokensDetails, Usage};
use llmroute_store::{LogEntry, LogFilter, Page, Store};

use super::ms;

/// Every column of a request log comes back as written: one row with each field set to
/// a value of its own (none the default), one with every optional field empty.
pub async fn logs_read_back_every_column(store: Arc<dyn Store>) {
    let full = RequestRecord {
        request_id: "req-every-column".into(),
        started_at: ms(1_700_000_123_456),
        key_hash: Some("hash-of-the-key".into()),
        key_alias: Some("team-b".into()),
        model: "gpt-4o-mini".into(),
        deployment: Some("westeurope-mini-2".into()),
        upstream_model: Some("gpt-4o-mini-2024-07-18".into()),
        status: 429,
        error_type: Some("upstream_rate_limited"),
        usage: Some(Usage {
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: 1024,
                ..Default::default()
            }),
            ..Usage::new(1234, 567)
        }),
        cost: 0.000_375,
        // Whole binary fractions of a second, so the milliseconds are exact.
        latency: Duration::from_millis(2500),
        upstream_time: Duration::from_millis(2250),
        time_to_first_token: Some(Duration::from_micros(812_500)),
        attempts: 3,
        cache_hit: true,
        stream: true,
        upstream_request_id: Some("apim-req-42".into()),
    };
    let bare = RequestRecord {
        request_id: "req-bare".into(),
        started_at: ms(1_700_000_000_001),
        key_hash: None,
        key_alias: None,
        model: "gpt-4o".into(),
        deployment: None,
        upstream_model: None,
        status: 503,
        error_type: None,
        usage: None,
        cost: 0.0,
        latency: Duration::from_millis(1),
        upstream_time: Duration::ZERO,
        time_to_first_token: None,
        attempts: 0,
        cache_hit: false,
        // Unlike cache_hit, so the two columns cannot be read in each other's place.
        stream: true,
        upstream_request_id: None,
    };
    // The columns the store converts (times to ms, usage to token counts) are stated
    // here in the row's own units; the rest must come back just as written.
    let expected_full = LogEntry {
        started_at_ms: 1_700_000_123_456,
        prompt_tokens: Some(1234),
        cached_tokens: Some(1024),
        completion_tokens: Some(567),
        latency_ms: 2500.0,
        upstream_ms: 2250.0,
        ttft_ms: Some(812.5),
        ..as_written(&full)
    };
    let expected_bare = LogEntry {
        started_at_ms: 1_700_000_000_001,
        prompt_tokens: None,
        cached_tokens: None,
        completion_tokens: None,
        latency_ms: 1.0,
        upstream_ms: 0.0,
        ttft_ms: None,
        ..as_written(&bare)
    };
    assert_eq!(store.insert_logs(&[full, bare]).await.unwrap(), 2);
    let rows = store
        .recent_logs(&LogFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(rows, vec![expected_full, expected_bare]);
}

/// The row `r` should come back as, in the columns stored just as written. The columns
/// the store converts are left for the caller to state: NaN times (equal to nothing, so
/// one left unstated fails the comparison), no token counts, a start of i64::MIN.
fn as_written(r: &RequestRecord) -> LogEntry {
    LogEntry {
        request_id: r.request_id.clone(),
        started_at_ms: i64::MIN,
        key_hash: r.key_hash.clone(),
        key_alias: r.key_alias.clone(),
        model: r.model.clone(),
        deployment: r.deployment.clone(),
        upstream_model: r.upstream_model.clone(),
        status: r.status,
        error_type: r.error_type.map(str::to_string),
        prompt_tokens: None,
        cached_tokens: None,
        completion_tokens: None,
        cost: r.cost,
        latency_ms: f64::NAN,
        upstream_ms: f64::NAN,
        ttft_ms: Some(f64::NAN),
        attempts: r.attempts,
        cache_hit: r.cache_hit,
        stream: r.stream,
        upstream_request_id: r.upstream_request_id.clone(),
    }
}
