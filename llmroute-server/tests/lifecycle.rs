//! The process's life: clients that leave, SIGTERM / SIGINT with a stream in flight, the
//! grace period running out, request logs flushed at exit, SIGHUP.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use futures::StreamExt;
use llmroute_azure::fake::{FakeAzure, FakeConfig};
use serde_json::Value;

/// A fake whose streams take `chunks` × 100 ms.
async fn fake_streaming(chunks: usize) -> FakeAzure {
    fake_azure(
        &["gpt4o-prod"],
        FakeConfig {
            stream_chunks: chunks,
            chunk_delay: Duration::from_millis(100),
            ..FakeConfig::default()
        },
    )
    .await
}

/// Streams of 20 chunks, ~2 s.
async fn slow_fake() -> FakeAzure {
    fake_streaming(20).await
}

fn azure_config(fake: &FakeAzure) -> String {
    azure_config_with(fake, 10, "")
}

fn azure_config_with(fake: &FakeAzure, grace_seconds: u64, extra_models: &str) -> String {
    format!(
        "model_list:\n  - model_name: gpt-4o\n    litellm_params: {{model: azure/gpt4o-prod, api_base: {}, api_key: fake-azure-key}}\n\
         {extra_models}general_settings: {{master_key: {MASTER_KEY}, graceful_shutdown_seconds: {grace_seconds}}}\n",
        fake.base_url()
    )
}

/// The `x-request-id` of a response.
fn request_id(resp: &reqwest::Response) -> String {
    header(resp, "x-request-id")
        .expect("x-request-id")
        .to_string()
}

/// Writes `yaml` over the server's config file, sends SIGHUP and returns the log line
/// containing `outcome` (`config reloaded` or `config reload failed`), waited for 5 s.
fn reload(server: &Server, yaml: &str, outcome: &str) -> String {
    std::fs::write(&server.config_path, yaml).expect("write the config file");
    server.signal("HUP");
    server
        .wait_log(outcome, Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no log line {outcome:?} within 5 s of SIGHUP"))
}

/// A stream opened and its first bytes read: (request id, body so far, the rest).
async fn open_stream(
    server: &Server,
) -> (
    String,
    String,
    impl futures::Stream<Item = reqwest::Result<bytes::Bytes>>,
) {
    let resp = post_chat(server, &chat_body("gpt-4o", "hi", true)).await;
    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    let mut body = Box::pin(resp.bytes_stream());
    let first = body.next().await.expect("a first chunk").expect("bytes");
    let text = String::from_utf8(first.to_vec()).expect("utf8");
    assert!(text.starts_with("data: "), "{text}");
    (id, text, body)
}

/// Reads the rest of a stream; `Err` if the connection broke before the end.
async fn read_rest(
    mut text: String,
    mut body: impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin,
) -> Result<String, String> {
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(bytes) => text.push_str(std::str::from_utf8(&bytes).expect("utf8")),
            Err(e) => return Err(text + &format!("\n[broken: {e}]")),
        }
    }
    Ok(text)
}

/// One row of the embedded store's request log.
#[derive(Debug)]
struct Row {
    status: i64,
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
    stream: bool,
    error_type: Option<String>,
}

/// The request log rows in `<data dir>/llmroute.db`, by request id.
fn logged_requests(data_dir: &Path) -> std::collections::HashMap<String, Row> {
    let db = rusqlite::Connection::open(data_dir.join("llmroute.db")).expect("open llmroute.db");
    let mut q = db
        .prepare("SELECT request_id, status, prompt_tokens, completion_tokens, stream, error_type FROM llmroute_request_logs")
        .expect("query");
    q.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Row {
                status: r.get(1)?,
                prompt_tokens: r.get(2)?,
                completion_tokens: r.get(3)?,
                stream: r.get::<_, i64>(4)? != 0,
                error_type: r.get(5)?,
            },
        ))
    })
    .expect("rows")
    .map(|r| r.expect("row"))
    .collect()
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
    assert_eq!(v["error"], "client_disconnected", "{v}");
    // Cut before the usage chunk: the prompt (and the chunks seen) are charged, not nothing.
    assert!(v["prompt_tokens"].as_u64().unwrap_or(0) > 0, "{v}");
    assert!(v["cost"].as_f64().unwrap_or(0.0) > 0.0, "{v}");
    let metrics = metrics_text(&server).await;
    assert!(
        metrics.contains("llmroute_client_disconnects_total 1"),
        "{metrics}"
    );
}

/// Sends `signal` while a ~2 s stream is in flight: the stream completes, the process exits 0.
async fn a_stream_in_flight_finishes_after(signal: &str) {
    let fake = slow_fake().await;
    let mut server = Server::start(&azure_config(&fake));
    let (_, text, body) = open_stream(&server).await;
    server.signal(signal);
    let text = read_rest(text, body).await.expect("the stream was not cut");
    let events = sse_events(&text);
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "the stream completed"
    );
    assert!(events.len() >= 20, "{} events", events.len());
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    let received = format!("SIG{signal} received");
    assert!(
        server
            .rest_of_log(Duration::from_secs(5))
            .iter()
            .any(|l| l.contains(&received)),
        "{received} logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_stream_in_flight_finish_then_exits_zero() {
    a_stream_in_flight_finishes_after("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_is_handled_like_sigterm() {
    a_stream_in_flight_finishes_after("INT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_writes_the_pending_request_logs_before_exiting() {
    let fake = slow_fake().await;
    let mut server = Server::start(&azure_config(&fake));
    let mut ids = Vec::new();
    for _ in 0..3 {
        let resp = post_chat(&server, &chat_body("gpt-4o", "hi", false)).await;
        assert_eq!(resp.status(), 200);
        ids.push(request_id(&resp));
    }
    // The stream ends after SIGTERM, so its log row is still queued when the
    // connections are done: only the flush at exit writes it.
    let (stream_id, text, body) = open_stream(&server).await;
    server.signal("TERM");
    read_rest(text, body).await.expect("the stream was not cut");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    let rows = logged_requests(&server.dir.path().join("data"));
    for id in &ids {
        let row = rows
            .get(id)
            .unwrap_or_else(|| panic!("{id} not in {rows:?}"));
        assert_eq!((row.status, row.stream), (200, false), "{row:?}");
        assert_eq!(row.prompt_tokens, Some(12), "{row:?}");
    }
    let row = rows
        .get(&stream_id)
        .unwrap_or_else(|| panic!("the stream's row {stream_id} was not written: {rows:?}"));
    assert_eq!((row.status, row.stream), (200, true), "{row:?}");
    assert!(row.completion_tokens.unwrap_or(0) >= 20, "{row:?}");
    assert_eq!(rows.len(), 4, "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_grace_period_runs_out_streams_are_cut_recorded_and_the_exit_is_zero() {
    let fake = fake_streaming(50).await; // ~5 s
    let mut server = Server::start(&azure_config_with(&fake, 1, ""));
    let (stream_id, text, body) = open_stream(&server).await;
    let signalled = Instant::now();
    server.signal("TERM");
    let code = server.wait_exit(Duration::from_secs(4));
    let took = signalled.elapsed();
    assert_eq!(code, Some(0), "exit within 4 s, status 0 (took {took:?})");
    assert!(
        took >= Duration::from_millis(900),
        "the grace period was given: {took:?}"
    );
    let text = read_rest(text, body).await.expect_err("the stream was cut");
    assert!(!text.contains("[DONE]"), "{text}");
    let log = server.rest_of_log(Duration::from_secs(5));
    assert!(
        log.iter().any(|l| l.contains("grace period over")),
        "{}",
        log.join("\n")
    );
    // The cut stream is still accounted for: its prompt and the chunks sent.
    let rows = logged_requests(&server.dir.path().join("data"));
    let row = rows
        .get(&stream_id)
        .unwrap_or_else(|| panic!("the cut stream {stream_id} was not recorded: {rows:?}"));
    assert!(row.prompt_tokens.unwrap_or(0) > 0, "{row:?}");
    assert!(row.completion_tokens.unwrap_or(0) > 0, "{row:?}");
    assert_eq!(
        row.error_type.as_deref(),
        Some("client_disconnected"),
        "a cut stream is not recorded as complete: {row:?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains(&stream_id) && l.contains("\"message\":\"request\"")),
        "the cut stream has its log line: {}",
        log.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigterm_new_connections_are_refused_while_a_stream_finishes() {
    let fake = slow_fake().await;
    let mut server = Server::start(&azure_config(&fake));
    let (_, text, body) = open_stream(&server).await;
    server.signal("TERM");
    server
        .wait_log("shutting down: no new connections", Duration::from_secs(5))
        .expect("the shutdown line");
    assert_eq!(fake.completed_streams(), 0, "the stream is still in flight");
    // A fresh connection (its own client, no pool): refused, not queued until exit.
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let err = quick
        .get(server.url("/health"))
        .send()
        .await
        .expect_err("the listener is closed");
    assert!(err.is_connect(), "refused, not timed out: {err:?}");
    assert_eq!(fake.completed_streams(), 0, "still in flight when refused");
    let text = read_rest(text, body).await.expect("the stream was not cut");
    assert_eq!(sse_events(&text).last().map(String::as_str), Some("[DONE]"));
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_models_and_settings_and_keeps_the_old_config_when_the_new_one_is_broken() {
    let server = Server::start(&mock_config(""));
    let models = |s| model_ids(s, MASTER_KEY);
    let robots = |s| get_text(s, "/robots.txt");
    assert_eq!(models(&server).await, vec!["mock"]);
    assert_eq!(robots(&server).await, "User-agent: *\nAllow: /\n");

    // Models and settings: a new model, and general_settings.block_robots turned on.
    let reloaded =
        mock_config("  - model_name: extra\n    litellm_params:\n      model: mock/extra\n")
            + "  block_robots: true\n";
    reload(&server, &reloaded, "config reloaded");
    assert_eq!(models(&server).await, vec!["mock", "extra"]);
    assert_eq!(robots(&server).await, "User-agent: *\nDisallow: /\n");

    let broken = "model_list:\n  - model_name: broken\n    litellm_params: {model: nowhere/x}\n";
    let line = reload(&server, broken, "config reload failed");
    assert!(line.contains("unknown provider prefix nowhere/"), "{line}");
    assert_eq!(
        models(&server).await,
        vec!["mock", "extra"],
        "old config kept"
    );
    let resp = post_chat(&server, &chat_body("extra", "still works", false)).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_during_a_live_stream_reloads_and_the_stream_completes() {
    let fake = slow_fake().await;
    let server = Server::start(&azure_config(&fake));
    let (_, text, body) = open_stream(&server).await;
    let added = "  - model_name: added\n    litellm_params:\n      model: mock/echo\n";
    let line = reload(
        &server,
        &azure_config_with(&fake, 10, added),
        "config reloaded",
    );
    assert!(line.contains("added"), "{line}");
    let text = read_rest(text, body).await.expect("the stream was not cut");
    let events = sse_events(&text);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert!(events.len() >= 20, "{} events", events.len());
    let resp = post_chat(&server, &chat_body("added", "new model", false)).await;
    assert_eq!(resp.status(), 200);
    let metrics = metrics_text(&server).await;
    assert!(
        metrics.contains("llmroute_config_reloads_total{reason=\"ok\"} 1"),
        "{metrics}"
    );
}
