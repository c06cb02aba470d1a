//! The fake's chat-completions routes: Azure's checks in Azure's order, scripted faults,
//! and the canned answers.

use std::borrow::Cow;

use bytes::Bytes;
use http::request::Parts;
use http::{Response, StatusCode};
use serde::de::IgnoredAny;
use serde::Deserialize;

use super::canned::{self, gateway_error, openai_error};
use super::faults::fault_answer;
use super::server::{json_response, Body};
use super::stream::stream_answer;
use super::tools::{self, ProbeMessage, ProbeTool};
use super::{Fault, RecordedRequest, State};
use crate::version::{ApiVersion, Feature};

/// api-versions the classic route accepts (GA and preview, inference data plane).
const KNOWN_VERSIONS: &[&str] = &[
    "2022-12-01",
    "2023-05-15",
    "2024-02-01",
    "2024-06-01",
    "2024-10-21",
    "2024-02-15-preview",
    "2024-03-01-preview",
    "2024-04-01-preview",
    "2024-05-01-preview",
    "2024-07-01-preview",
    "2024-08-01-preview",
    "2024-09-01-preview",
    "2024-10-01-preview",
    "2024-12-01-preview",
    "2025-01-01-preview",
    "2025-02-01-preview",
    "2025-03-01-preview",
    "2025-04-01-preview",
];

/// Which chat route a path is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Route<'a> {
    /// `/openai/deployments/{deployment}/chat/completions`.
    Classic(&'a str),
    /// `/openai/v1/chat/completions`.
    V1,
}

impl<'a> Route<'a> {
    pub(crate) fn of(path: &'a str) -> Option<Route<'a>> {
        if path == "/openai/v1/chat/completions" {
            return Some(Route::V1);
        }
        let deployment = path
            .strip_prefix("/openai/deployments/")?
            .strip_suffix("/chat/completions")?;
        (!deployment.is_empty() && !deployment.contains('/')).then_some(Route::Classic(deployment))
    }
}

/// What the service does with a request.
pub(crate) enum Outcome {
    /// Answer.
    Response(Response<Body>),
    /// Drop the connection with a reset.
    Reset,
}

#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    messages: Option<Vec<ProbeMessage<'a>>>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<ProbeStreamOptions>,
    #[serde(default)]
    max_completion_tokens: Option<IgnoredAny>,
    #[serde(default)]
    parallel_tool_calls: Option<IgnoredAny>,
    #[serde(borrow, default)]
    response_format: Option<ProbeFormat<'a>>,
    #[serde(borrow, default)]
    tools: Option<Vec<ProbeTool<'a>>>,
    #[serde(default)]
    tool_choice: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ProbeStreamOptions {
    #[serde(default)]
    include_usage: Option<bool>,
}

#[derive(Deserialize)]
struct ProbeFormat<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
}

fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub(crate) fn bad_request(
    state: &State,
    message: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Outcome {
    Outcome::Response(json_response(
        state,
        StatusCode::BAD_REQUEST,
        openai_error(message, "invalid_request_error", param, code),
    ))
}

pub(crate) fn gateway(state: &State, status: StatusCode, code: &str, message: &str) -> Outcome {
    Outcome::Response(json_response(state, status, gateway_error(code, message)))
}

/// Whether the request carries exactly one valid credential.
fn authorized(state: &State, parts: &Parts, v1: bool) -> Result<(), &'static str> {
    let key = parts.headers.get("api-key");
    let bearer = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match (key, bearer) {
        (Some(_), Some(_)) => {
            Err("Both api-key and Authorization headers were sent; send exactly one credential.")
        }
        (Some(k), None) if k.as_bytes() == state.cfg.api_key.as_bytes() => Ok(()),
        (None, Some(t)) if v1 && t == state.cfg.api_key => Ok(()),
        (None, Some(t)) => {
            let valid = state
                .tokens
                .lock()
                .map(|tokens| {
                    tokens
                        .get(t)
                        .is_some_and(|exp| *exp > std::time::Instant::now())
                })
                .unwrap_or(false);
            if valid {
                Ok(())
            } else {
                Err(canned::UNAUTHORIZED)
            }
        }
        _ => Err(canned::UNAUTHORIZED),
    }
}

pub(crate) async fn handle(state: &State, route: Route<'_>, parts: &Parts, body: Bytes) -> Outcome {
    state.record(RecordedRequest {
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_string(), |p| p.to_string()),
        headers: parts.headers.clone(),
        body: body.clone(),
        version: parts.version,
    });
    let probe = serde_json::from_slice::<Probe<'_>>(&body);
    let deployment: Option<&str> = match (&route, &probe) {
        (Route::Classic(d), _) => Some(d),
        (Route::V1, Ok(p)) => p.model.as_deref(),
        (Route::V1, Err(_)) => None,
    };
    state.count_call(deployment);
    let v1 = matches!(route, Route::V1);
    if let Err(message) = authorized(state, parts, v1) {
        return gateway(state, StatusCode::UNAUTHORIZED, "401", message);
    }
    let version = query_param(parts.uri.query(), "api-version");
    let version_ok = match (v1, version) {
        (true, None) => true,
        (true, Some(v)) => matches!(v, "v1" | "preview" | "latest"),
        (false, Some(v)) => KNOWN_VERSIONS.contains(&v),
        (false, None) => false,
    };
    if !version_ok {
        return gateway(state, StatusCode::NOT_FOUND, "404", "Resource not found");
    }
    let version = ApiVersion::parse(if v1 { Some("v1") } else { version });
    let probe = match &probe {
        Ok(p) => p,
        Err(e) => {
            let message = format!("We could not parse the JSON body of your request. ({e})");
            return bad_request(state, &message, None, None);
        }
    };
    let Some(deployment) = deployment else {
        return bad_request(
            state,
            "Missing required parameter: 'model'.",
            Some("model"),
            Some("missing_required_parameter"),
        );
    };
    if !state.cfg.deployments.iter().any(|d| d == deployment) {
        return gateway(
            state,
            StatusCode::NOT_FOUND,
            "DeploymentNotFound",
            canned::DEPLOYMENT_NOT_FOUND,
        );
    }
    let fault = state.take_fault(deployment);
    if let Some(outcome) = fault
        .as_ref()
        .and_then(|f| fault_answer(state, f, &version))
    {
        return outcome;
    }
    if let Some(outcome) = validate(state, probe, &version) {
        return outcome;
    }
    let call = match tools::forced_call(state, probe.tools.as_deref(), probe.tool_choice.as_ref()) {
        Ok(call) => call,
        Err(outcome) => return *outcome,
    };
    let stream = probe.stream.unwrap_or(false);
    let usage = probe
        .stream_options
        .as_ref()
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    let mut delay = state.cfg.latency;
    if let Some(Fault::DelayFirstByte(d)) = &fault {
        delay += *d;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    Outcome::Response(if stream {
        stream_answer(state, usage, fault.as_ref(), call.as_ref())
    } else {
        let body = match &call {
            Some(call) => tools::completion(state, call),
            None => state.canned.completion.clone(),
        };
        let body = match fault {
            Some(Fault::CutStream { .. }) => body.slice(..body.len() / 2),
            _ => body,
        };
        json_response(state, StatusCode::OK, body)
    })
}

/// Azure's 400s for a body the deployment cannot take.
fn validate(state: &State, probe: &Probe<'_>, version: &ApiVersion) -> Option<Outcome> {
    let messages = probe.messages.as_deref().unwrap_or_default();
    if probe.messages.is_none() {
        return Some(bad_request(
            state,
            "'messages' is a required property",
            Some("messages"),
            None,
        ));
    }
    if messages.is_empty() {
        return Some(bad_request(
            state,
            "[] is too short - 'messages'",
            Some("messages"),
            None,
        ));
    }
    if let Some(i) = messages.iter().position(|m| m.role == "developer") {
        let message = "Invalid value: 'developer'. Supported values are: 'system', 'assistant', 'user', 'function', and 'tool'.";
        return Some(bad_request(
            state,
            message,
            Some(&format!("messages[{i}].role")),
            Some("invalid_value"),
        ));
    }
    if let Some(outcome) = tools::check_messages(state, messages) {
        return Some(outcome);
    }
    let unrecognized = [
        (probe.stream_options.is_some(), Feature::StreamOptions),
        (
            probe.max_completion_tokens.is_some(),
            Feature::MaxCompletionTokens,
        ),
        (
            probe.parallel_tool_calls.is_some(),
            Feature::ParallelToolCalls,
        ),
    ];
    for (present, feature) in unrecognized {
        if present && !version.supports(feature) {
            let message = format!(
                "Unrecognized request argument supplied: {}",
                feature.param()
            );
            return Some(bad_request(state, &message, None, None));
        }
    }
    if probe
        .response_format
        .as_ref()
        .is_some_and(|f| f.kind == "json_schema")
        && !version.supports(Feature::JsonSchema)
    {
        let message =
            "Invalid value: 'json_schema'. Supported values are: 'text' and 'json_object'.";
        return Some(bad_request(
            state,
            message,
            Some("response_format.type"),
            Some("invalid_value"),
        ));
    }
    if probe.stream_options.is_some() && !probe.stream.unwrap_or(false) {
        let message = "The 'stream_options' parameter is only allowed when 'stream' is enabled.";
        return Some(bad_request(state, message, Some("stream_options"), None));
    }
    None
}
