//! api-version downgrade: old versions reject newer fields; drop_params drops them with
//! a warning, otherwise a clear 400 names the field and the fix.

mod common;

use common::*;
use llmroute_core::types::{JsonSchemaFormat, ResponseFormat, StreamOptions};
use llmroute_core::{Error, Provider};

fn old(fake: &llmroute_azure::fake::FakeAzure) -> llmroute_core::config::DeploymentConfig {
    let mut cfg = deployment(&fake.base_url(), "d");
    cfg.api_version = Some("2024-06-01".into());
    cfg
}

fn json_schema() -> ResponseFormat {
    ResponseFormat {
        kind: "json_schema".into(),
        json_schema: Some(JsonSchemaFormat {
            name: "answer".into(),
            description: None,
            schema: Some(serde_json::json!({"type": "object"})),
            strict: Some(true),
            extra: Default::default(),
        }),
        extra: Default::default(),
    }
}

#[tokio::test]
async fn old_version_streams_without_stream_options() {
    let fake = fake(&["d"]).await;
    let p = provider(&old(&fake), false);
    let chunks = collect(&p, &hello()).await;
    assert!(chunks.iter().all(|c| c.is_ok()));
    // Not asked for usage (the version cannot), the fake sends no usage chunk.
    assert!(
        chunks.iter().flatten().all(|c| c.usage.is_none()),
        "a usage chunk nobody asked for"
    );
    let last = fake.last_request().expect("recorded");
    assert!(last.path.ends_with("api-version=2024-06-01"));
    assert!(
        last.json().get("stream_options").is_none(),
        "2024-06-01 rejects stream_options"
    );
}

#[tokio::test]
async fn without_drop_params_unsupported_fields_are_a_clear_400() {
    let fake = fake(&["d"]).await;
    let p = provider(&old(&fake), false);
    let mut req = hello();
    req.max_completion_tokens = Some(10);
    let e = p.chat(&req).await.expect_err("400");
    assert!(
        matches!(&e, Error::InvalidRequest { param: Some(p), code: "unsupported_parameter", .. } if p == "max_completion_tokens"),
        "{e:?}"
    );
    assert_eq!(e.status(), 400);
    let msg = e.to_string();
    assert!(
        msg.contains("2024-06-01") && msg.contains("2024-10-21") && msg.contains("drop_params"),
        "{msg}"
    );
    let mut req = hello();
    req.stream_options = Some(StreamOptions {
        include_usage: Some(true),
        ..Default::default()
    });
    assert!(matches!(
        p.chat_stream(&req).await,
        Err(Error::InvalidRequest { .. })
    ));
    let mut req = hello();
    req.response_format = Some(json_schema());
    assert!(matches!(
        p.chat(&req).await,
        Err(Error::InvalidRequest { .. })
    ));
    assert_eq!(fake.calls(), 0, "refused before sending");
}

#[tokio::test]
async fn with_drop_params_they_are_dropped_and_reported() {
    let fake = fake(&["d"]).await;
    let p = provider(&old(&fake), true);
    let mut req = hello();
    req.max_completion_tokens = Some(10);
    req.parallel_tool_calls = Some(false);
    req.response_format = Some(json_schema());
    req.stream_options = Some(StreamOptions {
        include_usage: Some(true),
        ..Default::default()
    });
    let done = p
        .chat(&req)
        .await
        .expect("dropped, then accepted by the fake");
    assert_eq!(
        done.meta.dropped_params,
        vec![
            "max_completion_tokens",
            "parallel_tool_calls",
            "response_format"
        ]
    );
    let body = fake.last_request().expect("recorded").json();
    assert_eq!(
        body["max_tokens"], 10,
        "the output limit survives as max_tokens"
    );
    for gone in [
        "max_completion_tokens",
        "parallel_tool_calls",
        "response_format",
        "stream_options",
    ] {
        assert!(body.get(gone).is_none(), "{gone} still sent: {body}");
    }
    let s = p.chat_stream(&req).await.expect("stream");
    assert!(s.meta.dropped_params.contains(&"stream_options"));
}

#[tokio::test]
async fn the_fake_rejects_what_old_versions_reject() {
    // The fake is strict like Azure, so the tests above prove the provider's behaviour.
    let fake = fake(&["d"]).await;
    let resp = reqwest::Client::new()
        .post(format!("{}/openai/deployments/d/chat/completions?api-version=2024-06-01", fake.base_url()))
        .header("api-key", KEY)
        .body(r#"{"messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(
        body["error"]["message"],
        "Unrecognized request argument supplied: stream_options"
    );
}

#[tokio::test]
async fn preview_versions_that_know_the_fields_keep_them() {
    let fake = fake(&["d"]).await;
    let mut cfg = deployment(&fake.base_url(), "d");
    cfg.api_version = Some("2024-09-01-preview".into());
    let p = provider(&cfg, false);
    let mut req = hello();
    req.max_completion_tokens = Some(10);
    p.chat(&req).await.expect("accepted");
    assert_eq!(
        fake.last_request().expect("recorded").json()["max_completion_tokens"],
        10
    );
}
