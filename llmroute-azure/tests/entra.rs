//! Entra ID: bearer tokens from the client-credentials flow, cached, refreshed before
//! expiry, fetched once under concurrency.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use llmroute_azure::fake::{FakeAzure, FakeConfig};
use llmroute_azure::{AzureClient, ClientCredentials, TokenProvider};
use llmroute_core::{Error, Provider, Secret};

/// `n` chat calls at once through one Entra provider with this client secret, on a fake
/// whose token endpoint takes 50 ms; the fake and each call's outcome.
async fn concurrent_chats(secret: &str, n: usize) -> (FakeAzure, Vec<Result<(), Error>>) {
    let fake = fake_with(FakeConfig {
        deployments: vec!["d".into()],
        token_delay: Duration::from_millis(50),
        ..FakeConfig::default()
    })
    .await;
    let p = Arc::new(provider(&entra_deployment(&fake, "d", secret), false));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { p.chat(&hello()).await.map(|_| ()) })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("join"));
    }
    (fake, results)
}

#[tokio::test]
async fn a_hundred_concurrent_requests_fetch_one_token() {
    let (fake, results) = concurrent_chats("fake-client-secret", 100).await;
    for r in results {
        r.expect("chat with an Entra token");
    }
    assert_eq!(fake.token_requests(), 1);
    assert_eq!(fake.calls(), 100);
    let headers = fake.last_request_headers().expect("recorded");
    assert_eq!(
        headers.get("authorization").and_then(|v| v.to_str().ok()),
        Some("Bearer fake-entra-token-1")
    );
    assert!(
        headers.get("api-key").is_none(),
        "exactly one credential header"
    );
}

/// Client credentials the fake accepts, for tenant `t`, fetched from the fake's token URL.
fn fake_credentials(fake: &FakeAzure) -> llmroute_core::config::EntraCredentials {
    llmroute_core::config::EntraCredentials {
        tenant_id: "t".into(),
        client_id: "fake-client-id".into(),
        client_secret: Secret::new("fake-client-secret"),
        token_url: Some(fake.token_url("t")),
    }
}

#[tokio::test]
async fn token_is_refreshed_before_it_expires() {
    let fake = fake_with(FakeConfig {
        deployments: vec!["d".into()],
        token_ttl: Duration::from_secs(1),
        ..FakeConfig::default()
    })
    .await;
    let creds = fake_credentials(&fake);
    let tokens = ClientCredentials::new(&creds, &AzureClient::new().expect("client"));
    let first = tokens.token().await.expect("token");
    assert_eq!(
        tokens.token().await.expect("cached").expose(),
        first.expose()
    );
    assert_eq!(fake.token_requests(), 1);
    // Halfway through a 1 s lifetime the token is refreshed, before it expires.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let second = tokens.token().await.expect("refreshed");
    assert_ne!(second.expose(), first.expose());
    assert_eq!(fake.token_requests(), 2);
    // And the refreshed token works on the chat route.
    let p = provider(&entra_deployment(&fake, "d", "fake-client-secret"), false);
    assert!(p.chat(&hello()).await.is_ok());
}

#[tokio::test]
async fn a_hundred_concurrent_callers_at_refresh_time_fetch_one_new_token() {
    let fake = fake_with(FakeConfig {
        deployments: vec!["d".into()],
        token_ttl: Duration::from_secs(1),
        token_delay: Duration::from_millis(50),
        ..FakeConfig::default()
    })
    .await;
    let creds = fake_credentials(&fake);
    let tokens = Arc::new(ClientCredentials::new(
        &creds,
        &AzureClient::new().expect("client"),
    ));
    let first = tokens.token().await.expect("token");
    assert_eq!(fake.token_requests(), 1);
    // Past the refresh point (half of 1 s), before expiry: 100 callers at once.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.token().await.map(|t| t.expose().to_string()) })
        })
        .collect();
    for t in tasks {
        t.await
            .expect("join")
            .expect("a valid token for every caller");
    }
    assert_eq!(fake.token_requests(), 2, "one refresh for all of them");
    let now = tokens.token().await.expect("token");
    assert_ne!(now.expose(), first.expose(), "the refreshed token is used");
}

#[tokio::test]
async fn wrong_client_secret_is_an_upstream_auth_error_naming_the_fix() {
    let fake = fake(&["d"]).await;
    let p = provider(&entra_deployment(&fake, "d", "not-the-secret"), false);
    let e = p.chat(&hello()).await.expect_err("token refused");
    assert!(matches!(e, Error::UpstreamAuth { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("client_secret") && msg.contains("AADSTS7000215"),
        "{msg}"
    );
    assert!(!msg.contains("not-the-secret"));
    assert_eq!(fake.calls(), 0, "no chat call without a token");
}

#[tokio::test]
async fn concurrent_callers_share_one_failed_token_request() {
    let (fake, results) = concurrent_chats("not-the-secret", 20).await;
    for r in results {
        assert!(matches!(r, Err(Error::UpstreamAuth { .. })));
    }
    assert_eq!(
        fake.token_requests(),
        1,
        "waiters reuse the failure instead of retrying serially"
    );
}

#[tokio::test]
async fn a_fixed_azure_ad_token_is_sent_as_bearer_and_a_bad_one_is_a_401() {
    let fake = fake(&["d"]).await;
    let mut cfg = deployment(&fake.base_url(), "d");
    cfg.api_key = None;
    cfg.azure_ad_token = Some(Secret::new("not-issued-by-entra"));
    let e = provider(&cfg, false).chat(&hello()).await.expect_err("401");
    assert!(matches!(e, Error::UpstreamAuth { .. }));
    assert!(e.to_string().contains("Entra ID token"), "{e}");
    assert_eq!(
        fake.last_request_headers()
            .and_then(|h| h.get("authorization").cloned())
            .and_then(|v| v.to_str().ok().map(str::to_string)),
        Some("Bearer not-issued-by-entra".to_string())
    );
}

#[tokio::test]
async fn api_key_as_bearer_works_on_v1_only() {
    let fake = fake(&["d"]).await;
    let mut cfg = deployment(&fake.base_url(), "d");
    cfg.api_key = None;
    cfg.azure_ad_token = Some(Secret::new(KEY));
    assert!(
        provider(&cfg, false).chat(&hello()).await.is_err(),
        "classic route wants api-key"
    );
    cfg.api_version = Some("v1".into());
    assert!(provider(&cfg, false).chat(&hello()).await.is_ok());
}
