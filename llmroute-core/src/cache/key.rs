//! The cache key: SHA-256 over the model group, the messages and every parameter that can
//! change the answer, written in a canonical form so that field order never matters.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::types::ChatRequest;

/// Top-level request fields left out of the key: they do not change the answer
/// (`model` is replaced by the model group the router resolved it to).
pub const IGNORED_FIELDS: &[&str] = &[
    "model",
    "user",
    "stream",
    "stream_options",
    "metadata",
    "litellm_metadata",
    "cache",
];

/// Version tag hashed first, so a change of the key's definition never serves old entries.
const KEY_VERSION: &[u8] = b"llmroute-cache-key-v1\0";

/// The cache key of `req` sent to `model_group`: `<namespace>:<sha256 hex>`, or only the
/// hex digest when `namespace` is empty.
///
/// Hashed: the model group, the messages, and every other field of the request —
/// temperature, top_p, n, stop, max tokens, penalties, logit_bias, seed, tools,
/// tool_choice, response_format, logprobs, and fields llmroute does not model (they are
/// passed upstream, so they may change the answer). Not hashed: [`IGNORED_FIELDS`] and
/// fields set to `null`. Object keys are sorted, so two bodies that differ only in field
/// order share a key.
pub fn cache_key(model_group: &str, req: &ChatRequest, namespace: &str) -> String {
    let mut h = Sha256::new();
    h.update(KEY_VERSION);
    write_str(&mut h, model_group);
    match serde_json::to_value(req) {
        Ok(Value::Object(mut fields)) => {
            fields.retain(|k, v| !v.is_null() && !IGNORED_FIELDS.contains(&k.as_str()));
            write_value(&mut h, &Value::Object(fields));
        }
        // Not reachable for a parsed request; hashing its debug form keeps the key
        // specific to the request instead of sharing one key between such requests.
        Ok(other) => write_value(&mut h, &other),
        Err(_) => write_str(&mut h, &format!("{req:?}")),
    }
    let digest = hex::encode(h.finalize());
    if namespace.is_empty() {
        digest
    } else {
        format!("{namespace}:{digest}")
    }
}

/// Strings are length-prefixed so that no two different values write the same bytes.
fn write_str(h: &mut Sha256, s: &str) {
    h.update((s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

fn write_value(h: &mut Sha256, v: &Value) {
    match v {
        Value::Null => h.update(b"n"),
        Value::Bool(true) => h.update(b"t"),
        Value::Bool(false) => h.update(b"f"),
        Value::Number(n) => {
            h.update(b"#");
            write_str(h, &n.to_string());
        }
        Value::String(s) => {
            h.update(b"s");
            write_str(h, s);
        }
        Value::Array(items) => {
            h.update(b"[");
            h.update((items.len() as u64).to_le_bytes());
            for item in items {
                write_value(h, item);
            }
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            h.update(b"{");
            h.update((keys.len() as u64).to_le_bytes());
            for k in keys {
                write_str(h, k);
                write_value(h, &map[k.as_str()]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(body: Value) -> ChatRequest {
        serde_json::from_value(body).expect("a valid request")
    }

    fn base() -> Value {
        json!({
            "model": "gpt-4o",
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        })
    }

    fn key_with(field: &str, value: Value) -> String {
        let mut body = base();
        body[field] = value;
        cache_key("gpt-4o", &req(body), "")
    }

    #[test]
    fn field_order_does_not_change_the_key() {
        let a = req(json!({
            "model": "gpt-4o", "temperature": 0.2, "seed": 7,
            "messages": [{"role": "user", "content": "hi", "name": "x"}],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "number"}}}}}],
            "x_vendor": {"b": 1, "a": 2}
        }));
        let b = req(json!({
            "x_vendor": {"a": 2, "b": 1},
            "tools": [{"function": {"parameters": {"properties": {"b": {"type": "number"}, "a": {"type": "string"}}, "type": "object"}, "name": "f"}, "type": "function"}],
            "messages": [{"name": "x", "content": "hi", "role": "user"}],
            "seed": 7, "temperature": 0.2, "model": "gpt-4o"
        }));
        assert_eq!(cache_key("g", &a, "ns"), cache_key("g", &b, "ns"));
        assert_eq!(cache_key("g", &a, ""), cache_key("g", &a, ""));
        assert_eq!(cache_key("g", &a, "").len(), 64);
    }

    #[test]
    fn user_stream_metadata_and_cache_controls_do_not_change_the_key() {
        let plain = cache_key("gpt-4o", &req(base()), "");
        for (field, value) in [
            ("user", json!("alice")),
            ("stream", json!(true)),
            ("stream_options", json!({"include_usage": true})),
            ("metadata", json!({"trace": "1"})),
            ("cache", json!({"no-cache": true})),
            ("temperature", Value::Null),
            ("model", json!("gpt-4o-alias")),
        ] {
            assert_eq!(key_with(field, value), plain, "{field} changed the key");
        }
    }

    #[test]
    fn every_parameter_that_changes_the_answer_changes_the_key() {
        let plain = cache_key("gpt-4o", &req(base()), "");
        let cases = [
            ("temperature", json!(0.5)),
            ("top_p", json!(0.9)),
            ("n", json!(2)),
            ("stop", json!(["\n"])),
            ("max_tokens", json!(10)),
            ("max_completion_tokens", json!(10)),
            ("presence_penalty", json!(0.5)),
            ("frequency_penalty", json!(0.5)),
            ("logit_bias", json!({"50256": -100})),
            ("seed", json!(1)),
            (
                "tools",
                json!([{"type": "function", "function": {"name": "f"}}]),
            ),
            ("tool_choice", json!("required")),
            ("parallel_tool_calls", json!(false)),
            ("response_format", json!({"type": "json_object"})),
            ("logprobs", json!(true)),
            ("top_logprobs", json!(3)),
            ("reasoning_effort", json!("high")),
        ];
        let mut seen = vec![plain.clone()];
        for (field, value) in cases {
            let k = key_with(field, value);
            assert!(!seen.contains(&k), "{field} did not change the key");
            seen.push(k);
        }
        assert_ne!(
            key_with("temperature", json!(0.5)),
            key_with("temperature", json!(0.6))
        );
    }

    #[test]
    fn messages_model_group_and_namespace_change_the_key() {
        let r = req(base());
        let mut other = base();
        other["messages"][1]["content"] = json!("hi!");
        assert_ne!(cache_key("g", &r, ""), cache_key("g", &req(other), ""));
        assert_ne!(cache_key("g", &r, ""), cache_key("h", &r, ""));
        let k = cache_key("g", &r, "team-a");
        assert!(k.starts_with("team-a:"));
        assert_ne!(k, cache_key("g", &r, "team-b"));
        // Same bytes, different structure: length prefixes keep them apart.
        let a = key_with("stop", json!(["ab", "c"]));
        let b = key_with("stop", json!(["a", "bc"]));
        assert_ne!(a, b);
    }
}
