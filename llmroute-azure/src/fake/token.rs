//! The fake's Entra ID token endpoint (`POST /{tenant}/oauth2/v2.0/token`), client
//! credentials only. Issued tokens are remembered until they expire, and the chat routes
//! accept them as `Authorization: Bearer`.

use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use http::{Response, StatusCode};
use serde_json::json;

use super::server::{full, Body};
use super::State;
use crate::entra::COGNITIVE_SERVICES_SCOPE;

fn answer(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut resp = Response::new(full(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

fn refused(error: &str, description: &str) -> Response<Body> {
    let status = if error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    answer(
        status,
        json!({"error": error, "error_description": description, "error_codes": [7000215]}),
    )
}

pub(crate) async fn handle(state: &State, body: &[u8]) -> Response<Body> {
    let n = state.token_requests.fetch_add(1, Ordering::Relaxed) + 1;
    if !state.cfg.token_delay.is_zero() {
        tokio::time::sleep(state.cfg.token_delay).await;
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("grant_type") != Some("client_credentials") {
        return refused(
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type; use client_credentials.",
        );
    }
    if field("scope") != Some(COGNITIVE_SERVICES_SCOPE) {
        return refused(
            "invalid_scope",
            "AADSTS70011: The provided value for the input parameter 'scope' is not valid.",
        );
    }
    if field("client_id") != Some(state.cfg.entra_client_id.as_str())
        || field("client_secret") != Some(state.cfg.entra_client_secret.as_str())
    {
        return refused("invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.");
    }
    let token = format!("fake-entra-token-{n}");
    let ttl = state.cfg.token_ttl;
    if let Ok(mut tokens) = state.tokens.lock() {
        let now = Instant::now();
        tokens.retain(|_, exp| *exp > now);
        tokens.insert(token.clone(), now + ttl);
    }
    let secs = ttl.as_secs().max(1);
    answer(
        StatusCode::OK,
        json!({"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": token}),
    )
}
