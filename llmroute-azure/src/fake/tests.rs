//! The fake's tool calls and stream accounting, over real HTTP.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{FakeAzure, FakeConfig};

const URL: &str = "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21";

fn weather_tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "time", "parameters": {"type": "object",
            "properties": {"zone": {"type": "string", "enum": ["UTC", "CET"]}}}}},
        {"type": "function", "function": {"name": "weather", "description": "Get weather",
            "parameters": {"type": "object", "properties": {
                "city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"type": "string"}},
            "required": ["city", "days"]}}}
    ])
}

async fn post(fake: &FakeAzure, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{URL}", fake.base_url()))
        .header("api-key", "fake-azure-key")
        .json(body)
        .send()
        .await
        .expect("send")
}

async fn fake_with(cfg: FakeConfig) -> FakeAzure {
    FakeAzure::start(cfg).await.expect("fake")
}

/// The `data:` payloads of an SSE body, parsed (`[DONE]` as a string).
fn events(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap_or_else(|_| Value::String(d.to_string())))
        .collect()
}

#[tokio::test]
async fn a_forced_tool_choice_is_answered_with_a_tool_call() {
    let fake = fake_with(FakeConfig::default()).await;
    let choices = [
        (json!("required"), "time"),
        (
            json!({"type": "function", "function": {"name": "weather"}}),
            "weather",
        ),
    ];
    for (choice, name) in choices {
        let body = json!({"messages": [{"role": "user", "content": "weather?"}],
            "tools": weather_tools(), "tool_choice": choice});
        let v: Value = post(&fake, &body).await.json().await.expect("json");
        let choice = &v["choices"][0];
        assert_eq!(choice["finish_reason"], "tool_calls", "{v}");
        assert_eq!(choice["message"]["content"], Value::Null, "{v}");
        let call = &choice["message"]["tool_calls"][0];
        assert!(
            call["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("call_")),
            "{call}"
        );
        assert_eq!(
            (call["type"].as_str(), call["function"]["name"].as_str()),
            (Some("function"), Some(name))
        );
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().expect("arguments"))
                .expect("JSON arguments");
        match name {
            "weather" => assert_eq!(args, json!({"city": "example city", "days": 1})),
            _ => assert_eq!(args, json!({"zone": "UTC"})),
        }
        assert!(v["usage"]["completion_tokens"].as_u64() > Some(0), "{v}");
    }
}

#[tokio::test]
async fn a_streamed_tool_call_comes_as_deltas_with_the_arguments_split() {
    let fake = fake_with(FakeConfig::default()).await;
    let body = json!({"messages": [{"role": "user", "content": "weather?"}], "stream": true,
        "stream_options": {"include_usage": true}, "tools": weather_tools(),
        "tool_choice": {"type": "function", "function": {"name": "weather"}}});
    let text = post(&fake, &body).await.text().await.expect("body");
    let events = events(&text);
    let deltas: Vec<&Value> = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert!(
        deltas.len() >= 3,
        "first fragment plus split arguments: {text}"
    );
    assert!(deltas.iter().all(|d| d["index"] == 0), "{text}");
    assert_eq!(
        (
            deltas[0]["type"].as_str(),
            deltas[0]["function"]["name"].as_str()
        ),
        (Some("function"), Some("weather"))
    );
    assert!(deltas[0]["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("call_")));
    assert!(deltas[1..]
        .iter()
        .all(|d| d.get("id").is_none() && d["function"].get("name").is_none()));
    let args: String = deltas
        .iter()
        .filter_map(|d| d["function"]["arguments"].as_str())
        .collect();
    let args: Value = serde_json::from_str(&args).expect("assembled arguments are JSON");
    assert_eq!(args, json!({"city": "example city", "days": 1}));
    let finish: Vec<&Value> = events
        .iter()
        .map(|e| &e["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, [&json!("tool_calls")]);
    let n = events.len();
    assert!(
        events[n - 2]["usage"]["total_tokens"].as_u64() > Some(0),
        "usage chunk: {text}"
    );
    assert_eq!(events[n - 1], "[DONE]");
    assert_eq!((fake.completed_streams(), fake.aborted_streams()), (1, 0));
}

#[tokio::test]
async fn auto_or_no_tool_choice_answers_text() {
    let fake = fake_with(FakeConfig::default()).await;
    for choice in [json!("auto"), json!("none"), Value::Null] {
        let body = json!({"messages": [{"role": "user", "content": "hi"}], "tools": weather_tools(), "tool_choice": choice});
        let v: Value = post(&fake, &body).await.json().await.expect("json");
        assert_eq!(v["choices"][0]["finish_reason"], "stop", "{v}");
        assert!(v["choices"][0]["message"]["content"].is_string(), "{v}");
    }
}

#[tokio::test]
async fn tool_messages_must_answer_the_calls_before_them() {
    let fake = fake_with(FakeConfig::default()).await;
    let call = json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
        "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}]});
    let user = json!({"role": "user", "content": "weather?"});
    let answer = |id: &str| json!({"role": "tool", "tool_call_id": id, "content": "20 C"});
    let cases = [
        (json!([user, call, answer("call_1")]), 200, None),
        (
            json!([user, answer("call_1")]),
            400,
            Some("messages.[1].role"),
        ),
        (
            json!([user, call, answer("call_2")]),
            400,
            Some("messages.[1].role"),
        ),
        (json!([user, call]), 400, Some("messages.[1].role")),
        (
            json!([user, call, {"role": "tool", "content": "20 C"}]),
            400,
            Some("messages[2].tool_call_id"),
        ),
    ];
    for (messages, status, param) in cases {
        let resp = post(
            &fake,
            &json!({"messages": messages, "tools": weather_tools()}),
        )
        .await;
        assert_eq!(resp.status().as_u16(), status, "{messages}");
        let v: Value = resp.json().await.expect("json");
        assert_eq!(v["error"]["param"].as_str(), param, "{v}");
    }
    let resp = post(
        &fake,
        &json!({"messages": [user], "tool_choice": "required"}),
    )
    .await;
    assert_eq!(resp.status(), 400, "tool_choice without tools");
}

#[tokio::test]
async fn a_stream_dropped_by_its_client_counts_as_aborted() {
    let fake = fake_with(FakeConfig {
        stream_chunks: 50,
        chunk_delay: Duration::from_millis(50),
        ..FakeConfig::default()
    })
    .await;
    let body = json!({"messages": [{"role": "user", "content": "hi"}], "stream": true});
    let mut resp = post(&fake, &body).await;
    assert!(resp.chunk().await.expect("read").is_some());
    drop(resp);
    let deadline = Instant::now() + Duration::from_secs(2);
    while fake.aborted_streams() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!((fake.aborted_streams(), fake.completed_streams()), (1, 0));
    // A stream read to its end (here the fast, unpaced one) counts as completed.
    let fast = fake_with(FakeConfig::default()).await;
    let text = post(&fast, &body).await.text().await.expect("body");
    assert!(text.ends_with("data: [DONE]\n\n"));
    let deadline = Instant::now() + Duration::from_secs(2);
    while fast.completed_streams() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!((fast.completed_streams(), fast.aborted_streams()), (1, 0));
}
