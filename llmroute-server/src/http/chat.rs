//! `POST /v1/chat/completions` (and its aliases): authenticate, parse, route, answer.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Incoming;
use llmroute_core::auth::Principal;
use llmroute_core::router::{RouteError, Routed};
use llmroute_core::types::ChatRequest;
use llmroute_core::{ChatStream, Completion, Error};

use super::body::{parse_json, read_limited};
use super::credentials::presented_key;
use super::response::{self, set_header, Body};
use super::sse::SseBody;
use crate::accounting::{Ledger, Outcome};
use crate::gateway::Gateway;
use crate::metrics::RequestLabels;

/// Where a chat request came in.
#[derive(Debug, Clone)]
pub enum ChatRoute {
    /// `/v1/chat/completions` or `/chat/completions`: the model is in the body.
    OpenAi,
    /// `/openai/deployments/{name}/chat/completions`: the model is the path's name.
    AzureDeployment(String),
}

/// Serves one chat completion, streamed or whole.
pub async fn handle(
    gw: Arc<Gateway>,
    req: Request<Incoming>,
    route: ChatRoute,
    request_id: String,
) -> Response<Body> {
    let started = Instant::now();
    let started_at = SystemTime::now();
    let (principal, chat) = match admit(&gw, req, route).await {
        Ok(admitted) => admitted,
        Err(err) => {
            let model = "-".to_string();
            gw.metrics
                .requests
                .get_or_create(&RequestLabels {
                    route: "chat_completions",
                    model,
                    status: err.status(),
                })
                .inc();
            return response::error(&err);
        }
    };
    let key_spend = principal.key.as_ref().map(|k| k.spend);
    let spending =
        match crate::spending::admit(&principal, &chat, &gw.estimator, &gw.limiter, &gw.budgets)
            .await
        {
            Ok(spending) => spending,
            Err(err) => return refused(&gw, err),
        };
    let mut ledger = Ledger::open(
        gw.clone(),
        request_id,
        "chat_completions",
        started,
        started_at,
        Some(principal),
        chat.model.clone(),
        chat.is_stream(),
    );
    ledger.attach(spending);
    let router = gw.routing().router.clone();
    if chat.is_stream() {
        let include_usage = chat.wants_stream_usage();
        match router.chat_stream(&chat).await {
            Ok(routed) => stream_response(routed, include_usage, ledger, key_spend),
            Err(failed) => failure(failed, ledger),
        }
    } else {
        match router.chat(&chat).await {
            Ok(routed) => whole_response(routed, ledger, key_spend),
            Err(failed) => failure(failed, ledger),
        }
    }
}

/// A request refused by its key's own limits (budget, rpm, tpm).
fn refused(gw: &Gateway, err: Error) -> Response<Body> {
    let reason = match &err {
        Error::BudgetExceeded { .. } => "budget_exceeded",
        Error::RateLimited { .. } => "key_rate_limited",
        _ => "other",
    };
    gw.metrics.reject(reason);
    gw.metrics
        .requests
        .get_or_create(&RequestLabels {
            route: "chat_completions",
            model: "-".to_string(),
            status: err.status(),
        })
        .inc();
    response::error(&err)
}

/// Authentication, body, and the checks that need no upstream.
async fn admit(
    gw: &Gateway,
    req: Request<Incoming>,
    route: ChatRoute,
) -> Result<(Principal, ChatRequest), Error> {
    let key = presented_key(req.headers())?;
    let principal = gw.auth.authenticate(key).await?;
    let routing = gw.routing();
    let limit = routing.config.general.max_request_bytes;
    let bytes = read_limited(req.into_body(), limit).await?;
    let mut chat: ChatRequest = parse_json(&bytes)?;
    if let ChatRoute::AzureDeployment(name) = route {
        chat.model = routing.azure_names.get(&name).cloned().unwrap_or(name);
    }
    if chat.model.is_empty() {
        return Err(Error::invalid(
            "`model` is required: the model name from GET /v1/models",
            Some("model"),
            "missing_model",
        ));
    }
    if chat.messages.is_empty() {
        return Err(Error::invalid(
            "`messages` must hold at least one message",
            Some("messages"),
            "empty_messages",
        ));
    }
    if !routing.router.has_model(&chat.model) {
        return Err(Error::ModelNotFound { model: chat.model });
    }
    if let Some(key) = &principal.key {
        if !key.allows_model(&chat.model) {
            return Err(Error::Forbidden {
                message: format!(
                    "this key may not call model '{}'; it may call: {}",
                    chat.model,
                    key.models.join(", ")
                ),
                code: "model_not_allowed",
            });
        }
    }
    Ok((principal, chat))
}

fn routed_headers(resp: &mut Response<Body>, deployment: &str, group: &str, attempts: u32) {
    set_header(resp, "x-llmroute-deployment", deployment);
    set_header(resp, "x-llmroute-model-group", group);
    resp.headers_mut()
        .insert("x-llmroute-attempts", HeaderValue::from(attempts));
}

/// The key's spend so far (LiteLLM's `x-litellm-key-spend`, and ours).
fn spend_headers(resp: &mut Response<Body>, key_spend: Option<f64>) {
    if let Some(spend) = key_spend {
        let text = format!("{spend}");
        set_header(resp, "x-llmroute-key-spend", &text);
        set_header(resp, "x-litellm-key-spend", &text);
    }
}

fn whole_response(
    routed: Routed<Completion>,
    ledger: Ledger,
    key_spend: Option<f64>,
) -> Response<Body> {
    let Routed {
        value,
        deployment,
        model_group,
        attempts,
        upstream_time,
    } = routed;
    let outcome = Outcome {
        status: 200,
        usage: value.response.usage.clone(),
        upstream_model: Some(value.response.model.clone()),
        deployment: Some(deployment.clone()),
        attempts,
        upstream_time,
        upstream_request_id: value.meta.request_id.clone(),
        ..Outcome::default()
    };
    let cost = ledger.cost_of(&outcome);
    let mut resp = response::json(StatusCode::OK, &value.response);
    routed_headers(&mut resp, &deployment, &model_group, attempts);
    set_header(&mut resp, "x-litellm-response-cost", &format!("{cost}"));
    set_header(&mut resp, "x-llmroute-response-cost", &format!("{cost}"));
    spend_headers(&mut resp, key_spend.map(|s| s + cost));
    if let Some(id) = &value.meta.request_id {
        set_header(&mut resp, "apim-request-id", id);
    }
    ledger.close(outcome);
    resp
}

fn stream_response(
    routed: Routed<ChatStream>,
    include_usage: bool,
    ledger: Ledger,
    key_spend: Option<f64>,
) -> Response<Body> {
    let Routed {
        value,
        deployment,
        model_group,
        attempts,
        upstream_time,
    } = routed;
    let outcome = Outcome {
        status: 200,
        deployment: Some(deployment.clone()),
        attempts,
        upstream_time,
        upstream_request_id: value.meta.request_id.clone(),
        ..Outcome::default()
    };
    let body = SseBody::new(value.chunks, include_usage, ledger, outcome);
    let mut resp = Response::new(StreamBody::new(body).boxed_unsync());
    let headers = resp.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    routed_headers(&mut resp, &deployment, &model_group, attempts);
    spend_headers(&mut resp, key_spend);
    if let Some(id) = &value.meta.request_id {
        set_header(&mut resp, "apim-request-id", id);
    }
    resp
}

fn failure(failed: RouteError, ledger: Ledger) -> Response<Body> {
    let RouteError {
        error,
        deployment,
        attempts,
        upstream_time,
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
    ledger.close(Outcome {
        status: error.status(),
        error: Some(error.label()),
        upstream_error: error.is_upstream(),
        deployment,
        attempts,
        upstream_time,
        ..Outcome::default()
    });
    resp
}
