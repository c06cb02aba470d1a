//! Building responses: JSON bodies, OpenAI-shaped errors, and the headers every
//! response carries.

use std::convert::Infallible;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use http::{Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use llmroute_core::Error;

/// The body type of every response.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A whole body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A response with `content-type` and a body.
pub fn with_body(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A JSON response from already-serialized bytes.
pub fn json_bytes(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    with_body(status, "application/json", body)
}

/// A JSON response from a serializable value.
pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => json_bytes(status, bytes),
        Err(e) => error(&Error::internal(format!("serializing the response: {e}"))),
    }
}

/// The OpenAI-shaped error response for `err`, with `retry-after` when it has one.
pub fn error(err: &Error) -> Response<Body> {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = json_bytes(status, err.to_json());
    if let Some(after) = err.retry_after() {
        let secs = after.as_secs_f64().ceil().max(1.0) as u64;
        let headers = resp.headers_mut();
        headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        headers.insert(
            "retry-after-ms",
            HeaderValue::from(after.as_millis() as u64),
        );
    }
    // A spent budget does not come back by retrying.
    if matches!(err, Error::BudgetExceeded { .. }) {
        resp.headers_mut()
            .insert("x-should-retry", HeaderValue::from_static("false"));
    }
    resp
}

/// Sets a header from a string, skipping values that are not valid header text.
pub fn set_header(resp: &mut Response<Body>, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}
