//! Reading a request body under a size limit, and parsing it as JSON with a useful error.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use llmroute_core::Error;
use serde::de::DeserializeOwned;

/// Reads the whole body, refusing more than `limit` bytes with a 413.
pub async fn read_limited(body: Incoming, limit: usize) -> Result<Bytes, Error> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(Error::PayloadTooLarge { limit_bytes: limit })
        }
        Err(e) => Err(Error::invalid(
            format!("could not read the request body: {e}"),
            None,
            "body_read_error",
        )),
    }
}

/// Parses JSON, turning serde's error into a 400 that names the position and the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.is_empty() {
        return Err(Error::invalid(
            "the request body is empty; send a JSON object",
            None,
            "invalid_json",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let code = match e.classify() {
            serde_json::error::Category::Data => "invalid_request_body",
            _ => "invalid_json",
        };
        Error::invalid(format!("invalid request body: {e}"), None, code)
    })
}
