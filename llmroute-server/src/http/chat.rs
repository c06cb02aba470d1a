//! `POST /v1/chat/completions` (and its aliases): authenticate, parse, admit, answer
//! from the cache or route upstream.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::{Request, Response};
use hyper::body::Incoming;
use llmroute_core::auth::Principal;
use llmroute_core::types::ChatRequest;
use llmroute_core::Error;

use super::answer::Answer;
use super::body::{parse_json, read_limited};
use super::credentials::authenticate;
use super::response::{self, Body};
use crate::accounting::Ledger;
use crate::gateway::{Gateway, Routing};
use crate::metrics::NO_MODEL;
use crate::response_cache::CacheUse;

/// Where a chat request came in.
#[derive(Debug, Clone)]
pub enum ChatRoute {
    /// `/v1/chat/completions` or `/chat/completions`: the model is in the body.
    OpenAi,
    /// `/openai/deployments/{name}/chat/completions`: the model is the path's name.
    AzureDeployment(String),
}

/// Serves one chat completion, streamed or whole; `pattern` is the route's label in
/// the metrics, which this handler records.
pub async fn handle(
    gw: Arc<Gateway>,
    req: Request<Incoming>,
    route: ChatRoute,
    pattern: &'static str,
    request_id: String,
) -> Response<Body> {
    let started = Instant::now();
    let started_at = SystemTime::now();
    // One view of the config for the whole request, even if a reload swaps it meanwhile.
    let routing = gw.snapshot();
    let cache_header = req
        .headers()
        .get(http::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (principal, mut chat) = match admit(&gw, &routing, req, route).await {
        Ok(admitted) => admitted,
        Err(err) => return refused(&gw, pattern, started, err, None),
    };
    let key_spend = principal.key.as_ref().map(|k| k.spend);
    let spending = match crate::spending::admit(
        &principal,
        &chat,
        &routing.estimator,
        &gw.limiter,
        &gw.budgets,
    )
    .await
    {
        Ok(spending) => spending,
        Err(err) => {
            let reason = match &err {
                Error::BudgetExceeded { .. } => "budget_exceeded",
                _ => "key_rate_limited",
            };
            return refused(&gw, pattern, started, err, Some(reason));
        }
    };
    let cache = CacheUse::plan(gw.cache.as_ref(), cache_header.as_deref(), &mut chat);
    let mut ledger = Ledger::open(
        gw.clone(),
        routing.clone(),
        request_id,
        pattern,
        started,
        started_at,
        Some(principal),
        chat.model.clone(),
        chat.is_stream(),
    );
    ledger.attach(spending);
    let stream = chat.is_stream();
    let include_usage = chat.wants_stream_usage();
    let prompt_estimate = chat.rough_prompt_tokens();
    let answer = Answer {
        prompt_estimate,
        ledger,
        key_spend,
        include_usage,
    };
    if let Some(cache) = &cache {
        if let Some(hit) = cache.lookup().await {
            return answer.from_cache(&hit, stream);
        }
    }
    let router = &routing.router;
    if stream {
        match router.chat_stream(&chat).await {
            Ok(routed) => answer.stream(routed, cache.and_then(CacheUse::capture)),
            Err(failed) => answer.failure(failed),
        }
    } else {
        match router.chat(&chat).await {
            Ok(routed) => answer.whole(routed, cache),
            Err(failed) => answer.failure(failed),
        }
    }
}

/// A request refused before any upstream call; `reason` counts a refusal by the key's
/// own limits.
fn refused(
    gw: &Gateway,
    pattern: &'static str,
    started: Instant,
    err: Error,
    reason: Option<&'static str>,
) -> Response<Body> {
    if let Some(reason) = reason {
        gw.metrics.reject(reason);
    }
    let resp = response::error(&err);
    gw.metrics
        .finish_request(pattern, NO_MODEL, err.status(), started.elapsed());
    resp
}

/// Authentication, body, and the checks that need no upstream.
async fn admit(
    gw: &Gateway,
    routing: &Routing,
    req: Request<Incoming>,
    route: ChatRoute,
) -> Result<(Principal, ChatRequest), Error> {
    let principal = authenticate(gw, req.headers()).await?;
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
        llmroute_store::check_model(key, &chat.model)?;
    }
    Ok((principal, chat))
}
