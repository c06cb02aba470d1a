//! Helpers shared by the integration tests: a fake Azure and providers pointed at it.

#![allow(dead_code)]

use futures::StreamExt;
use llmroute_azure::fake::{FakeAzure, FakeConfig};
use llmroute_azure::{AzureClient, AzureProvider, ClientOptions};
use llmroute_core::config::{DeploymentConfig, EntraCredentials, ProviderKind};
use llmroute_core::types::{ChatChunk, ChatRequest, Message};
use llmroute_core::{Error, Provider, Secret};

/// The key `FakeConfig::default()` accepts.
pub const KEY: &str = "fake-azure-key";

/// A deployment entry for `deployment` at `base` with the fake's key.
pub fn deployment(base: &str, deployment: &str) -> DeploymentConfig {
    DeploymentConfig {
        model_name: "gpt-4o".into(),
        id: format!("{deployment}-0"),
        provider: ProviderKind::Azure,
        deployment: deployment.into(),
        api_base: Some(base.to_string()),
        api_key: Some(Secret::new(KEY)),
        api_version: None,
        entra: None,
        azure_ad_token: None,
        rpm: None,
        tpm: None,
        weight: 1.0,
        order: None,
        timeout: None,
        stream_timeout: None,
        mock_response: None,
        price: None,
        base_model: None,
    }
}

/// The same deployment authenticated with Entra client credentials against the fake.
pub fn entra_deployment(fake: &FakeAzure, name: &str, secret: &str) -> DeploymentConfig {
    let mut cfg = deployment(&fake.base_url(), name);
    cfg.api_key = None;
    cfg.entra = Some(EntraCredentials {
        tenant_id: "tenant-1".into(),
        client_id: "fake-client-id".into(),
        client_secret: Secret::new(secret),
        token_url: Some(fake.token_url("tenant-1")),
    });
    cfg
}

/// A fake serving the given deployments with default answers.
pub async fn fake(deployments: &[&str]) -> FakeAzure {
    fake_with(FakeConfig {
        deployments: deployments.iter().map(|d| d.to_string()).collect(),
        ..FakeConfig::default()
    })
    .await
}

/// A fake with a custom config.
pub async fn fake_with(cfg: FakeConfig) -> FakeAzure {
    FakeAzure::start(cfg).await.expect("start fake azure")
}

/// A provider for `cfg`, on a fresh client.
pub fn provider(cfg: &DeploymentConfig, drop_params: bool) -> AzureProvider {
    let client = AzureClient::new().expect("client");
    AzureProvider::from_config(cfg, drop_params, &client).expect("provider")
}

/// A provider for `cfg`, on a client built with `options`.
pub fn provider_with(cfg: &DeploymentConfig, options: &ClientOptions) -> AzureProvider {
    let client = AzureClient::with_options(options).expect("client");
    AzureProvider::from_config(cfg, false, &client).expect("provider")
}

/// Every item of `p`'s stream for `req`, once the stream was accepted.
pub async fn collect(p: &AzureProvider, req: &ChatRequest) -> Vec<Result<ChatChunk, Error>> {
    p.chat_stream(req)
        .await
        .expect("stream accepted")
        .chunks
        .collect()
        .await
}

/// A one-message request.
pub fn hello() -> ChatRequest {
    ChatRequest::new("gpt-4o", vec![Message::user("hi")])
}

/// The concatenated text of stream chunks.
pub fn text_of(chunks: &[llmroute_core::types::ChatChunk]) -> String {
    chunks
        .iter()
        .flat_map(|c| c.choices.iter())
        .filter_map(|c| c.delta.content.clone())
        .collect()
}

/// A port bound but not listening: a connection to it is refused, and no other test
/// can take it while the returned socket is alive (a port bound and released at once
/// could be reused by a server of a test running alongside).
pub fn closed_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let port = socket.local_addr().expect("addr").port();
    (socket, port)
}
