//! The fake's answers, built once at start in Azure's exact shapes, and its error bodies.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::HeaderValue;
use serde_json::{json, Value};

use super::FakeConfig;

/// Prepared answer bodies.
pub(crate) struct Canned {
    /// Stream events in order, each `data: …\n\n`, before the usage chunk.
    pub events: Vec<Bytes>,
    /// `data: {usage chunk}\n\n`.
    pub usage_event: Bytes,
    /// `data: [DONE]\n\n`.
    pub done_event: Bytes,
    /// The whole stream with the usage chunk.
    pub stream_with_usage: Bytes,
    /// The whole stream without it.
    pub stream_without_usage: Bytes,
    /// The non-streamed `chat.completion` body.
    pub completion: Bytes,
    /// `x-ratelimit-remaining-requests`, `x-ratelimit-remaining-tokens`, `x-ms-region`.
    pub headers: (HeaderValue, HeaderValue, HeaderValue),
    /// `created` of every answer (Unix seconds at start).
    pub created: u64,
}

/// The completion id every answer carries.
pub(crate) const COMPLETION_ID: &str = "chatcmpl-FakeAzure0000000000000000001";

pub(crate) fn severity_safe() -> Value {
    json!({
        "hate": {"filtered": false, "severity": "safe"},
        "self_harm": {"filtered": false, "severity": "safe"},
        "sexual": {"filtered": false, "severity": "safe"},
        "violence": {"filtered": false, "severity": "safe"}
    })
}

pub(crate) fn prompt_filter_results() -> Value {
    let mut results = severity_safe();
    results["jailbreak"] = json!({"filtered": false, "detected": false});
    json!([{"prompt_index": 0, "content_filter_results": results}])
}

/// `data: <json>\n\n`.
pub(crate) fn event(value: &Value) -> Vec<u8> {
    let mut out = b"data: ".to_vec();
    out.extend_from_slice(value.to_string().as_bytes());
    out.extend_from_slice(b"\n\n");
    out
}

impl Canned {
    pub(crate) fn build(cfg: &FakeConfig) -> Canned {
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let id = COMPLETION_ID;
        let words: Vec<&str> = cfg.response_text.split_inclusive(' ').collect();
        let words = if words.is_empty() { vec![""] } else { words };
        let n = if cfg.stream_chunks == 0 {
            words.len()
        } else {
            cfg.stream_chunks
        };
        let pieces: Vec<&str> = (0..n).map(|i| words[i % words.len()]).collect();
        let text: String = pieces.concat();
        let usage = usage(cfg, n as u64);
        let chunk = |choice: Value| chunk(created, &cfg.model, choice);
        let mut events = vec![annotation_event()];
        events.push(event(&chunk(json!({
            "content_filter_results": {},
            "delta": {"content": "", "refusal": null, "role": "assistant"},
            "finish_reason": null, "index": 0, "logprobs": null
        }))));
        for piece in &pieces {
            events.push(event(&chunk(json!({
                "content_filter_results": severity_safe(),
                "delta": {"content": piece},
                "finish_reason": null, "index": 0, "logprobs": null
            }))));
        }
        events.push(event(&chunk(json!({
            "content_filter_results": {}, "delta": {}, "finish_reason": "stop", "index": 0, "logprobs": null
        }))));
        let usage_event = usage_event(created, &cfg.model, usage.clone());
        let done_event = b"data: [DONE]\n\n".to_vec();
        let without: Vec<u8> = events
            .iter()
            .flatten()
            .chain(&done_event)
            .copied()
            .collect();
        let with: Vec<u8> = events
            .iter()
            .flatten()
            .chain(&usage_event)
            .chain(&done_event)
            .copied()
            .collect();
        let completion = json!({
            "choices": [{
                "content_filter_results": severity_safe(),
                "finish_reason": "stop", "index": 0, "logprobs": null,
                "message": {"content": text, "refusal": null, "role": "assistant"}
            }],
            "created": created, "id": id, "model": cfg.model, "object": "chat.completion",
            "prompt_filter_results": prompt_filter_results(),
            "system_fingerprint": "fp_fake",
            "usage": usage
        });
        Canned {
            events: events.into_iter().map(Bytes::from).collect(),
            usage_event: Bytes::from(usage_event),
            done_event: Bytes::from(done_event),
            stream_with_usage: Bytes::from(with),
            stream_without_usage: Bytes::from(without),
            completion: Bytes::from(completion.to_string()),
            headers: (
                HeaderValue::from(cfg.remaining_requests),
                HeaderValue::from(cfg.remaining_tokens),
                HeaderValue::from_str(&cfg.region).unwrap_or(HeaderValue::from_static("eastus")),
            ),
            created,
        }
    }
}

/// Azure's `usage` for `completion` tokens.
pub(crate) fn usage(cfg: &FakeConfig, completion: u64) -> Value {
    json!({
        "completion_tokens": completion,
        "completion_tokens_details": {"accepted_prediction_tokens": 0, "audio_tokens": 0, "reasoning_tokens": 0, "rejected_prediction_tokens": 0},
        "prompt_tokens": cfg.prompt_tokens,
        "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 0},
        "total_tokens": cfg.prompt_tokens + completion
    })
}

/// A `chat.completion.chunk` with one choice.
pub(crate) fn chunk(created: u64, model: &str, choice: Value) -> Value {
    json!({
        "choices": [choice], "created": created, "id": COMPLETION_ID, "model": model,
        "object": "chat.completion.chunk", "system_fingerprint": "fp_fake", "usage": null
    })
}

/// Azure's first event: prompt filter results, no choices, empty `id` and `object`.
pub(crate) fn annotation_event() -> Vec<u8> {
    event(&json!({
        "choices": [], "created": 0, "id": "", "model": "", "object": "",
        "prompt_filter_results": prompt_filter_results()
    }))
}

/// The usage chunk (`choices: []`), sent when `stream_options.include_usage` was asked.
pub(crate) fn usage_event(created: u64, model: &str, usage: Value) -> Vec<u8> {
    event(&json!({
        "choices": [], "created": created, "id": COMPLETION_ID, "model": model,
        "object": "chat.completion.chunk", "system_fingerprint": "fp_fake", "usage": usage
    }))
}

/// `{"error":{"code":…,"message":…}}`: Azure's gateway family.
pub(crate) fn gateway_error(code: &str, message: &str) -> Bytes {
    Bytes::from(json!({"error": {"code": code, "message": message}}).to_string())
}

/// OpenAI's family: `{"error":{"message","type","param","code"}}`.
pub(crate) fn openai_error(
    message: &str,
    kind: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Bytes {
    Bytes::from(
        json!({"error": {"message": message, "type": kind, "param": param, "code": code}})
            .to_string(),
    )
}

/// The content-filter 400 as the wire sends it (`innererror`, `content_filter_result`).
pub(crate) fn content_filter_error() -> Bytes {
    let mut result = severity_safe();
    result["hate"] = json!({"filtered": true, "severity": "high"});
    result["violence"] = json!({"filtered": true, "severity": "medium"});
    result["jailbreak"] = json!({"filtered": false, "detected": false});
    Bytes::from(
        json!({"error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
            "type": null, "param": "prompt", "code": "content_filter", "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": result}
        }})
        .to_string(),
    )
}

pub(crate) const UNAUTHORIZED: &str = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.";
pub(crate) const DEPLOYMENT_NOT_FOUND: &str = "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.";
