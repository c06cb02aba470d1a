//! A provider of your own behind the llmroute router.
//!
//! Implements [`Provider`] for a tiny in-process "model" that shouts the prompt back,
//! puts it in the same model group as the built-in mock, and lets the router fail over
//! to it when the first deployment is out of service.
//!
//! ```text
//! cargo run -p llmroute-core --example custom_provider
//! ```

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use llmroute_core::mock::MockProvider;
use llmroute_core::router::{DeploymentLimits, Router};
use llmroute_core::types::{ChatRequest, Message};
use llmroute_core::{ChatStream, Completion, Error, Provider, Result};

/// Answers with the last user message in capitals; fails its first `outages` calls with a
/// 503 so the router's failover shows.
struct Shouter {
    outages: AtomicU32,
    inner: MockProvider,
}

#[async_trait]
impl Provider for Shouter {
    fn name(&self) -> &str {
        "shouter"
    }

    async fn chat(&self, request: &ChatRequest) -> Result<Completion> {
        if self.outages.load(Ordering::SeqCst) > 0 {
            self.outages.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::Upstream {
                status: 503,
                message: "shouter is resting".into(),
            });
        }
        let mut done = self.inner.chat(request).await?;
        for choice in &mut done.response_mut().choices {
            choice.message.content = choice.message.content.take().map(|t| t.to_uppercase());
        }
        Ok(done)
    }

    async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream> {
        self.inner.chat_stream(request).await
    }

    async fn health(&self) -> Result<Duration> {
        Ok(Duration::ZERO)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let shouter = Arc::new(Shouter {
        outages: AtomicU32::new(1),
        inner: MockProvider::echo("shouter-1"),
    });
    let router = Router::builder()
        .deployment(
            "chat",
            shouter,
            DeploymentLimits {
                order: Some(1),
                ..Default::default()
            },
        )
        .deployment(
            "chat",
            Arc::new(MockProvider::echo("echo-1")),
            DeploymentLimits {
                order: Some(2),
                ..Default::default()
            },
        )
        .num_retries(2)
        .build()?;

    for round in 1..=2 {
        let request = ChatRequest::new("chat", vec![Message::user("hello from a custom provider")]);
        let routed = router.chat(&request).await.map_err(|e| e.error)?;
        println!(
            "round {round}: {:?} answered by {} after {} attempt(s)",
            routed.value.response().first_text().unwrap_or_default(),
            routed.deployment,
            routed.attempts
        );
    }
    Ok(())
}
