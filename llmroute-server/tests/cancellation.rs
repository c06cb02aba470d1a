//! A caller that goes away mid-stream cancels the upstream call: the server stops
//! reading Azure's stream (the fake sees its response dropped before the end) and still
//! records the usage known so far.

mod common;

use std::time::{Duration, Instant};

use common::*;
use llmroute_azure::fake::{FakeAzure, FakeConfig};
use serde_json::Value;

/// Content chunks of the slow upstream stream, and the pause before each event: the
/// whole stream takes over 5 s, far past the 2 s the cancellation may take.
const CHUNKS: usize = 50;
const CHUNK_DELAY: Duration = Duration::from_millis(100);

/// A fake Azure whose streams send `chunks` content chunks `delay` apart, and the server
/// in front of it (`gpt-4o`) with `router_settings` (a whole YAML line, or nothing).
async fn upstream(chunks: usize, delay: Duration, router_settings: &str) -> (FakeAzure, Server) {
    let fake = fake_azure(
        &["gpt4o-prod"],
        FakeConfig {
            stream_chunks: chunks,
            chunk_delay: delay,
            ..FakeConfig::default()
        },
    )
    .await;
    let config = format!(
        "model_list:\n  - model_name: gpt-4o\n    litellm_params: {{model: azure/gpt4o-prod, api_base: {}, api_key: fake-azure-key}}\n\
         {router_settings}general_settings: {{master_key: {MASTER_KEY}}}\n",
        fake.base_url()
    );
    (fake, Server::start(&config))
}

/// The slow stream, no retries.
async fn slow_upstream() -> (FakeAzure, Server) {
    let settings = "router_settings: {num_retries: 0, timeout: 30}\n";
    upstream(CHUNKS, CHUNK_DELAY, settings).await
}

/// Whether an SSE event carries non-empty answer text.
fn has_text(event: &str) -> bool {
    serde_json::from_str::<Value>(event).is_ok_and(|v| {
        v["choices"][0]["delta"]["content"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    })
}

/// Waits until `cond` holds, up to `limit`; returns whether it did.
async fn wait_until(limit: Duration, cond: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !cond() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

#[tokio::test]
async fn a_caller_that_goes_away_mid_stream_cancels_the_upstream_call() {
    let (fake, server) = slow_upstream().await;
    let mut resp = post_chat(&server, &chat_body("gpt-4o", "hi", true)).await;
    assert_eq!(resp.status(), 200);
    // Read up to the first chunk of answer text, then hang up.
    let mut seen = String::new();
    while !sse_events(&seen).iter().any(|e| has_text(e)) {
        let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
            .await
            .expect("a chunk within 5 s")
            .expect("read")
            .expect("the stream ended before any text");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let hung_up = Instant::now();
    drop(resp);

    let cancelled = wait_until(Duration::from_secs(2), || fake.aborted_streams() == 1).await;
    assert!(
        cancelled,
        "2 s after the caller left, upstream still streaming: aborted {}, completed {}",
        fake.aborted_streams(),
        fake.completed_streams()
    );
    assert_eq!(
        fake.completed_streams(),
        0,
        "the upstream stream ran to its end"
    );
    assert_eq!(fake.calls(), 1, "no retry after the caller left");
    eprintln!(
        "upstream cancelled {:?} after the hang-up",
        hung_up.elapsed()
    );

    // The usage known so far is recorded: the prompt, and the text chunks streamed.
    let line = server
        .wait_log("\"message\":\"request\"", Duration::from_secs(5))
        .expect("a request log line");
    let v: Value = serde_json::from_str(&line).expect("json log line");
    assert_eq!(v["stream"], true, "{v}");
    assert_eq!(v["error"], "client_disconnected", "{v}");
    assert!(v["prompt_tokens"].as_u64() > Some(0), "{v}");
    let completion = v["completion_tokens"].as_u64().unwrap_or(0);
    assert!(
        (1..CHUNKS as u64).contains(&completion),
        "the chunks before the hang-up, not the whole answer: {v}"
    );
    assert!(v["cost"].as_f64() > Some(0.0), "{v}");
    let metrics = metrics_text(&server).await;
    assert!(
        metrics.contains("llmroute_client_disconnects_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_caller_that_reads_to_the_end_leaves_the_upstream_stream_completed() {
    // The counterpart: the same slow stream read to its end is not counted as aborted,
    // so the test above measures the hang-up and not the fake.
    let (fake, server) = upstream(5, Duration::from_millis(20), "").await;
    let body = post_chat(&server, &chat_body("gpt-4o", "hi", true))
        .await
        .text()
        .await
        .expect("body");
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    assert!(wait_until(Duration::from_secs(2), || fake.completed_streams() == 1).await);
    assert_eq!(fake.aborted_streams(), 0);
}
