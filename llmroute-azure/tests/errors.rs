//! Every Azure error family mapped to llmroute's errors, end to end through the fake and
//! on recorded bodies.

mod common;

use std::time::Duration;

use common::*;
use llmroute_azure::errors::{map_status, retry_after, AzureErrorBody, ErrorContext};
use llmroute_azure::fake::Fault;
use llmroute_core::{Error, Provider};

const CTX: ErrorContext<'static> = ErrorContext {
    deployment: "gpt4o-prod",
    api_base: "https://myres.openai.azure.com",
    api_version: "2024-10-21",
    entra: false,
    request_id: Some("req-1"),
};

async fn fault_error(fault: Fault) -> Error {
    let fake = fake(&["d"]).await;
    fake.push_fault(fault);
    let p = provider(&deployment(&fake.base_url(), "d"), false);
    p.chat(&hello()).await.expect_err("fault must fail")
}

#[tokio::test]
async fn rate_limit_carries_retry_after_ms_over_retry_after() {
    let e = fault_error(Fault::RateLimited {
        retry_after_secs: Some(2),
        retry_after_ms: Some(1500),
    })
    .await;
    assert!(
        matches!(e, Error::RateLimited { upstream: true, .. }),
        "{e:?}"
    );
    assert_eq!(e.status(), 429);
    assert_eq!(e.retry_after(), Some(Duration::from_millis(1500)));
    assert!(e.is_retryable());
    let e = fault_error(Fault::RateLimited {
        retry_after_secs: Some(7),
        retry_after_ms: None,
    })
    .await;
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    assert!(e.to_string().contains("exceeded token rate limit"), "{e}");
}

#[tokio::test]
async fn unauthorized_says_key_or_regional_endpoint() {
    let e = fault_error(Fault::Unauthorized).await;
    assert!(matches!(e, Error::UpstreamAuth { .. }));
    assert_eq!(e.status(), 401);
    let msg = e.to_string();
    assert!(
        msg.contains("key is invalid") && msg.contains("regional endpoint"),
        "{msg}"
    );
    assert!(!msg.contains(KEY), "the key must never be echoed");
    // A genuinely wrong key, no fault involved.
    let fake = fake(&["d"]).await;
    let mut cfg = deployment(&fake.base_url(), "d");
    cfg.api_key = Some(llmroute_core::Secret::new("wrong-key-0123456789"));
    let e = provider(&cfg, false).chat(&hello()).await.expect_err("401");
    assert!(
        matches!(e, Error::UpstreamAuth { .. }) && !e.to_string().contains("wrong-key-0123456789")
    );
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn deployment_not_found_and_resource_not_found_are_told_apart() {
    let fake = fake(&["d"]).await;
    let e = provider(&deployment(&fake.base_url(), "nope"), false)
        .chat(&hello())
        .await
        .expect_err("404");
    assert!(
        matches!(
            e,
            Error::UpstreamNotFound {
                code: "DeploymentNotFound",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("no deployment named nope"), "{e}");
    let mut cfg = deployment(&fake.base_url(), "d");
    cfg.api_version = Some("2023-99-99".into());
    let e = provider(&cfg, false).chat(&hello()).await.expect_err("404");
    assert!(
        matches!(
            e,
            Error::UpstreamNotFound {
                code: "resource_not_found",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("wrong api-version or path"), "{e}");
    assert_eq!(e.code(), Some("resource_not_found"));
    assert!(matches!(
        fault_error(Fault::DeploymentNotFound).await,
        Error::UpstreamNotFound {
            code: "DeploymentNotFound",
            ..
        }
    ));
    assert!(matches!(
        fault_error(Fault::ResourceNotFound).await,
        Error::UpstreamNotFound {
            code: "resource_not_found",
            ..
        }
    ));
}

#[tokio::test]
async fn content_filter_keeps_the_verdicts_and_is_not_retried() {
    let e = fault_error(Fault::ContentFilter).await;
    let Error::ContentFilter {
        detail: Some(detail),
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(detail["content_filter_result"]["hate"]["filtered"], true);
    assert_eq!(detail["code"], "ResponsibleAIPolicyViolation");
    assert_eq!(
        (e.status(), e.code(), e.is_retryable()),
        (400, Some("content_filter"), false)
    );
    let body: serde_json::Value = serde_json::from_slice(&e.to_json()).expect("json");
    assert_eq!(
        body["error"]["innererror"]["content_filter_result"]["violence"]["severity"],
        "medium"
    );
}

#[tokio::test]
async fn context_length_timeout_and_server_errors() {
    let e = fault_error(Fault::ContextLengthExceeded).await;
    assert!(
        matches!(e, Error::ContextLengthExceeded { .. })
            && e.to_string().contains("maximum context length")
    );
    let e = fault_error(Fault::RequestTimeout).await;
    assert!(matches!(e, Error::Timeout { .. }) && e.is_retryable());
    for status in [500u16, 503] {
        let e = fault_error(Fault::ServerError(status)).await;
        assert!(
            matches!(e, Error::Upstream { status: s, .. } if s == status),
            "{e:?}"
        );
        assert_eq!(e.status(), status);
        assert!(e.is_retryable());
    }
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_says_to_fix_api_base() {
    let elsewhere = fake(&["d"]).await;
    let target = format!(
        "{}/openai/deployments/d/chat/completions?api-version=2024-10-21",
        elsewhere.base_url()
    );
    let e = fault_error(Fault::Redirect(target)).await;
    assert_eq!(elsewhere.calls(), 0, "the redirect was followed");
    assert!(elsewhere.last_request().is_none(), "the api-key went on");
    assert!(matches!(e, Error::Upstream { status: 307, .. }), "{e:?}");
    assert_eq!(e.status(), 502);
    let msg = e.to_string();
    assert!(
        msg.contains("answered 307, a redirect") && msg.contains("set api_base"),
        "{msg}"
    );
}

#[tokio::test]
async fn an_openai_family_400_keeps_azures_param() {
    let fake = fake(&["d"]).await;
    let p = provider(&deployment(&fake.base_url(), "d"), false);
    let mut req = hello();
    req.messages.clear();
    let e = p.chat(&req).await.expect_err("empty messages");
    assert_eq!(e.status(), 400);
    assert_eq!(e.param(), Some("messages"), "{e:?}");
    assert!(e.to_string().contains("too short"), "{e}");
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn unreachable_endpoint_is_a_connection_error() {
    let (_held, port) = closed_port();
    let cfg = deployment(&format!("http://127.0.0.1:{port}"), "d");
    let e = provider(&cfg, false)
        .chat(&hello())
        .await
        .expect_err("refused");
    assert!(matches!(e, Error::UpstreamConnection { .. }), "{e:?}");
    assert!(e.to_string().contains("cannot connect to Azure"), "{e}");
}

#[test]
fn gateway_family_with_numeric_string_number_and_null_codes() {
    for body in [
        r#"{"error":{"code":"401","message":"Access denied"}}"#,
        r#"{"error":{"code":401,"message":"Access denied"}}"#,
    ] {
        let p = AzureErrorBody::parse(body.as_bytes());
        assert_eq!(
            (p.code.as_deref(), p.message.as_deref()),
            (Some("401"), Some("Access denied"))
        );
    }
    let p = AzureErrorBody::parse(br#"{"error":{"code":null,"message":"Unrecognized request argument supplied: stream_options","param":null,"type":"invalid_request_error"}}"#);
    assert_eq!(p.code, None);
    let e = map_status(400, br#"{"error":{"code":null,"message":"Unrecognized request argument supplied: stream_options","param":null,"type":"invalid_request_error"}}"#, None, &CTX);
    assert!(
        matches!(e, Error::InvalidRequest { .. }) && e.to_string().contains("2024-10-21"),
        "{e}"
    );
    assert!(e.to_string().contains("apim-request-id req-1"));
}

#[test]
fn content_filter_in_all_four_spellings() {
    for (inner, results) in [
        ("innererror", "content_filter_result"),
        ("inner_error", "content_filter_results"),
        ("innererror", "content_filter_results"),
        ("inner_error", "content_filter_result"),
    ] {
        let body = format!(
            r#"{{"error":{{"message":"filtered","code":"content_filter","{inner}":{{"code":"ResponsibleAIPolicyViolation","{results}":{{"sexual":{{"filtered":true,"severity":"high"}}}}}}}}}}"#
        );
        let e = map_status(400, body.as_bytes(), None, &CTX);
        let Error::ContentFilter {
            detail: Some(d), ..
        } = &e
        else {
            panic!("{inner}/{results}: {e:?}")
        };
        assert_eq!(d["content_filter_result"]["sexual"]["severity"], "high");
    }
}

#[test]
fn bodies_that_are_not_json_still_map_by_status() {
    let e = map_status(502, b"<html>Bad Gateway</html>", None, &CTX);
    assert!(
        matches!(e, Error::Upstream { status: 502, .. }) && e.to_string().contains("Bad Gateway")
    );
    let e = map_status(429, b"", None, &CTX);
    assert!(matches!(
        e,
        Error::RateLimited {
            retry_after: None,
            ..
        }
    ));
    let e = map_status(
        429,
        br#"{"error":{"code":"429","message":"Please retry after 45 seconds."}}"#,
        None,
        &CTX,
    );
    assert_eq!(
        e.retry_after(),
        Some(Duration::from_secs(45)),
        "from the message when no header"
    );
    let e = map_status(
        401,
        br#"{"statusCode":401,"message":"Unauthorized. Access token is missing"}"#,
        None,
        &CTX,
    );
    assert!(e.to_string().contains("Access token is missing"));
}

#[test]
fn retry_after_headers() {
    assert_eq!(
        retry_after(Some("250"), Some("3")),
        Some(Duration::from_millis(250))
    );
    assert_eq!(retry_after(None, Some("3")), Some(Duration::from_secs(3)));
    assert_eq!(
        retry_after(Some("junk"), Some("1.5")),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        retry_after(None, Some("Wed, 21 Oct 2015 07:28:00 GMT")),
        None
    );
    assert_eq!(retry_after(Some("-5"), None), None);
}

/// The connect timeout covers TLS too: a peer that takes the TCP connection and never
/// answers the TLS hello is a timeout after the connect timeout, not a wait for the
/// read timeout.
#[tokio::test]
async fn a_tls_handshake_that_never_answers_is_a_timeout_after_the_connect_timeout() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = silent.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket); // accepted, never answered
        }
    });
    let p = provider_with(
        &deployment(&format!("https://127.0.0.1:{port}"), "d"),
        &llmroute_azure::ClientOptions {
            connect_timeout: std::time::Duration::from_millis(200),
            ..Default::default()
        },
    );
    let started = std::time::Instant::now();
    let e = p.chat(&hello()).await.expect_err("no TLS answer");
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("connect timeout of 0.2s"), "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
