//! Talking to a test server over HTTP: the client, requests as a key, the admin calls
//! tests share (making a virtual key, listing models), and reading answers.

use std::time::Duration;

use super::{Server, MASTER_KEY};

/// The server's `/metrics` page, as text.
pub async fn metrics_text(server: &Server) -> String {
    get_text(server, "/metrics").await
}

/// The body of `GET path` (no key), as text, whatever its status.
pub async fn get_text(server: &Server, path: &str) -> String {
    get(server, path, None)
        .await
        .text()
        .await
        .unwrap_or_else(|e| panic!("the body of GET {path}: {e}"))
}

/// An HTTP client that does not pool (each test talks to its own server).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A config with the mock model and the test master key, plus `extra_models` entries.
pub fn mock_config(extra_models: &str) -> String {
    format!(
        "model_list:\n  - model_name: mock\n    litellm_params:\n      model: mock/echo\n{extra_models}general_settings:\n  master_key: {MASTER_KEY}\n"
    )
}

/// A chat body.
pub fn chat_body(model: &str, text: &str, stream: bool) -> serde_json::Value {
    serde_json::json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]})
}

/// Posts a chat completion with the master key.
pub async fn post_chat(server: &Server, body: &serde_json::Value) -> reqwest::Response {
    post_as(server, MASTER_KEY, "/v1/chat/completions", body).await
}

/// Posts `body` as JSON to `path` with `key` in `Authorization: Bearer`.
pub async fn post_as(
    server: &Server,
    key: &str,
    path: &str,
    body: &serde_json::Value,
) -> reqwest::Response {
    client()
        .post(server.url(path))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

/// Gets `path`, with `key` in `Authorization: Bearer` if there is one.
pub async fn get(server: &Server, path: &str, key: Option<&str>) -> reqwest::Response {
    let req = client().get(server.url(path));
    let req = match key {
        Some(k) => req.bearer_auth(k),
        None => req,
    };
    req.send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// The JSON body of [`get`]'s answer, whatever its status.
pub async fn get_json(server: &Server, path: &str, key: Option<&str>) -> serde_json::Value {
    get(server, path, key)
        .await
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {path} answered no JSON: {e}"))
}

/// Makes a virtual key with `POST /key/generate` and `body` as `master`: fails the test
/// unless the answer is 200 with a JSON body, and returns that body (`key`, `token`, ...).
pub async fn generate_key_as(
    server: &Server,
    master: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let resp = post_as(server, master, "/key/generate", &body).await;
    let status = resp.status();
    let text = resp.text().await.expect("the /key/generate body");
    assert_eq!(status, 200, "POST /key/generate {body}: {text}");
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("POST /key/generate {body} answered no JSON ({e}): {text}"))
}

/// A new virtual key made as the test master key from `body` (`{"key_alias": ...}`,
/// `{"max_budget": ...}`, ...): the `key` of [`generate_key_as`]'s answer.
pub async fn virtual_key(server: &Server, body: serde_json::Value) -> String {
    let created = generate_key_as(server, MASTER_KEY, body).await;
    created["key"]
        .as_str()
        .unwrap_or_else(|| panic!("no key in the /key/generate answer: {created}"))
        .to_string()
}

/// The model ids `GET /v1/models` lists for `key`; fails the test unless it answers 200.
pub async fn model_ids(server: &Server, key: &str) -> Vec<String> {
    let resp = get(server, "/v1/models", Some(key)).await;
    let status = resp.status();
    let text = resp.text().await.expect("the /v1/models body");
    assert_eq!(status, 200, "GET /v1/models: {text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in the /v1/models answer: {v}"))
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect()
}

/// The value of the response header `name`, if it is there and text.
pub fn header<'a>(resp: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Starts a fake Azure serving `deployments`, configured otherwise by `config` (whose
/// own `deployments` is replaced).
pub async fn fake_azure(
    deployments: &[&str],
    config: llmroute_azure::fake::FakeConfig,
) -> llmroute_azure::fake::FakeAzure {
    let config = llmroute_azure::fake::FakeConfig {
        deployments: deployments.iter().map(|d| d.to_string()).collect(),
        ..config
    };
    llmroute_azure::fake::FakeAzure::start(config)
        .await
        .unwrap_or_else(|e| panic!("starting the fake Azure for {deployments:?}: {e}"))
}

/// The `data:` payloads of an SSE body.
pub fn sse_events(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

/// The error object of an OpenAI-shaped error body.
pub async fn error_of(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let v: serde_json::Value = resp.json().await.expect("json error body");
    (status, v["error"].clone())
}
