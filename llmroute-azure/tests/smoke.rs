//! End-to-end smoke test: the provider against the fake, both routes.

use futures::StreamExt;
use llmroute_azure::fake::{FakeAzure, FakeConfig};
use llmroute_azure::{AzureClient, AzureProvider};
use llmroute_core::config::{DeploymentConfig, ProviderKind};
use llmroute_core::types::{ChatRequest, Message};
use llmroute_core::{Provider, Secret};

fn deployment(base: &str, version: Option<&str>) -> DeploymentConfig {
    DeploymentConfig {
        model_name: "gpt-4o".into(),
        id: "gpt-4o-0".into(),
        provider: ProviderKind::Azure,
        deployment: "gpt-4o".into(),
        api_base: Some(base.to_string()),
        api_key: Some(Secret::new("fake-azure-key")),
        api_version: version.map(str::to_string),
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

#[tokio::test]
async fn chat_and_stream_on_both_routes() {
    let fake = FakeAzure::start(FakeConfig::default()).await.expect("fake");
    let client = AzureClient::new().expect("client");
    for version in [None, Some("v1")] {
        let p = AzureProvider::from_config(&deployment(&fake.base_url(), version), false, &client)
            .expect("provider");
        let req = ChatRequest::new("gpt-4o", vec![Message::user("hi")]);
        let done = p.chat(&req).await.expect("chat");
        assert_eq!(
            done.response.first_text(),
            Some("Hello! How can I help you today?")
        );
        let s = p.chat_stream(&req).await.expect("stream");
        let chunks: Vec<_> = s.chunks.collect().await;
        assert!(chunks.iter().all(|c| c.is_ok()), "{chunks:?}");
        assert!(chunks
            .last()
            .and_then(|c| c.as_ref().ok())
            .is_some_and(|c| c.is_usage_only()));
    }
    assert_eq!(fake.calls(), 4);
}
