//! Pure error translation: Azure's error bodies and statuses to [`llmroute_core::Error`].
//!
//! Azure answers errors in three body families, parsed here into one [`AzureErrorBody`]:
//! 1. gateway errors `{"error":{"code":"401","message":"…"}}` (`code` a string, a
//!    number-like string, a number, or null);
//! 2. model errors in OpenAI's shape `{"error":{"message","type","param","code"}}`;
//! 3. content-filter errors with `innererror` or `inner_error` holding
//!    `content_filter_result` or `content_filter_results`.
//!
//! Anything else (HTML from a proxy, an empty body) still maps by status. Messages say
//! what Azure said, which deployment, and the likely fix; they never contain a key.

use std::time::Duration;

use llmroute_core::Error;
use serde_json::Value;

/// The parts of an Azure error body that matter, whichever family it came in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AzureErrorBody {
    /// `error.code` as text (`"401"`, `"DeploymentNotFound"`, `"content_filter"`, ...).
    pub code: Option<String>,
    /// `error.message`.
    pub message: Option<String>,
    /// `error.type` (OpenAI family).
    pub kind: Option<String>,
    /// `error.param` (OpenAI family).
    pub param: Option<String>,
    /// `innererror.code` (`ResponsibleAIPolicyViolation`).
    pub inner_code: Option<String>,
    /// The content-filter verdicts, under whichever spelling Azure used.
    pub filter_results: Option<Value>,
}

impl AzureErrorBody {
    /// Parses any body; never fails (an unparseable body gives empty fields).
    pub fn parse(body: &[u8]) -> AzureErrorBody {
        let Ok(root) = serde_json::from_slice::<Value>(body) else {
            return AzureErrorBody::default();
        };
        // `{"error":{…}}`, or the error object itself (APIM sometimes sends
        // `{"statusCode":401,"message":"…"}`).
        let err = match root.get("error") {
            Some(e @ Value::Object(_)) => e,
            Some(Value::String(s)) => {
                return AzureErrorBody {
                    message: Some(s.clone()),
                    ..Default::default()
                }
            }
            _ => &root,
        };
        let inner = err.get("innererror").or_else(|| err.get("inner_error"));
        let filter_results = inner
            .and_then(|i| {
                i.get("content_filter_result")
                    .or_else(|| i.get("content_filter_results"))
            })
            .cloned();
        AzureErrorBody {
            code: err.get("code").and_then(text),
            message: err.get("message").and_then(text),
            kind: err.get("type").and_then(text),
            param: err.get("param").and_then(text),
            inner_code: inner.and_then(|i| i.get("code")).and_then(text),
            filter_results,
        }
    }

    /// Whether this is a content-filter refusal.
    pub fn is_content_filter(&self) -> bool {
        self.code.as_deref() == Some("content_filter")
            || self.inner_code.as_deref() == Some("ResponsibleAIPolicyViolation")
            || self.filter_results.is_some()
    }

    /// Whether this is a context-window overflow.
    pub fn is_context_length(&self) -> bool {
        self.code.as_deref() == Some("context_length_exceeded")
            || self
                .message
                .as_deref()
                .is_some_and(|m| m.contains("maximum context length"))
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// What the error is about, for messages.
#[derive(Debug, Clone, Copy)]
pub struct ErrorContext<'a> {
    /// Azure deployment name.
    pub deployment: &'a str,
    /// The resource endpoint (`api_base`).
    pub api_base: &'a str,
    /// The api-version in use.
    pub api_version: &'a str,
    /// Whether the credential is an Entra ID token (else an api-key).
    pub entra: bool,
    /// Azure's `apim-request-id`, for support tickets.
    pub request_id: Option<&'a str>,
}

/// Retry delay from `retry-after-ms` (preferred) then `retry-after` (seconds).
pub fn retry_after(retry_after_ms: Option<&str>, retry_after: Option<&str>) -> Option<Duration> {
    let ms = retry_after_ms
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| Duration::from_secs_f64(v.min(1e9) / 1000.0));
    ms.or_else(|| {
        retry_after
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| Duration::from_secs_f64(v.min(1e9)))
    })
}

/// Maps an error status and body to llmroute's error. `retry` is the parsed retry delay
/// of a 429 (see [`retry_after`]).
pub fn map_status(
    status: u16,
    body: &[u8],
    retry: Option<Duration>,
    ctx: &ErrorContext<'_>,
) -> Error {
    let parsed = AzureErrorBody::parse(body);
    let said = parsed.message.clone().unwrap_or_else(|| snippet(body));
    let rid = ctx
        .request_id
        .map(|r| format!(" (apim-request-id {r})"))
        .unwrap_or_default();
    let dep = ctx.deployment;
    match status {
        _ if parsed.is_content_filter() => Error::ContentFilter {
            message: format!(
                "Azure's content filter blocked the request to deployment {dep}: {said}{rid}; \
                 the prompt is billed; rephrase it or adjust the deployment's content filter policy"
            ),
            detail: Some(filter_detail(&parsed)),
        },
        _ if parsed.is_context_length() => Error::ContextLengthExceeded {
            message: format!("{said} (Azure deployment {dep}){rid}"),
        },
        400 => {
            let hint = if said.contains("Unrecognized request argument") {
                format!(
                    "; api-version {} may be too old for this field: use 2024-10-21 or v1, or set drop_params",
                    ctx.api_version
                )
            } else {
                String::new()
            };
            Error::InvalidRequest {
                message: format!("Azure deployment {dep} rejected the request: {said}{hint}{rid}"),
                param: parsed.param.clone(),
                code: "upstream_bad_request",
            }
        }
        401 => Error::UpstreamAuth {
            message: if ctx.entra {
                format!(
                    "Azure rejected llmroute's Entra ID token for deployment {dep} at {}: {said}{rid}; \
                     check tenant_id/client_id/client_secret and that the app has the \
                     'Cognitive Services OpenAI User' role on this resource",
                    ctx.api_base
                )
            } else {
                format!(
                    "Azure rejected llmroute's api-key for deployment {dep} at {}: {said}{rid}; \
                     the key is invalid or belongs to another resource, or api_base is the wrong \
                     regional endpoint: check api_key and api_base of this deployment",
                    ctx.api_base
                )
            },
        },
        403 => Error::UpstreamAuth {
            message: format!(
                "Azure refused access to deployment {dep} at {}: {said}{rid}; check the identity's role \
                 ('Cognitive Services OpenAI User'), the resource's network rules, and whether key \
                 auth is disabled on the resource",
                ctx.api_base
            ),
        },
        404 if parsed.code.as_deref() == Some("DeploymentNotFound") => Error::UpstreamNotFound {
            message: format!(
                "Azure resource {} has no deployment named {dep}: {said}{rid}; use the deployment \
                 name from Azure AI Foundry (not the model name) in litellm_params.model: azure/<deployment>",
                ctx.api_base
            ),
            code: "DeploymentNotFound",
        },
        404 => Error::UpstreamNotFound {
            message: format!(
                "Azure answered 404 ({said}) for deployment {dep} at {} with api-version {}{rid}: \
                 wrong api-version or path; api_base must be https://<resource>.openai.azure.com \
                 and api_version a released version such as 2024-10-21 (or v1)",
                ctx.api_base, ctx.api_version
            ),
            code: "resource_not_found",
        },
        300..=399 => Error::Upstream {
            status,
            message: format!(
                "Azure deployment {dep} at {} answered {status}, a redirect{rid}; llmroute does not \
                 follow redirects (they would carry the credential elsewhere): set api_base to the \
                 endpoint itself, https://<resource>.openai.azure.com, with https",
                ctx.api_base
            ),
        },
        408 => Error::Timeout {
            message: format!("Azure deployment {dep} timed out the request (408): {said}{rid}"),
        },
        429 => Error::RateLimited {
            message: format!("Azure deployment {dep} is rate limited: {said}{rid}"),
            retry_after: retry.or_else(|| retry_from_message(&said)),
            upstream: true,
        },
        _ => Error::Upstream {
            status,
            message: format!("Azure deployment {dep} answered {status}: {said}{rid}"),
        },
    }
}

/// Maps an `{"error":…}` object received inside a stream (after the 200).
pub fn map_stream_error(data: &[u8], ctx: &ErrorContext<'_>) -> Error {
    let parsed = AzureErrorBody::parse(data);
    if parsed.is_content_filter() {
        return map_status(400, data, None, ctx);
    }
    let said = parsed.message.unwrap_or_else(|| snippet(data));
    Error::Upstream {
        status: 502,
        message: format!(
            "Azure deployment {} reported an error in the middle of the stream: {said}",
            ctx.deployment
        ),
    }
}

fn filter_detail(parsed: &AzureErrorBody) -> Value {
    let mut obj = serde_json::Map::new();
    if let Some(code) = &parsed.inner_code {
        obj.insert("code".into(), Value::String(code.clone()));
    }
    if let Some(results) = &parsed.filter_results {
        obj.insert("content_filter_result".into(), results.clone());
    }
    Value::Object(obj)
}

/// "Please retry after 45 seconds." in Azure's 429 message.
fn retry_from_message(message: &str) -> Option<Duration> {
    let at = message.find("retry after ")? + "retry after ".len();
    let digits: String = message[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().map(Duration::from_secs)
}

/// The start of a non-JSON body, for messages.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".to_string()
    } else {
        text.to_string()
    }
}
