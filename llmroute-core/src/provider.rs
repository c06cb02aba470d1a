//! The `Provider` trait: one value per deployment (endpoint + deployment + credentials).

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures::Stream;

use crate::error::Result;
use crate::types::{ChatChunk, ChatRequest};

pub use crate::completion::Completion;

/// What an upstream said about itself alongside an answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpstreamMeta {
    /// The upstream's request id (Azure's `apim-request-id`), for the logs.
    pub request_id: Option<String>,
    /// Requests left in the current window (`x-ratelimit-remaining-requests`).
    pub remaining_requests: Option<u64>,
    /// Tokens left in the current window (`x-ratelimit-remaining-tokens`).
    pub remaining_tokens: Option<u64>,
    /// Region that served it (`x-ms-region`), when reported.
    pub region: Option<String>,
    /// Parameters dropped before sending (`drop_params`), to warn the caller about.
    pub dropped_params: Vec<&'static str>,
}

/// The chunks of a streamed answer, as they arrive.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<ChatChunk>> + Send + 'static>>;

/// A streamed answer: metadata known when the response headers arrived, then chunks.
///
/// The stream yields chat chunks, and a final usage-only chunk when the upstream sends
/// one (providers always ask for it, so usage is known); it ends after upstream's
/// `[DONE]`, or with an error if the upstream stopped early. Whether the caller sees the
/// usage chunk is decided at the edge, by [`ChatRequest::wants_stream_usage`].
pub struct ChatStream {
    /// Upstream headers of interest.
    pub meta: UpstreamMeta,
    /// The chunks.
    pub chunks: ChunkStream,
}

impl std::fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatStream")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// A model deployment that answers chat completions.
///
/// Implementations translate the request for their upstream, send it, and map the
/// upstream's errors to [`crate::Error`] so the router can decide what to retry.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// A short name for logs and metrics, e.g. `azure/gpt4o-eastus`.
    fn name(&self) -> &str;

    /// One complete answer.
    async fn chat(&self, request: &ChatRequest) -> Result<Completion>;

    /// A streamed answer. Resolves once the upstream has accepted the request (its
    /// response headers arrived), so errors before the first byte are returned here.
    async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream>;

    /// A cheap check that the deployment is reachable and the credential works.
    /// Returns how long it took.
    async fn health(&self) -> Result<Duration>;
}
