//! The process's life: clients that leave, SIGTERM with a stream in flight, SIGHUP.

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use llmroute_azure::fake::{FakeAzure, FakeConfig};
use serde_json::Value;

async fn slow_fake() -> FakeAzure {
    FakeAzure::start(FakeConfig {
        deployments: vec!["gpt4o-prod".to_string()],
        stream_chunks: 20,
        chunk_delay: Duration::from_millis(100),
        ..FakeConfig::default()
    })
    .await
    .expect("fake")
}

fn azure_config(fake: &FakeAzure) -> String {
    format!(
        "model_list:\n  - model_name: gpt-4o\n    litellm_params: {{model: azure/gpt4o-prod, api_base: {}, api_key: fake-azure-key}}\n\
         general_settings: {{master_key: {MASTER_KEY}, graceful_shutdown_seconds: 10}}\n",
        fake.base_url()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_mid_stream_is_recorded_with_what_is_known() {
    let fake = slow_fake().await;
    let server = Server::start(&azure_config(&fake));
    let resp = post_chat(&server, &chat_body("gpt-4o", "hi", true)).await;
    let mut body = resp.bytes_stream();
    let first = body.next().await.expect("a first chunk").expect("bytes");
    assert!(first.starts_with(b"data: "));
    drop(body);
    let line = server
        .wait_log("\"message\":\"request\"", Duration::from_secs(5))
        .expect("a request log line after the disconnect");
    let v: Value = serde_json::from_str(&line).expect("json");
    assert_eq!(v["status"], 200);
    // Cut before the usage chunk: the prompt (and the chunks seen) are charged, not nothing.
    assert!(v["prompt_tokens"].as_u64().unwrap_or(0) > 0, "{v}");
    assert!(v["cost"].as_f64().unwrap_or(0.0) > 0.0, "{v}");
    let metrics = metrics_text(&server).await;
    assert!(
        metrics.contains("llmroute_client_disconnects_total 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_stream_in_flight_finish_then_exits_zero() {
    let fake = slow_fake().await;
    let mut server = Server::start(&azure_config(&fake));
    let resp = post_chat(&server, &chat_body("gpt-4o", "hi", true)).await;
    let mut body = resp.bytes_stream();
    let mut text = String::from_utf8(body.next().await.expect("first").expect("bytes").to_vec())
        .expect("utf8");
    server.signal("TERM");
    while let Some(chunk) = body.next().await {
        text.push_str(std::str::from_utf8(&chunk.expect("chunk")).expect("utf8"));
    }
    let events = sse_events(&text);
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "the stream completed"
    );
    assert!(events.len() >= 20, "{} events", events.len());
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_accepting_new_connections() {
    let mut server = Server::start(&mock_config(""));
    server.signal("TERM");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(client().get(server.url("/health")).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_models_and_keeps_the_old_config_when_the_new_one_is_broken() {
    let server = Server::start(&mock_config(""));
    let models = |s: &Server| {
        let url = s.url("/v1/models");
        async move {
            let v: Value = client()
                .get(url)
                .bearer_auth(MASTER_KEY)
                .send()
                .await
                .expect("models")
                .json()
                .await
                .expect("json");
            v["data"]
                .as_array()
                .expect("data")
                .iter()
                .filter_map(|m| m["id"].as_str().map(str::to_string))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(models(&server).await, vec!["mock"]);

    std::fs::write(
        &server.config_path,
        mock_config("  - model_name: extra\n    litellm_params:\n      model: mock/extra\n"),
    )
    .expect("write");
    server.signal("HUP");
    server
        .wait_log("config reloaded", Duration::from_secs(5))
        .expect("reloaded");
    assert_eq!(models(&server).await, vec!["mock", "extra"]);

    std::fs::write(
        &server.config_path,
        "model_list:\n  - model_name: broken\n    litellm_params: {model: nowhere/x}\n",
    )
    .expect("write");
    server.signal("HUP");
    let line = server
        .wait_log("config reload failed", Duration::from_secs(5))
        .expect("reload failure logged");
    assert!(line.contains("unknown provider prefix nowhere/"), "{line}");
    assert_eq!(
        models(&server).await,
        vec!["mock", "extra"],
        "old config kept"
    );
    let resp = post_chat(&server, &chat_body("extra", "still works", false)).await;
    assert_eq!(resp.status(), 200);
}
