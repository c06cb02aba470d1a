//! The request log line: one per request with the request's facts, and never a prompt or
//! a key anywhere in the process's output (JSON by default, `--log-format pretty` too).

mod common;

use std::time::Duration;

use common::*;
use llmroute_azure::fake::{FakeAzure, FakeConfig};
use serde_json::{json, Value};

/// Strings that must never reach the log: the prompt, every key the process sees.
const PROMPT: &str = "PROMPT-MARKER-quokka-4821 tell me a secret";
const MASTER: &str = "sk-master-LOGCHECK-51b7e2aa90";
const VIRTUAL: &str = "sk-virtual-LOGCHECK-9d41c0ff37";
const UNKNOWN: &str = "sk-unknown-LOGCHECK-c0ffee1234";
const UPSTREAM: &str = "azure-upstream-LOGCHECK-77e1d4";

async fn fake() -> FakeAzure {
    fake_azure(
        &["gpt4o-logs"],
        FakeConfig {
            api_key: UPSTREAM.to_string(),
            ..FakeConfig::default()
        },
    )
    .await
}

fn config(fake: &FakeAzure) -> String {
    format!(
        "model_list:\n  - model_name: gpt-4o\n    litellm_params: {{model: azure/gpt4o-logs, api_base: {}, api_key: {UPSTREAM}}}\n\
         general_settings: {{master_key: {MASTER}}}\n",
        fake.base_url()
    )
}

/// Posts a chat with `key` in `Authorization: Bearer`; returns status and `x-request-id`.
async fn chat(server: &Server, key: &str, stream: bool) -> (u16, String) {
    let resp = client()
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&chat_body("gpt-4o", PROMPT, stream))
        .send()
        .await
        .expect("chat");
    let status = resp.status().as_u16();
    let id = header(&resp, "x-request-id")
        .expect("x-request-id")
        .to_string();
    resp.text().await.expect("body");
    (status, id)
}

/// Sends the requests every test logs: a virtual key's whole answer, the master key's
/// stream, an unknown key (refused), and the same with `api-key:`. Returns the request
/// ids of the first two.
async fn traffic(server: &Server) -> (String, String) {
    let created = generate_key_as(
        server,
        MASTER,
        json!({"key": VIRTUAL, "key_alias": "log-team"}),
    )
    .await;
    assert_eq!(created["key"], VIRTUAL, "{created}");
    let (status, whole) = chat(server, VIRTUAL, false).await;
    assert_eq!(status, 200);
    let (status, streamed) = chat(server, MASTER, true).await;
    assert_eq!(status, 200);
    let (status, _) = chat(server, UNKNOWN, false).await;
    assert_eq!(status, 401);
    let resp = client()
        .post(server.url("/v1/chat/completions"))
        .header("api-key", UNKNOWN)
        .json(&chat_body("gpt-4o", PROMPT, false))
        .send()
        .await
        .expect("chat");
    assert_eq!(resp.status(), 401);
    (whole, streamed)
}

/// Stops the server and returns every line it wrote to stderr, start-up included.
fn all_output(server: &mut Server) -> Vec<String> {
    server.signal("TERM");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    let mut lines = server.startup_log.clone();
    lines.extend(server.rest_of_log(Duration::from_secs(5)));
    lines
}

fn assert_no_secrets(lines: &[String]) {
    for secret in [PROMPT, "quokka", MASTER, VIRTUAL, UNKNOWN, UPSTREAM] {
        let hits: Vec<&String> = lines.iter().filter(|l| l.contains(secret)).collect();
        assert!(hits.is_empty(), "{secret:?} is in the log:\n{hits:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_request_lines_carry_the_facts_and_no_prompt_or_key() {
    let fake = fake().await;
    let mut server = Server::start(&config(&fake));
    let (whole, streamed) = traffic(&server).await;
    let lines = all_output(&mut server);
    assert_no_secrets(&lines);

    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let request = |id: &str| {
        let found: Vec<&Value> = parsed
            .iter()
            .filter(|v| v["message"] == "request" && v["request_id"] == id)
            .collect();
        assert_eq!(found.len(), 1, "one line for request {id}: {found:?}");
        found[0].clone()
    };
    let v = request(&whole);
    assert_eq!(v["target"], "llmroute::request", "{v}");
    assert_eq!(v["level"], "INFO", "{v}");
    assert_eq!(v["key_alias"], "log-team", "{v}");
    assert_eq!(v["model"], "gpt-4o", "{v}");
    assert_eq!(v["deployment"], "gpt-4o-0", "{v}");
    assert_eq!(v["upstream_model"], "gpt-4o-2024-08-06", "{v}");
    assert_eq!(v["status"], 200, "{v}");
    assert_eq!(v["prompt_tokens"], 12, "the fake's usage: {v}");
    assert!(v["completion_tokens"].as_u64().unwrap_or(0) > 0, "{v}");
    assert!(v["cost"].as_f64().unwrap_or(0.0) > 0.0, "{v}");
    assert!(v["latency_ms"].as_f64().unwrap_or(0.0) > 0.0, "{v}");
    assert!(v["upstream_ms"].as_f64().unwrap_or(0.0) > 0.0, "{v}");
    assert!(v["latency_ms"].as_f64() >= v["upstream_ms"].as_f64(), "{v}");
    assert_eq!(v["stream"], false, "{v}");
    assert_eq!(v["attempts"], 1, "{v}");

    let v = request(&streamed);
    assert_eq!(v["key_alias"], "-", "the master key has no alias: {v}");
    assert_eq!(v["status"], 200, "{v}");
    assert_eq!(v["stream"], true, "{v}");
    assert!(v["ttft_ms"].as_f64().unwrap_or(0.0) > 0.0, "{v}");
    assert!(v["completion_tokens"].as_u64().unwrap_or(0) > 0, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_level_logs_hold_no_prompt_or_key_either() {
    let fake = fake().await;
    let mut server = Server::start_with(&config(&fake), &[("LLMROUTE_LOG", "debug")]);
    traffic(&server).await;
    let lines = all_output(&mut server);
    assert!(
        lines.iter().any(|l| l.contains("\"level\":\"DEBUG\"")),
        "the filter took effect"
    );
    assert_no_secrets(&lines);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pretty_lines_are_for_people_and_still_carry_the_request_fields() {
    let fake = fake().await;
    let mut server = Server::start_opts(&config(&fake), "pretty", &[]);
    let (whole, _) = traffic(&server).await;
    let lines = all_output(&mut server);
    assert_no_secrets(&lines);
    for line in &lines {
        assert!(
            serde_json::from_str::<Value>(line).is_err(),
            "a JSON line in pretty mode: {line}"
        );
        assert!(!line.contains('\u{1b}'), "colour codes on a pipe: {line:?}");
    }
    let line = lines
        .iter()
        .find(|l| l.contains(&format!("request_id={whole}")))
        .unwrap_or_else(|| panic!("no line for {whole}:\n{}", lines.join("\n")));
    for field in [
        " INFO ",
        "llmroute::request",
        "key_alias=\"log-team\"",
        "model=gpt-4o",
        "deployment=\"gpt-4o-0\"",
        "status=200",
        "prompt_tokens=12",
        "completion_tokens=",
        "latency_ms=",
        "upstream_ms=",
    ] {
        assert!(line.contains(field), "{field:?} missing: {line}");
    }
}
