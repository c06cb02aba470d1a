//! The pure request translation: the body Azure gets is the caller's request, field for
//! field, with only the documented changes.

use llmroute_azure::request::{chat_url, prepare, Target};
use llmroute_azure::ApiVersion;
use llmroute_core::types::ChatRequest;
use serde_json::{json, Value};

fn full_request() -> ChatRequest {
    serde_json::from_value(json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "developer", "content": "be terse"},
            {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "weather", "arguments": "{\"location\":\"Florence\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "40 C"}
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}, "strict": false}}],
        "tool_choice": "auto", "parallel_tool_calls": true,
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "strict": true, "schema": {"type": "object"}}},
        "temperature": 0.2, "top_p": 0.9, "n": 1, "stop": ["END"], "max_tokens": 100, "max_completion_tokens": 200,
        "presence_penalty": 0.1, "frequency_penalty": 0.2, "logit_bias": {"1234": -100}, "logprobs": true,
        "top_logprobs": 2, "seed": 42, "user": "u-1", "stream": true,
        "stream_options": {"include_usage": false, "future_option": 1},
        "metadata": {"kept": "as is"}
    }))
    .expect("request")
}

fn body(req: &ChatRequest, version: &str, stream: bool) -> Value {
    let v = ApiVersion::parse(Some(version));
    let target = Target {
        deployment: "gpt4o-prod",
        version: &v,
        drop_params: false,
    };
    serde_json::from_slice(&prepare(req, &target, stream).expect("prepared").body).expect("json")
}

#[test]
fn classic_body_is_the_request_without_model_and_with_developer_as_system() {
    let req = full_request();
    let mut expected = serde_json::to_value(&req).expect("json");
    let obj = expected.as_object_mut().expect("object");
    for k in ["model", "stream", "stream_options"] {
        obj.remove(k);
    }
    expected["messages"][0]["role"] = json!("system");
    assert_eq!(body(&req, "2024-10-21", false), expected);
}

#[test]
fn v1_body_names_the_deployment_and_streams_ask_for_usage() {
    let req = full_request();
    let got = body(&req, "v1", true);
    assert_eq!(got["model"], "gpt4o-prod");
    assert_eq!(got["stream"], true);
    assert_eq!(
        got["stream_options"],
        json!({"include_usage": true, "future_option": 1})
    );
    assert_eq!(got["metadata"]["kept"], "as is");
}

#[test]
fn urls_for_both_routes() {
    let classic = ApiVersion::parse(None);
    assert_eq!(
        chat_url("https://myres.openai.azure.com/", "gpt4o prod", &classic),
        "https://myres.openai.azure.com/openai/deployments/gpt4o%20prod/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(
        chat_url(
            " https://myres.openai.azure.com/openai ",
            "d",
            &ApiVersion::parse(Some("v1"))
        ),
        "https://myres.openai.azure.com/openai/v1/chat/completions"
    );
}

#[test]
fn long_message_text_and_message_fields_arrive_unchanged() {
    let long = "a \"quoted\" word, a \\ backslash,\ta tab, ünïcödé ✓ and a line\n".repeat(40);
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": long, "name": "sys", "cache_control": {"type": "ephemeral"}},
            {"role": "user", "content": "short"},
            {"role": "assistant", "content": long, "refusal": null, "x_note": [1, {"k": "v"}]},
            {"role": "developer", "content": long}
        ]
    }))
    .expect("request");
    let mut expected = serde_json::to_value(&req).expect("json");
    expected["messages"][3]["role"] = json!("system");
    let sent = body(&req, "2024-10-21", false);
    assert_eq!(sent["messages"], expected["messages"]);
    assert_eq!(sent["messages"][0]["content"].as_str(), Some(long.as_str()));
}
