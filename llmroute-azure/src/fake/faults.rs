//! Scripted faults: what a test can make the fake do wrong, and the answers of those
//! that replace the normal answer (errors and resets).

use std::time::Duration;

use http::{HeaderValue, StatusCode};

use super::canned::{self, content_filter_error, gateway_error, openai_error};
use super::chat::{bad_request, gateway, Outcome};
use super::server::json_response;
use super::State;
use crate::version::ApiVersion;

/// A scripted misbehaviour for one chat request (see [`FakeAzure::push_fault`](super::FakeAzure::push_fault)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 with Azure's rate-limit message and the given headers.
    RateLimited {
        /// `retry-after` (seconds), if sent.
        retry_after_secs: Option<u64>,
        /// `retry-after-ms`, if sent.
        retry_after_ms: Option<u64>,
    },
    /// 401 `{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint…"}`.
    Unauthorized,
    /// 404 `{"code":"DeploymentNotFound",…}`.
    DeploymentNotFound,
    /// 404 `{"code":"404","message":"Resource not found"}`.
    ResourceNotFound,
    /// 400 content filter (`code: content_filter`, `innererror.content_filter_result`).
    ContentFilter,
    /// 400 `context_length_exceeded` in OpenAI's shape.
    ContextLengthExceeded,
    /// 408.
    RequestTimeout,
    /// A 5xx (500, 503, …) with an OpenAI-style `server_error` body.
    ServerError(u16),
    /// Wait this long before the response headers, then answer normally.
    DelayFirstByte(Duration),
    /// Answer normally but wait this long before each stream chunk.
    SlowStream(Duration),
    /// Stop the answer after this many stream events, without `[DONE]` (a non-streamed
    /// answer is cut in the middle of its JSON).
    CutStream {
        /// Events sent before the cut (the annotation chunk counts).
        after_events: usize,
    },
    /// Send a `data: {"error":…}` event after this many events, then close.
    MidStreamError {
        /// Events sent before the error.
        after_events: usize,
    },
    /// Close the TCP connection with a reset, without any response.
    ConnectionReset,
    /// 307 Temporary Redirect to this URL (what a misconfigured proxy in front might do).
    Redirect(String),
}

/// The answer of a fault that replaces the normal answer.
pub(crate) fn fault_answer(state: &State, fault: &Fault, version: &ApiVersion) -> Option<Outcome> {
    Some(match fault {
        Fault::RateLimited { retry_after_secs, retry_after_ms } => {
            let secs = retry_after_secs.or(retry_after_ms.map(|ms| ms.div_ceil(1000))).unwrap_or(1);
            let message = format!(
                "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version {} have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after {secs} seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.",
                version.raw
            );
            let mut resp = json_response(state, StatusCode::TOO_MANY_REQUESTS, gateway_error("429", &message));
            let h = resp.headers_mut();
            if let Some(s) = retry_after_secs {
                h.insert("retry-after", HeaderValue::from(*s));
            }
            if let Some(ms) = retry_after_ms {
                h.insert("retry-after-ms", HeaderValue::from(*ms));
            }
            h.insert("policy-id", HeaderValue::from_static("DeploymentRatelimit-Token"));
            Outcome::Response(resp)
        }
        Fault::Unauthorized => gateway(state, StatusCode::UNAUTHORIZED, "401", canned::UNAUTHORIZED),
        Fault::DeploymentNotFound => gateway(state, StatusCode::NOT_FOUND, "DeploymentNotFound", canned::DEPLOYMENT_NOT_FOUND),
        Fault::ResourceNotFound => gateway(state, StatusCode::NOT_FOUND, "404", "Resource not found"),
        Fault::ContentFilter => Outcome::Response(json_response(state, StatusCode::BAD_REQUEST, content_filter_error())),
        Fault::ContextLengthExceeded => bad_request(
            state,
            "This model's maximum context length is 128000 tokens. However, your messages resulted in 192041 tokens. Please reduce the length of the messages.",
            Some("messages"),
            Some("context_length_exceeded"),
        ),
        Fault::RequestTimeout => Outcome::Response(json_response(
            state,
            StatusCode::REQUEST_TIMEOUT,
            gateway_error("408", "The operation was timeout."),
        )),
        Fault::ServerError(status) => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message = if status == StatusCode::SERVICE_UNAVAILABLE {
                "That model is currently overloaded with other requests. You can retry your request, or contact us through an Azure support request at: https://go.microsoft.com/fwlink/?linkid=2213926 if the error persists."
            } else {
                "The server had an error while processing your request. Sorry about that!"
            };
            Outcome::Response(json_response(state, status, openai_error(message, "server_error", None, None)))
        }
        Fault::ConnectionReset => Outcome::Reset,
        Fault::Redirect(location) => {
            let mut resp = json_response(state, StatusCode::TEMPORARY_REDIRECT, bytes::Bytes::new());
            if let Ok(v) = HeaderValue::from_str(location) {
                resp.headers_mut().insert(http::header::LOCATION, v);
            }
            Outcome::Response(resp)
        }
        Fault::DelayFirstByte(_) | Fault::SlowStream(_) | Fault::CutStream { .. } | Fault::MidStreamError { .. } => {
            return None
        }
    })
}
