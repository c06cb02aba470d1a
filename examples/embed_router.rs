//! Embedding the llmroute router in an application.
//!
//! Builds a router over two deployments of `gpt-4o` in code (two in-process mock
//! providers standing in for two Azure regions, so this runs anywhere), then makes a
//! non-streaming and a streaming call and prints which deployment answered.
//!
//! ```text
//! cargo run -p llmroute-core --example embed_router
//! ```
//!
//! For real Azure deployments, build the providers with `llmroute-azure` instead, or
//! load a LiteLLM `config.yaml` and call `Router::from_config`.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use llmroute_core::mock::MockProvider;
use llmroute_core::router::{DeploymentLimits, Router, Strategy};
use llmroute_core::types::{ChatRequest, Message};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let east = Arc::new(MockProvider::fixed("gpt-4o-eastus", "Hello from East US."));
    let sweden = Arc::new(MockProvider::fixed(
        "gpt-4o-sweden",
        "Hello from Sweden Central.",
    ));

    let router = Router::builder()
        // Tier 1: provisioned throughput, used first while it has headroom.
        .deployment(
            "gpt-4o",
            east,
            DeploymentLimits {
                id: Some("eastus-ptu".into()),
                order: Some(1),
                rpm: Some(600),
                ..Default::default()
            },
        )
        // Tier 2: pay-as-you-go spill-over.
        .deployment(
            "gpt-4o",
            sweden,
            DeploymentLimits {
                id: Some("sweden-paygo".into()),
                order: Some(2),
                ..Default::default()
            },
        )
        .strategy(Strategy::SimpleShuffle)
        .num_retries(2)
        .timeout(Duration::from_secs(30))
        .stream_timeout(Duration::from_secs(5))
        .build()?;

    let request = ChatRequest::new("gpt-4o", vec![Message::user("Say hello.")]);

    let answer = router.chat(&request).await?;
    println!(
        "non-streaming: {:?} (deployment {}, {} attempt(s), {:?} upstream)",
        answer.value.response().first_text().unwrap_or_default(),
        answer.deployment,
        answer.attempts,
        answer.upstream_time,
    );

    let stream = router.chat_stream(&request).await?;
    print!("streaming from {}: ", stream.deployment);
    let mut chunks = stream.value.chunks;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        for choice in &chunk.choices {
            print!("{}", choice.delta.content.as_deref().unwrap_or_default());
        }
        if let Some(usage) = &chunk.usage {
            print!(" [{} tokens]", usage.total_tokens);
        }
        std::io::stdout().flush()?;
    }
    println!();
    Ok(())
}
