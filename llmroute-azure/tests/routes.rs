//! Routes, URLs, headers and bodies as the fake Azure receives them.

mod common;

use common::*;
use llmroute_core::types::{Message, Role, StreamOptions};
use llmroute_core::Provider;

#[tokio::test]
async fn classic_route_puts_deployment_in_path_and_no_model_in_body() {
    let fake = fake(&["gpt4o-prod"]).await;
    let p = provider(&deployment(&fake.base_url(), "gpt4o-prod"), false);
    assert_eq!(p.name(), "azure/gpt4o-prod");
    let done = p.chat(&hello()).await.expect("chat");
    assert_eq!(
        done.response().first_text(),
        Some("Hello! How can I help you today?")
    );
    assert_eq!(done.response().model, "gpt-4o-2024-08-06");
    let last = fake.last_request().expect("recorded");
    assert_eq!(
        last.path,
        "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21"
    );
    let body = last.json();
    assert!(
        body.get("model").is_none(),
        "classic route body must not carry model: {body}"
    );
    assert!(body.get("stream").is_none());
    assert_eq!(body["messages"][0]["content"], "hi");
    assert_eq!(fake.calls_for("gpt4o-prod"), 1);
}

#[tokio::test]
async fn v1_route_puts_deployment_in_model_and_sends_no_api_version() {
    let fake = fake(&["gpt4o-prod"]).await;
    let mut cfg = deployment(&fake.base_url(), "gpt4o-prod");
    cfg.api_version = Some("v1".into());
    let p = provider(&cfg, false);
    assert!(p.chat(&hello()).await.is_ok());
    let last = fake.last_request().expect("recorded");
    assert_eq!(last.path, "/openai/v1/chat/completions");
    assert_eq!(last.json()["model"], "gpt4o-prod");
}

#[tokio::test]
async fn trailing_slash_and_openai_suffix_on_api_base_never_make_a_double_slash() {
    let fake = fake(&["d"]).await;
    for base in [
        format!("{}/", fake.base_url()),
        format!("{}//", fake.base_url()),
        format!("{}/openai/", fake.base_url()),
    ] {
        let p = provider(&deployment(&base, "d"), false);
        assert!(
            p.url()
                .starts_with(&format!("{}/openai/deployments/d/", fake.base_url())),
            "{}",
            p.url()
        );
        p.chat(&hello())
            .await
            .unwrap_or_else(|e| panic!("api_base {base}: {e}"));
    }
    let mut cfg = deployment(&format!("{}/", fake.base_url()), "d");
    cfg.api_version = Some("v1".into());
    assert!(provider(&cfg, false).chat(&hello()).await.is_ok());
}

#[tokio::test]
async fn exactly_one_credential_header_and_nothing_from_the_client() {
    let fake = fake(&["d"]).await;
    let p = provider(&deployment(&fake.base_url(), "d"), false);
    // What a client might put in the JSON body does not become a header.
    let mut req = hello();
    req.extra
        .insert("x-stainless-retry-count".into(), serde_json::json!(1));
    p.chat(&req).await.expect("chat");
    let headers = fake.last_request_headers().expect("recorded");
    assert_eq!(
        headers.get("api-key").and_then(|v| v.to_str().ok()),
        Some(KEY)
    );
    assert!(headers.get("authorization").is_none());
    assert!(
        headers
            .keys()
            .all(|k| !k.as_str().starts_with("x-stainless")),
        "{headers:?}"
    );
    assert!(headers.get("openai-organization").is_none());
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
}

#[tokio::test]
async fn developer_role_is_sent_as_system() {
    let fake = fake(&["d"]).await;
    let p = provider(&deployment(&fake.base_url(), "d"), false);
    let req = llmroute_core::types::ChatRequest::new(
        "gpt-4o",
        vec![
            Message::text(Role::Developer, "be terse"),
            Message::user("hi"),
        ],
    );
    p.chat(&req)
        .await
        .expect("the fake rejects developer; the provider must map it");
    assert_eq!(
        fake.last_request().expect("recorded").json()["messages"][0]["role"],
        "system"
    );
}

#[tokio::test]
async fn response_headers_fill_upstream_meta() {
    let fake = fake(&["d"]).await;
    let p = provider(&deployment(&fake.base_url(), "d"), false);
    let done = p.chat(&hello()).await.expect("chat");
    assert!(done
        .meta
        .request_id
        .as_deref()
        .is_some_and(|id| !id.is_empty()));
    assert_eq!(done.meta.remaining_requests, Some(999));
    assert_eq!(done.meta.remaining_tokens, Some(99_000));
    assert_eq!(done.meta.region.as_deref(), Some("East US"));
    assert!(done.meta.dropped_params.is_empty());
    let s = p.chat_stream(&hello()).await.expect("stream");
    assert_eq!(s.meta.remaining_requests, Some(999));
}

#[tokio::test]
async fn typed_fields_and_unknown_fields_reach_azure() {
    let fake = fake(&["d"]).await;
    let p = provider(&deployment(&fake.base_url(), "d"), false);
    let mut req = hello();
    req.temperature = Some(0.2);
    req.seed = Some(42);
    req.max_completion_tokens = Some(64);
    req.stream_options = Some(StreamOptions {
        include_usage: Some(false),
        ..Default::default()
    });
    req.extra
        .insert("logit_bias_extra".into(), serde_json::json!({"a": 1}));
    p.chat(&req).await.expect("chat");
    let body = fake.last_request().expect("recorded").json();
    assert_eq!(body["temperature"], 0.2);
    assert_eq!(body["seed"], 42);
    assert_eq!(body["max_completion_tokens"], 64);
    assert_eq!(body["logit_bias_extra"]["a"], 1);
    assert!(
        body.get("stream_options").is_none(),
        "stream_options on a non-stream call is a 400 on Azure"
    );
}

#[tokio::test]
async fn health_probe_answers_with_elapsed_time() {
    let fake = fake(&["d"]).await;
    let p = provider(&deployment(&fake.base_url(), "d"), false);
    assert!(p.health().await.is_ok());
    assert_eq!(
        fake.last_request().expect("recorded").json()["max_tokens"],
        1
    );
}

#[tokio::test]
async fn whole_and_streamed_answers_over_http2() {
    let fake = fake(&["d"]).await;
    let p = provider_with(
        &deployment(&fake.base_url(), "d"),
        &llmroute_azure::ClientOptions {
            http2_prior_knowledge: true,
            ..Default::default()
        },
    );
    let done = p.chat(&hello()).await.expect("whole answer over h2");
    assert!(done.response().first_text().is_some());
    assert_eq!(
        fake.last_request().expect("recorded").version,
        http::Version::HTTP_2
    );
    let chunks = collect(&p, &hello()).await;
    assert!(chunks.len() > 2 && chunks.iter().all(|c| c.is_ok()));
    assert_eq!(
        fake.last_request().expect("recorded").version,
        http::Version::HTTP_2
    );
    assert_eq!(fake.connections(), 1, "both requests on one h2 connection");
}

/// With a proxy, calls go to the proxy (reqwest's path), whole and streamed: the
/// deployment's own address is closed, so only the proxy can have answered. The fake
/// Azure stands in for a forward proxy (it takes the absolute-form request line).
#[tokio::test]
async fn a_configured_proxy_carries_every_call() {
    let fake = fake(&["d"]).await;
    let (_held, closed) = closed_port();
    let behind_proxy = deployment(&format!("http://127.0.0.1:{closed}"), "d");
    let p = provider_with(
        &behind_proxy,
        &llmroute_azure::ClientOptions {
            proxy: Some(fake.base_url()),
            ..Default::default()
        },
    );
    let done = p
        .chat(&hello())
        .await
        .expect("whole answer through the proxy");
    assert!(done.response().first_text().is_some());
    let seen = fake.last_request().expect("the proxy got the call");
    assert!(
        seen.path.contains("/openai/deployments/d/chat/completions"),
        "{}",
        seen.path
    );
    assert_eq!(seen.headers["api-key"], KEY);
    let chunks = collect(&p, &hello()).await;
    assert!(
        chunks.len() > 2 && chunks.iter().all(|c| c.is_ok()),
        "{chunks:?}"
    );
    assert_eq!(fake.calls(), 2);

    // Without the proxy the same deployment is called directly, and its port is closed.
    let direct = provider(&behind_proxy, false);
    let e = direct.chat(&hello()).await.expect_err("refused");
    assert!(e.to_string().contains("cannot connect to Azure"), "{e}");
    assert_eq!(fake.calls(), 2);
}

#[test]
fn a_proxy_that_is_not_a_url_is_refused_with_the_fix() {
    let e = llmroute_azure::AzureClient::with_options(&llmroute_azure::ClientOptions {
        proxy: Some("not a url".into()),
        ..Default::default()
    })
    .expect_err("refused");
    assert!(e.to_string().contains("http://proxy.internal:3128"), "{e}");
}
