//! Every upstream failure of the fake Azure, as a caller of the server sees it (and,
//! first, a success: Azure's body passed on byte for byte).

mod common;

use std::time::Duration;

use common::*;
use llmroute_azure::fake::{FakeAzure, FakeConfig, Fault};
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

async fn failing(fault: Fault) -> (u16, Value, reqwest::header::HeaderMap) {
    let (fake, server) = setup(0).await;
    fake.push_fault(fault);
    let resp = post_chat(&server, &chat_body("gpt-4o", "hi", false)).await;
    let headers = resp.headers().clone();
    let (status, err) = error_of(resp).await;
    (status, err, headers)
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

#[tokio::test]
async fn upstream_401_says_key_or_region() {
    let (status, err, _) = failing(Fault::Unauthorized).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (401, Some("upstream_auth_failed"))
    );
    let msg = err["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("regional endpoint") || msg.contains("region"),
        "{msg}"
    );
}

#[tokio::test]
async fn deployment_not_found_and_resource_not_found_are_told_apart() {
    let (status, err, _) = failing(Fault::DeploymentNotFound).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("DeploymentNotFound"))
    );
    let (status, err, _) = failing(Fault::ResourceNotFound).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (404, Some("resource_not_found"))
    );
    assert!(
        err["message"]
            .as_str()
            .unwrap_or_default()
            .contains("api-version"),
        "{err}"
    );
}

#[tokio::test]
async fn rate_limit_passes_retry_after_on() {
    let (status, err, headers) = failing(Fault::RateLimited {
        retry_after_secs: Some(12),
        retry_after_ms: Some(11500),
    })
    .await;
    assert_eq!(
        (status, err["type"].as_str()),
        (429, Some("rate_limit_error"))
    );
    assert_eq!(
        headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("12")
    );
    assert_eq!(
        headers.get("retry-after-ms").and_then(|v| v.to_str().ok()),
        Some("11500")
    );
}

#[tokio::test]
async fn a_content_filtered_request_is_charged_its_prompt() {
    // Azure bills the prompt of a request its filter blocks; so does the ledger.
    let (fake, server) = setup(0).await;
    fake.push_fault(Fault::ContentFilter);
    let resp = post_chat(
        &server,
        &chat_body("gpt-4o", "a prompt Azure refuses", false),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let line = server
        .wait_log("\"message\":\"request\"", Duration::from_secs(5))
        .expect("a request log line");
    let v: Value = serde_json::from_str(&line).expect("json");
    assert_eq!(v["status"], 400, "{v}");
    assert!(v["prompt_tokens"].as_u64().unwrap_or(0) > 0, "{v}");
    assert_eq!(v["completion_tokens"].as_u64(), Some(0), "{v}");
    assert!(v["cost"].as_f64().unwrap_or(0.0) > 0.0, "{v}");
}

#[tokio::test]
async fn content_filter_is_a_400_with_azures_details() {
    let (status, err, _) = failing(Fault::ContentFilter).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (400, Some("content_filter"))
    );
    assert!(
        err.get("innererror").is_some(),
        "filter results kept: {err}"
    );
}

#[tokio::test]
async fn server_errors_pass_their_status() {
    let (status, err, _) = failing(Fault::ServerError(503)).await;
    assert_eq!(
        (status, err["type"].as_str()),
        (503, Some("upstream_error"))
    );
    let (status, _, _) = failing(Fault::ServerError(500)).await;
    assert_eq!(status, 500);
}

#[tokio::test]
async fn a_retried_failure_tells_sdks_not_to_retry_again() {
    let (fake, server) = setup(2).await;
    fake.push_faults(Fault::ServerError(503), 3);
    let resp = post_chat(&server, &chat_body("gpt-4o", "hi", false)).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.headers()
            .get("x-should-retry")
            .and_then(|v| v.to_str().ok()),
        Some("false")
    );
    assert_eq!(
        resp.headers()
            .get("x-llmroute-attempts")
            .and_then(|v| v.to_str().ok()),
        Some("3")
    );
    assert_eq!(fake.calls(), 3);
}

#[tokio::test]
async fn a_stream_cut_before_done_ends_with_an_error_event() {
    let (fake, server) = setup(0).await;
    fake.push_fault(Fault::CutStream { after_events: 4 });
    let resp = post_chat(&server, &chat_body("gpt-4o", "hi", true)).await;
    assert_eq!(resp.status(), 200);
    let events = sse_events(&resp.text().await.expect("body"));
    let last: Value = serde_json::from_str(events.last().expect("events")).expect("json");
    assert_eq!(last["error"]["code"], "upstream_protocol_error", "{last}");
    assert!(!events.iter().any(|e| e == "[DONE]"));
}

#[tokio::test]
async fn a_slow_first_byte_past_the_timeout_is_a_408() {
    let (fake, server) = setup(0).await;
    fake.push_fault(Fault::DelayFirstByte(Duration::from_secs(8)));
    let started = std::time::Instant::now();
    let resp = post_chat(&server, &chat_body("gpt-4o", "hi", false)).await;
    assert_eq!(resp.status(), 408);
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "timeout honoured: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn health_deployments_probes_upstream_with_the_master_key_only() {
    let (_fake, server) = setup(0).await;
    let c = client();
    let v: Value = c
        .get(server.url("/health/deployments"))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (v["healthy_count"].as_u64(), v["unhealthy_count"].as_u64()),
        (Some(1), Some(0)),
        "{v}"
    );
    let resp = c
        .get(server.url("/health/deployments"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
}
