//! Recorded-shape Azure and OpenAI bodies survive parse → serialize without losing a field.

use llmroute_core::types::{ChatChunk, ChatRequest, ChatResponse, Content, Role};
use serde_json::Value;

/// Every field of `input` is in `output` with the same value; an explicit `null` in the
/// input may be absent in the output (and the other way round).
fn assert_nothing_lost(input: &Value, output: &Value, path: &str) {
    match (input, output) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let child = format!("{path}.{k}");
                match b.get(k) {
                    Some(w) => assert_nothing_lost(v, w, &child),
                    None => assert!(v.is_null(), "{child} was lost (was {v})"),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path}: array length changed");
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                assert_nothing_lost(v, w, &format!("{path}[{i}]"));
            }
        }
        (Value::Number(a), Value::Number(b)) => assert_eq!(a.as_f64(), b.as_f64(), "{path}"),
        (a, b) => assert_eq!(a, b, "{path} changed"),
    }
}

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(json: &str) -> (T, Value) {
    let input: Value = serde_json::from_str(json).expect("fixture is JSON");
    let typed: T = serde_json::from_str(json).expect("parses");
    let output = serde_json::to_value(&typed).expect("serializes");
    assert_nothing_lost(&input, &output, "$");
    (typed, output)
}

#[test]
fn azure_non_streaming_response_with_filter_results() {
    let body = r#"{"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},
   "protected_material_code":{"filtered":false,"detected":false},"protected_material_text":{"filtered":false,"detected":false},
   "self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}},
  "finish_reason":"stop","index":0,"logprobs":null,
  "message":{"annotations":[],"content":"Olá!","refusal":null,"role":"assistant"}}],
 "created":1761842947,"id":"chatcmpl-CWQ7f0bwWRBA8LDoImC3K2wezY8Ye","model":"gpt-4o-2024-08-06","object":"chat.completion",
 "prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},
   "jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},
   "sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}],
 "system_fingerprint":null,
 "usage":{"completion_tokens":85,"completion_tokens_details":{"accepted_prediction_tokens":0,"audio_tokens":0,"reasoning_tokens":0,"rejected_prediction_tokens":0},
  "prompt_tokens":1919,"prompt_tokens_details":{"audio_tokens":0,"cached_tokens":1792},"total_tokens":2004}}"#;
    let (resp, _): (ChatResponse, _) = round_trip(body);
    assert_eq!(resp.first_text(), Some("Olá!"));
    let usage = resp.usage.expect("usage");
    assert_eq!(usage.cached_tokens(), 1792);
    assert_eq!(
        usage
            .completion_tokens_details
            .and_then(|d| d.reasoning_tokens),
        Some(0)
    );
    assert!(resp.extra.contains_key("prompt_filter_results"));
}

#[test]
fn azure_first_stream_chunk_with_empty_choices_and_id() {
    let chunk = r#"{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false}}}]}"#;
    let (c, _): (ChatChunk, _) = round_trip(chunk);
    assert!(c.is_annotation_only());
    assert!(!c.is_usage_only());
}

#[test]
fn azure_role_chunk_content_chunk_and_usage_chunk() {
    let role = r#"{"choices":[{"content_filter_results":{},"delta":{"content":"","refusal":null,"role":"assistant"},"finish_reason":null,"index":0,"logprobs":null}],"created":1761842953,"id":"chatcmpl-CWQ7lsQr88iejRMbeEhyd871OqpiJ","model":"gpt-4o-2024-08-06","obfuscation":"6","object":"chat.completion.chunk","system_fingerprint":null,"usage":null}"#;
    let (c, _): (ChatChunk, _) = round_trip(role);
    assert_eq!(c.choices[0].delta.role.as_deref(), Some("assistant"));
    assert_eq!(c.extra.get("obfuscation"), Some(&Value::from("6")));

    let usage = r#"{"choices":[],"created":1761842953,"id":"chatcmpl-CWQ7lsQr88iejRMbeEhyd871OqpiJ","model":"gpt-4o-2024-08-06","object":"chat.completion.chunk","system_fingerprint":null,"usage":{"completion_tokens":25,"completion_tokens_details":{"accepted_prediction_tokens":0,"audio_tokens":0,"reasoning_tokens":0,"rejected_prediction_tokens":0},"prompt_tokens":92,"prompt_tokens_details":{"audio_tokens":0,"cached_tokens":0},"total_tokens":117}}"#;
    let (c, _): (ChatChunk, _) = round_trip(usage);
    assert!(c.is_usage_only());
    assert_eq!(c.usage.map(|u| u.total_tokens), Some(117));
}

#[test]
fn tool_call_deltas_and_content_filter_finish() {
    let first = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_9URIoTvgd5stQfgpr8dHAg9L","type":"function","function":{"name":"weather","arguments":"","x_fn_hint":{"v":1}}}]},"logprobs":null,"finish_reason":null}]}"#;
    let (c, _): (ChatChunk, _) = round_trip(first);
    let call = &c.choices[0].delta.tool_calls.as_ref().expect("tool calls")[0];
    assert_eq!(call.id.as_deref(), Some("call_9URIoTvgd5stQfgpr8dHAg9L"));
    assert_eq!(
        call.function.as_ref().and_then(|f| f.name.as_deref()),
        Some("weather")
    );
    assert_eq!(
        call.function
            .as_ref()
            .map(|f| f.extra["x_fn_hint"]["v"].clone()),
        Some(serde_json::json!(1))
    );

    let later = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"loc","x_fn_hint":"later"}}]},"finish_reason":null}]}"#;
    let (c, _): (ChatChunk, _) = round_trip(later);
    assert_eq!(
        c.choices[0].delta.tool_calls.as_ref().map(|t| t[0].index),
        Some(1)
    );

    let filtered = r#"{"id":"","object":"","created":0,"model":"","choices":[{"index":0,"finish_reason":"content_filter","content_filter_results":{"violence":{"filtered":true,"severity":"medium"}},"content_filter_offsets":{"check_offset":10,"start_offset":0,"end_offset":12}}]}"#;
    let (c, _): (ChatChunk, _) = round_trip(filtered);
    assert_eq!(
        c.choices[0].finish_reason.as_deref(),
        Some("content_filter")
    );
    assert!(c.choices[0].extra.contains_key("content_filter_offsets"));
}

#[test]
fn openai_tool_call_response() {
    let body = r#"{"id":"chatcmpl-abc","object":"chat.completion","created":1729227448,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_45c6de4934","service_tier":"default",
      "choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"location\":\"Florence\"}","x_fn_id":"f1"}}]},"logprobs":null,"finish_reason":"tool_calls"}],
      "usage":{"prompt_tokens":82,"completion_tokens":17,"total_tokens":99,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}"#;
    let (resp, out): (ChatResponse, _) = round_trip(body);
    assert_eq!(
        resp.choices[0].message.tool_calls.as_ref().map(Vec::len),
        Some(1)
    );
    assert_eq!(out["service_tier"], "default");
    assert_eq!(
        out["choices"][0]["message"]["tool_calls"][0]["function"]["x_fn_id"],
        "f1"
    );
}

#[test]
fn a_request_with_every_field_round_trips() {
    let body = r#"{"model":"gpt-4o","messages":[
  {"role":"developer","content":"Be terse."},
  {"role":"system","content":[{"type":"text","text":"Always metric."}]},
  {"role":"user","name":"ann","content":[{"type":"text","text":"Weather where this photo was taken?"},
    {"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQ","detail":"low"}}]},
  {"role":"assistant","content":null,"tool_calls":[{"id":"call_9","type":"function","function":{"name":"weather","arguments":"{\"location\":\"Florence,Italy\"}","x_fn_note":"kept"}}]},
  {"role":"tool","tool_call_id":"call_9","content":"40 C"},
  {"role":"assistant","content":[{"type":"refusal","refusal":"no"}]}],
 "tools":[{"type":"function","function":{"name":"weather","description":"Get weather","strict":false,
   "parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}],
 "tool_choice":{"type":"function","function":{"name":"weather"}},"parallel_tool_calls":true,"temperature":0.2,"top_p":0.9,"n":2,
 "stop":["\n\n","END"],"max_tokens":100,"max_completion_tokens":512,"presence_penalty":0.5,"frequency_penalty":-0.5,
 "logit_bias":{"50256":-100},"logprobs":true,"top_logprobs":3,"seed":42,"user":"u-123","stream":true,
 "stream_options":{"include_usage":true},
 "response_format":{"type":"json_schema","json_schema":{"name":"answer","strict":true,"schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}}},
 "metadata":{"team":"search"},"store":false,"reasoning_effort":"low"}"#;
    let (req, out): (ChatRequest, _) = round_trip(body);
    assert_eq!(req.messages[0].role, Role::Developer);
    assert!(
        matches!(&req.messages[2].content, Some(Content::Parts(p)) if p[1].image_url.is_some())
    );
    assert!(req.is_stream() && req.wants_stream_usage());
    assert_eq!(req.max_output_tokens(), Some(512));
    assert_eq!(out["metadata"]["team"], "search");
    assert_eq!(
        out["messages"][3]["tool_calls"][0]["function"]["x_fn_note"],
        "kept"
    );
}

#[test]
fn an_unknown_role_is_a_clear_error() {
    let err = serde_json::from_str::<ChatRequest>(
        r#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#,
    )
    .expect_err("robot");
    assert!(err.to_string().contains("unknown variant `robot`"), "{err}");
}

#[test]
fn unknown_fields_of_requests_and_messages_are_kept_and_keys_may_be_escaped() {
    let body = r#"{"messages":[{"role":"user","content":"a \"quoted\" line\nand a second","x_msg":{"deep":[1,{"k":null}]},
      "c\u0061che_control":{"type":"ephemeral"}}],"model":"gpt-4o","x_top":[true]}"#;
    let (req, out): (ChatRequest, _) = round_trip(body);
    assert_eq!(
        req.messages[0].content,
        Some(Content::Text("a \"quoted\" line\nand a second".into()))
    );
    assert_eq!(out["messages"][0]["cache_control"]["type"], "ephemeral");
    assert_eq!(
        out["messages"][0]["x_msg"]["deep"][1],
        serde_json::json!({"k": null})
    );
    assert_eq!(out["x_top"], serde_json::json!([true]));
}

#[test]
fn required_fields_and_content_of_the_wrong_type_are_clear_errors() {
    for (body, expected) in [
        (r#"{"model":"m"}"#, "missing field `messages`"),
        (
            r#"{"model":"m","messages":[{"content":"x"}]}"#,
            "missing field `role`",
        ),
        (
            r#"{"model":"m","messages":[{"role":"user","content":7}]}"#,
            "expected message content: a string or an array of content parts",
        ),
        (
            r#"{"model":"m","messages":[{"role":"user","content":[{"text":"x"}]}]}"#,
            "missing field `type`",
        ),
        (r#"{"model":"m","messages":{}}"#, "invalid type: map"),
    ] {
        let err = serde_json::from_str::<ChatRequest>(body).expect_err(body);
        assert!(err.to_string().contains(expected), "{body}: {err}");
    }
    let null_content: ChatRequest = serde_json::from_str(
        r#"{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[]}]}"#,
    )
    .expect("null content");
    assert_eq!(null_content.messages[0].content, None);
}
