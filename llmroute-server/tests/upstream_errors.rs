//! Every upstream failure of the fake Azure, as a caller of the server sees it, whole
//! and streamed (and, first, a success: Azure's body passed on byte for byte).
//!
//! One table ([`failures`]) says what each Azure failure becomes: status, OpenAI error
//! body, headers, upstream calls, and the request log's error type and charge. Every row
//! is run twice, `stream: false` and `stream: true`, and must come out the same: a stream
//! that fails before its first byte is a real HTTP error (the SDKs raise it), not a 200.
//! A stream that fails after its first byte ends with an `error` event instead
//! ([`cut_streams`]).

mod common;

use std::time::Duration;

use common::*;
use llmroute_azure::fake::{FakeAzure, FakeConfig, Fault};
use reqwest::header::HeaderMap;
use serde_json::Value;

async fn setup(retries: u32) -> (FakeAzure, Server) {
    let fake = FakeAzure::start(FakeConfig {
        deployments: vec!["gpt4o-prod".to_string()],
        ..FakeConfig::default()
    })
    .await
    .expect("fake");
    let config = format!(
        "model_list:\n  - model_name: gpt-4o\n    litellm_params: {{model: azure/gpt4o-prod, api_base: {}, api_key: fake-azure-key}}\n\
         router_settings: {{num_retries: {retries}, timeout: 5}}\ngeneral_settings: {{master_key: {MASTER_KEY}}}\n",
        fake.base_url()
    );
    (fake, Server::start(&config))
}

/// `"created":<secs>` set to 0, the one field that differs between two calls.
fn without_created(body: &str) -> String {
    let at = body.find("\"created\":").expect("created") + "\"created\":".len();
    let digits = body[at..].chars().take_while(char::is_ascii_digit).count();
    format!("{}0{}", &body[..at], &body[at + digits..])
}

#[tokio::test]
async fn a_whole_answer_is_azures_body_byte_for_byte() {
    let (fake, server) = setup(0).await;
    let body = chat_body("gpt-4o", "hi", false);
    let proxied = post_chat(&server, &body).await;
    assert_eq!(proxied.status(), 200);
    let proxied = proxied.text().await.expect("body");
    let direct = client()
        .post(format!(
            "{}/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21",
            fake.base_url()
        ))
        .header("api-key", "fake-azure-key")
        .json(&body)
        .send()
        .await
        .expect("direct call");
    assert_eq!(direct.status(), 200);
    let direct = direct.text().await.expect("body");
    // Azure's field order (and prompt_filter_results) survive: not re-serialized.
    assert_eq!(without_created(&proxied), without_created(&direct));
}

/// What a caller must get for one upstream failure.
struct Failure {
    name: &'static str,
    /// Queued on the fake, `times` over (enough for every attempt).
    fault: Fault,
    times: usize,
    /// `router_settings.num_retries`.
    retries: u32,
    /// Chat requests the fake must see.
    calls: u64,
    status: u16,
    /// OpenAI `error.type` and `error.code`.
    kind: &'static str,
    code: &'static str,
    /// Text the message must hold (it says what to fix).
    message_has: &'static str,
    /// Headers and their values; `None`: must be absent.
    headers: &'static [(&'static str, Option<&'static str>)],
    /// Azure's filter details kept as `innererror`.
    innererror: bool,
    /// The request log's `error` field.
    logged: &'static str,
    /// The prompt is charged (Azure bills a filtered prompt); otherwise nothing is.
    charged: bool,
}

/// Not retried: the SDK may decide itself (no `x-should-retry`).
const ONCE: &[(&str, Option<&str>)] =
    &[("x-should-retry", None), ("x-llmroute-attempts", Some("1"))];

/// A row retried by nobody, expecting no `x-should-retry` and one attempt.
#[allow(clippy::too_many_arguments)]
fn row(
    name: &'static str,
    fault: Fault,
    status: u16,
    kind: &'static str,
    code: &'static str,
    message_has: &'static str,
    logged: &'static str,
) -> Failure {
    Failure {
        name,
        fault,
        times: 1,
        retries: 0,
        calls: 1,
        status,
        kind,
        code,
        message_has,
        headers: ONCE,
        innererror: false,
        logged,
        charged: false,
    }
}

#[rustfmt::skip]
fn failures() -> Vec<Failure> {
    let limited = |secs, ms| Fault::RateLimited { retry_after_secs: Some(secs), retry_after_ms: Some(ms) };
    vec![
        //  name                  fault                           status  error.type               error.code               message has                  logged error
        row("401",                Fault::Unauthorized,              401, "authentication_error",  "upstream_auth_failed",  "region",                    "upstream_auth"),
        row("404 deployment",     Fault::DeploymentNotFound,        404, "invalid_request_error", "DeploymentNotFound",    "deployment",                "upstream_not_found"),
        row("404 resource",       Fault::ResourceNotFound,          404, "invalid_request_error", "resource_not_found",    "api-version",               "upstream_not_found"),
        Failure {
            headers: &[("retry-after", Some("12")), ("retry-after-ms", Some("11500")), ("x-should-retry", None), ("x-llmroute-attempts", Some("1"))],
            ..row("429",          limited(12, 11500),               429, "rate_limit_error",      "upstream_rate_limited", "retry",                     "upstream_rate_limited")
        },
        Failure {
            // Retried after Azure's retry-after-ms (the deployment cools down that long),
            // then given up: the SDK must not retry on top.
            times: 3, retries: 2, calls: 2,
            headers: &[("retry-after", Some("1")), ("retry-after-ms", Some("300")), ("x-should-retry", Some("false")), ("x-llmroute-attempts", Some("2"))],
            ..row("429 retried",  limited(1, 300),                  429, "rate_limit_error",      "upstream_rate_limited", "retry",                     "upstream_rate_limited")
        },
        Failure {
            innererror: true, charged: true,
            ..row("content filter", Fault::ContentFilter,           400, "invalid_request_error", "content_filter",        "content management policy", "content_filter")
        },
        row("500",                Fault::ServerError(500),          500, "upstream_error",        "upstream_error",        "answered 500",              "upstream_status"),
        row("503",                Fault::ServerError(503),          503, "upstream_error",        "upstream_error",        "overloaded",                "upstream_status"),
        Failure {
            times: 3, retries: 2, calls: 3,
            headers: &[("x-should-retry", Some("false")), ("x-llmroute-attempts", Some("3"))],
            ..row("503 retried",  Fault::ServerError(503),          503, "upstream_error",        "upstream_error",        "overloaded",                "upstream_status")
        },
        // The first byte later than router_settings.timeout (5 s).
        row("slow first byte",    Fault::DelayFirstByte(Duration::from_secs(8)), 408, "timeout_error", "timeout",      "did not answer within",     "timeout"),
    ]
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Runs one row on a fresh fake and server; returns what differs from the row.
async fn check(f: &Failure, stream: bool) -> Vec<String> {
    let (fake, server) = setup(f.retries).await;
    fake.push_faults(f.fault.clone(), f.times);
    let resp = post_chat(&server, &chat_body("gpt-4o", "hi", stream)).await;
    let headers = resp.headers().clone();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let err = &body["error"];
    let mut wrong = Vec::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            wrong.push(what);
        }
    };
    expect(
        status == f.status,
        format!("status {status}, want {}", f.status),
    );
    expect(
        header(&headers, "content-type") == Some("application/json"),
        format!(
            "content-type {:?}: an error is JSON, not a stream",
            header(&headers, "content-type")
        ),
    );
    expect(
        header(&headers, "x-request-id").is_some(),
        "no x-request-id".into(),
    );
    // OpenAI's error shape: message, type, param, code (innererror may follow).
    let shape = err["message"].is_string()
        && err["type"].is_string()
        && err
            .get("param")
            .is_some_and(|p| p.is_null() || p.is_string())
        && err.get("code").is_some_and(|c| c.is_string());
    expect(shape, format!("not OpenAI's error shape: {body}"));
    expect(
        err["type"] == f.kind,
        format!("type {}, want {}", err["type"], f.kind),
    );
    expect(
        err["code"] == f.code,
        format!("code {}, want {}", err["code"], f.code),
    );
    expect(
        f.code != "content_filter" || err["param"] == "prompt",
        format!("a content filter names the prompt as Azure does: {body}"),
    );
    let message = err["message"].as_str().unwrap_or_default();
    expect(
        message.contains(f.message_has),
        format!("message {message:?} lacks {:?}", f.message_has),
    );
    expect(
        err.get("innererror").is_some() == f.innererror,
        format!("innererror: {body}"),
    );
    for (name, want) in f.headers {
        let got = header(&headers, name);
        expect(
            got == *want,
            format!("header {name}: {got:?}, want {want:?}"),
        );
    }
    expect(
        fake.calls() == f.calls,
        format!("{} upstream calls, want {}", fake.calls(), f.calls),
    );
    match server.wait_log("\"message\":\"request\"", Duration::from_secs(5)) {
        Some(line) => {
            let log: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            expect(
                log["status"] == f.status,
                format!("logged status {}", log["status"]),
            );
            expect(
                log["error"] == f.logged,
                format!("logged error {}, want {}", log["error"], f.logged),
            );
            expect(
                log["stream"] == stream,
                format!("logged stream {}", log["stream"]),
            );
            let prompt = log["prompt_tokens"].as_u64().unwrap_or(0);
            let cost = log["cost"].as_f64().unwrap_or(0.0);
            expect(
                (prompt > 0 && cost > 0.0) == f.charged,
                format!("charged {prompt} prompt tokens, cost {cost}"),
            );
            expect(
                log["completion_tokens"] == 0,
                format!("completion tokens {}", log["completion_tokens"]),
            );
        }
        None => expect(false, "no request log line".into()),
    }
    let mode = if stream { "streamed" } else { "whole" };
    wrong
        .into_iter()
        .map(|w| format!("{} ({mode}): {w}", f.name))
        .collect()
}

async fn check_all(stream: bool) {
    let mut wrong = Vec::new();
    for f in failures() {
        wrong.extend(check(&f, stream).await);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn upstream_failures_of_whole_requests() {
    check_all(false).await;
}

#[tokio::test]
async fn upstream_failures_of_streamed_requests_before_the_first_byte() {
    check_all(true).await;
}

/// A stream that fails after its 200: the text so far, then an `error` event, then the
/// end (no `[DONE]`); the request is logged with the error type.
#[tokio::test]
async fn cut_streams_end_with_an_error_event() {
    let cases = [
        (
            "cut without [DONE]",
            Fault::CutStream { after_events: 4 },
            "upstream_protocol_error",
            "upstream_protocol",
        ),
        (
            "Azure error event",
            Fault::MidStreamError { after_events: 4 },
            "upstream_error",
            "upstream_status",
        ),
    ];
    let mut wrong = Vec::new();
    for (name, fault, code, logged) in cases {
        let (fake, server) = setup(2).await;
        fake.push_faults(fault, 3);
        let resp = post_chat(&server, &chat_body("gpt-4o", "hi", true)).await;
        let mut expect = |ok: bool, what: String| {
            if !ok {
                wrong.push(format!("{name}: {what}"));
            }
        };
        expect(resp.status() == 200, format!("status {}", resp.status()));
        let events = sse_events(&resp.text().await.unwrap_or_default());
        let text = events
            .iter()
            .filter_map(|e| serde_json::from_str::<Value>(e).ok())
            .filter(|v| {
                v["choices"][0]["delta"]["content"]
                    .as_str()
                    .is_some_and(|t| !t.is_empty())
            })
            .count();
        expect(text > 0, format!("no text before the failure: {events:?}"));
        let last: Value = events
            .last()
            .and_then(|e| serde_json::from_str(e).ok())
            .unwrap_or(Value::Null);
        let err = &last["error"];
        expect(
            err["message"].is_string() && err["type"] == "upstream_error" && err["code"] == code,
            format!("last event {last}, want code {code}"),
        );
        expect(
            !events.iter().any(|e| e == "[DONE]"),
            "a [DONE] after the failure".into(),
        );
        // Bytes reached the caller: no retry could hide the failure.
        expect(
            fake.calls() == 1,
            format!("{} upstream calls after the first byte", fake.calls()),
        );
        let log = server
            .wait_log("\"message\":\"request\"", Duration::from_secs(5))
            .and_then(|l| serde_json::from_str::<Value>(&l).ok())
            .unwrap_or(Value::Null);
        expect(
            log["error"] == logged,
            format!("logged error {}, want {logged}", log["error"]),
        );
        expect(
            log["completion_tokens"].as_u64() > Some(0),
            format!("the text sent is not charged: {log}"),
        );
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
