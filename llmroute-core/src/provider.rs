//! The `Provider` trait: one value per deployment (endpoint + deployment + credentials).

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

use crate::error::Result;
use crate::types::{ChatChunk, ChatRequest, ChatResponse};

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

/// A non-streaming answer with its upstream metadata.
///
/// It may also carry the exact bytes the upstream sent, when [`Completion::response`] was
/// parsed from them: a proxy then forwards those bytes instead of serializing the
/// response again. Changing the response through [`Completion::response_mut`] drops
/// them, so what is sent is always what the response says.
#[derive(Debug, Clone)]
pub struct Completion {
    response: ChatResponse,
    upstream_body: Option<Bytes>,
    /// Upstream headers of interest.
    pub meta: UpstreamMeta,
}

impl Completion {
    /// An answer built in process (nothing to forward verbatim).
    pub fn new(response: ChatResponse, meta: UpstreamMeta) -> Completion {
        Completion {
            response,
            upstream_body: None,
            meta,
        }
    }

    /// An answer parsed from `body`, the upstream's JSON exactly as received. `response`
    /// must be what `body` parses to (the lossless types keep every field).
    pub fn parsed_from(body: Bytes, response: ChatResponse, meta: UpstreamMeta) -> Completion {
        Completion {
            response,
            upstream_body: Some(body),
            meta,
        }
    }

    /// The answer.
    pub fn response(&self) -> &ChatResponse {
        &self.response
    }

    /// The answer, to change; the upstream's bytes are dropped, since they no longer
    /// match it.
    pub fn response_mut(&mut self) -> &mut ChatResponse {
        self.upstream_body = None;
        &mut self.response
    }

    /// The upstream's JSON exactly as received, while it still matches
    /// [`Completion::response`].
    pub fn upstream_body(&self) -> Option<&Bytes> {
        self.upstream_body.as_ref()
    }

    /// The answer, the upstream's bytes (if they still match it), and the metadata.
    pub fn into_parts(self) -> (ChatResponse, Option<Bytes>, UpstreamMeta) {
        (self.response, self.upstream_body, self.meta)
    }

    /// The answer alone.
    pub fn into_response(self) -> ChatResponse {
        self.response
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changing_the_response_drops_the_upstream_bytes() {
        let body = Bytes::from_static(br#"{"id":"a","choices":[]}"#);
        let response: ChatResponse = serde_json::from_slice(&body).expect("parse");
        let mut done = Completion::parsed_from(body.clone(), response, UpstreamMeta::default());
        assert_eq!(done.upstream_body(), Some(&body));
        assert_eq!(done.response().id, "a");
        done.response_mut().id = "b".into();
        assert_eq!(done.upstream_body(), None);
        let (response, bytes, _) = done.into_parts();
        assert_eq!((response.id.as_str(), bytes), ("b", None));
    }
}
