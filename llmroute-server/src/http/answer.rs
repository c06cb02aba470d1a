//! The answers to a chat request: whole, streamed, from the cache, or the error, each
//! with its headers, and each closing the request's ledger.

use futures::stream;
use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use llmroute_core::cache::{replay_as_chunks, CachedAnswer};
use llmroute_core::router::{RouteError, Routed};
use llmroute_core::types::Usage;
use llmroute_core::{ChatStream, ChunkStream, Completion, Error, UpstreamMeta};

use super::response::{self, set_header, Body};
use super::sse::SseBody;
use crate::accounting::{Ledger, Outcome};
use crate::response_cache::{CacheUse, StreamCapture};

/// What every answer needs: the open ledger and the caller's choices.
pub struct Answer {
    /// The request's ledger, closed by the answer.
    pub ledger: Ledger,
    /// The key's spend before this request (virtual keys).
    pub key_spend: Option<f64>,
    /// The caller asked for the final usage chunk of a stream.
    pub include_usage: bool,
    /// A cheap estimate of the prompt's tokens (charged if a stream is cut early).
    pub prompt_estimate: u64,
}

impl Answer {
    /// A whole answer from upstream; stored in the cache when allowed.
    pub fn whole(self, routed: Routed<Completion>, cache: Option<CacheUse>) -> Response<Body> {
        let Routed {
            value,
            deployment,
            model_group,
            attempts,
            upstream_time,
            waited,
            failures,
        } = routed;
        let outcome = Outcome {
            status: 200,
            usage: value.usage().cloned(),
            upstream_model: Some(value.model().to_string()),
            deployment: Some(deployment.clone()),
            attempts,
            failures,
            upstream_time,
            waited,
            upstream_request_id: value.meta.request_id.clone(),
            ..Outcome::default()
        };
        // The upstream's own bytes when they still say what the answer says: no parse of
        // the choices and no second serialization on the hot path.
        let mut resp = match value.upstream_body() {
            Some(bytes) => response::json_bytes(StatusCode::OK, bytes.clone()),
            None => response::json(StatusCode::OK, value.response()),
        };
        routed_headers(&mut resp, &deployment, &model_group, attempts, &value.meta);
        cache_header(&mut resp, cache.is_some(), false);
        if let Some(cache) = cache {
            cache.store(value.into_response());
        }
        let cost = self.ledger.close(outcome);
        cost_headers(&mut resp, cost, self.key_spend.map(|s| s + cost));
        resp
    }

    /// A streamed answer from upstream; assembled and cached when complete, if allowed.
    pub fn stream(
        self,
        routed: Routed<ChatStream>,
        capture: Option<StreamCapture>,
    ) -> Response<Body> {
        let Routed {
            value,
            deployment,
            model_group,
            attempts,
            upstream_time,
            waited,
            failures,
        } = routed;
        let outcome = Outcome {
            status: 200,
            deployment: Some(deployment.clone()),
            attempts,
            failures,
            upstream_time,
            waited,
            upstream_request_id: value.meta.request_id.clone(),
            prompt_estimate: self.prompt_estimate,
            ..Outcome::default()
        };
        let cached = capture.is_some();
        let mut resp = sse_response(SseBody::new(
            value.chunks,
            self.include_usage,
            self.ledger,
            outcome,
            capture,
        ));
        routed_headers(&mut resp, &deployment, &model_group, attempts, &value.meta);
        cost_headers(&mut resp, f64::NAN, self.key_spend);
        cache_header(&mut resp, cached, false);
        resp
    }

    /// An answer served from the cache, whole or replayed as a stream; costs nothing.
    pub fn from_cache(self, hit: &CachedAnswer, stream: bool) -> Response<Body> {
        let outcome = Outcome {
            status: 200,
            usage: hit.response.usage.clone(),
            upstream_model: Some(hit.response.model.clone()),
            cache_hit: true,
            ..Outcome::default()
        };
        let mut resp = if stream {
            let chunks = replay_as_chunks(&hit.response, true);
            let chunks: ChunkStream = Box::pin(stream::iter(chunks.into_iter().map(Ok)));
            sse_response(SseBody::new(
                chunks,
                self.include_usage,
                self.ledger,
                outcome,
                None,
            ))
        } else {
            let resp = response::json(StatusCode::OK, &hit.response);
            self.ledger.close(outcome);
            resp
        };
        resp.headers_mut()
            .insert("x-llmroute-attempts", HeaderValue::from(0));
        cost_headers(&mut resp, 0.0, self.key_spend);
        cache_header(&mut resp, true, true);
        resp
    }
    /// The error answer when routing failed. A content-filtered request is charged its
    /// prompt (estimated): Azure bills the prompt of a filtered request.
    pub fn failure(self, failed: RouteError) -> Response<Body> {
        let RouteError {
            error,
            deployment,
            attempts,
            upstream_time,
            failures,
        } = failed;
        let mut resp = response::error(&error);
        if attempts > 1 {
            // The gateway already retried upstream: an SDK retry would multiply the load.
            resp.headers_mut()
                .insert("x-should-retry", HeaderValue::from_static("false"));
        }
        if let Some(d) = &deployment {
            set_header(&mut resp, "x-llmroute-deployment", d);
        }
        resp.headers_mut()
            .insert("x-llmroute-attempts", HeaderValue::from(attempts));
        let billed_prompt = matches!(error, Error::ContentFilter { .. })
            .then(|| Usage::new(self.prompt_estimate, 0));
        self.ledger.close(Outcome {
            status: error.status(),
            error: Some(error.label()),
            upstream_error: error.is_upstream(),
            usage: billed_prompt,
            deployment,
            attempts,
            failures,
            upstream_time,
            ..Outcome::default()
        });
        resp
    }
}

fn sse_response(body: SseBody) -> Response<Body> {
    let mut resp = Response::new(StreamBody::new(body).boxed_unsync());
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// Where the answer came from: deployment, model group, attempts, and Azure's
/// `apim-request-id` when it sent one.
fn routed_headers(
    resp: &mut Response<Body>,
    deployment: &str,
    group: &str,
    attempts: u32,
    meta: &UpstreamMeta,
) {
    set_header(resp, "x-llmroute-deployment", deployment);
    set_header(resp, "x-llmroute-model-group", group);
    resp.headers_mut()
        .insert("x-llmroute-attempts", HeaderValue::from(attempts));
    if let Some(id) = &meta.request_id {
        set_header(resp, "apim-request-id", id);
    }
}

/// The request's cost (unknown until a stream ends: NaN skips it) and the key's spend
/// (LiteLLM's `x-litellm-*` names, and ours).
fn cost_headers(resp: &mut Response<Body>, cost: f64, key_spend: Option<f64>) {
    if !cost.is_nan() {
        let text = format!("{cost}");
        set_header(resp, "x-llmroute-response-cost", &text);
        set_header(resp, "x-litellm-response-cost", &text);
    }
    if let Some(spend) = key_spend {
        let text = format!("{spend}");
        set_header(resp, "x-llmroute-key-spend", &text);
        set_header(resp, "x-litellm-key-spend", &text);
    }
}

/// `x-llmroute-cache: hit | miss` when the cache was consulted.
fn cache_header(resp: &mut Response<Body>, consulted: bool, hit: bool) {
    if consulted {
        let value = if hit { "hit" } else { "miss" };
        resp.headers_mut()
            .insert("x-llmroute-cache", HeaderValue::from_static(value));
    }
}
