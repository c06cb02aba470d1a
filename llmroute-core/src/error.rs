//! The one error type of llmroute, and its single mapping to HTTP and OpenAI's error body.
//!
//! Each variant decides, in one exhaustive match each, its HTTP status, OpenAI error
//! `type` and `code`, whether the router may retry it, and a low-cardinality label for
//! metrics. Messages say what failed, whose fault it is, and what to do.

use std::time::Duration;

use crate::types::{ErrorBody, ErrorDetail};

/// Result with llmroute's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong between a client and an upstream model.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The caller's request is malformed or asks for something impossible (400).
    #[error("{message}")]
    InvalidRequest {
        /// What is wrong and how to fix it.
        message: String,
        /// The request field at fault.
        param: Option<String>,
        /// Stable code, e.g. `invalid_json`, `unsupported_parameter`.
        code: &'static str,
    },
    /// The upstream's content filter blocked the prompt or the answer (400, billed).
    #[error("{message}")]
    ContentFilter {
        /// Upstream's explanation.
        message: String,
        /// Upstream's filter results, kept for the caller.
        detail: Option<serde_json::Value>,
    },
    /// The prompt is longer than the model's context window (400).
    #[error("{message}")]
    ContextLengthExceeded {
        /// Upstream's explanation.
        message: String,
    },
    /// The caller's own credential is missing, malformed or unknown (401).
    #[error("{message}")]
    Unauthorized {
        /// What is wrong with the credential; never the full key.
        message: String,
        /// `missing_api_key`, `malformed_api_key`, `invalid_api_key`, `key_expired`, ...
        code: &'static str,
    },
    /// The caller's key is valid but may not do this (403).
    #[error("{message}")]
    Forbidden {
        /// What is not allowed.
        message: String,
        /// `model_not_allowed`, `key_blocked`, `admin_only`, ...
        code: &'static str,
    },
    /// No model group with this name is configured (404).
    #[error("model '{model}' is not configured here; GET /v1/models lists the models this gateway serves")]
    ModelNotFound {
        /// The name the caller asked for.
        model: String,
    },
    /// The route does not exist (404).
    #[error("no route for {method} {path}")]
    RouteNotFound {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
    },
    /// The route exists but not with this method (405).
    #[error("{method} is not allowed on {path}; use {allowed}")]
    MethodNotAllowed {
        /// HTTP method used.
        method: String,
        /// Request path.
        path: String,
        /// Methods the route accepts.
        allowed: &'static str,
    },
    /// The request body is larger than the configured limit (413).
    #[error("request body is larger than the limit of {limit_bytes} bytes; send smaller images or raise general_settings.max_request_size_mb")]
    PayloadTooLarge {
        /// The limit.
        limit_bytes: usize,
    },
    /// The caller is over a rate limit, or every deployment is cooling down (429).
    #[error("{message}")]
    RateLimited {
        /// Which limit, and when to retry.
        message: String,
        /// When a retry may succeed.
        retry_after: Option<Duration>,
        /// Whether the limit was reported by an upstream (retryable on another deployment).
        upstream: bool,
    },
    /// The caller's key has spent its budget (400, like LiteLLM; never worth retrying).
    #[error("{message}")]
    BudgetExceeded {
        /// Spend and budget.
        message: String,
    },
    /// The upstream rejected the gateway's credential (401 from Azure).
    #[error("{message}")]
    UpstreamAuth {
        /// Upstream's explanation plus the likely fix.
        message: String,
    },
    /// The upstream says the deployment or path does not exist (404 from Azure).
    #[error("{message}")]
    UpstreamNotFound {
        /// Upstream's explanation plus the likely fix.
        message: String,
        /// `DeploymentNotFound` or `resource_not_found`.
        code: &'static str,
    },
    /// The upstream did not answer in time (408).
    #[error("{message}")]
    Timeout {
        /// What timed out and after how long.
        message: String,
    },
    /// The upstream answered with a 5xx, or an unexpected status (passed on, or 502).
    #[error("{message}")]
    Upstream {
        /// Upstream status.
        status: u16,
        /// Upstream's explanation.
        message: String,
    },
    /// The upstream could not be reached, or the connection broke (502).
    #[error("{message}")]
    UpstreamConnection {
        /// What was being done and why it failed.
        message: String,
    },
    /// The upstream's answer could not be understood, or a stream ended early (502).
    #[error("{message}")]
    UpstreamProtocol {
        /// What was malformed.
        message: String,
    },
    /// A dependency of the gateway itself (database) is unavailable (503).
    #[error("{message}")]
    Unavailable {
        /// What is unavailable and what still works.
        message: String,
    },
    /// A bug or an unexpected state inside the gateway (500).
    #[error("internal error: {message}")]
    Internal {
        /// What failed.
        message: String,
    },
}

impl Error {
    /// A 400 for a malformed request.
    pub fn invalid(message: impl Into<String>, param: Option<&str>, code: &'static str) -> Self {
        Error::InvalidRequest {
            message: message.into(),
            param: param.map(str::to_string),
            code,
        }
    }

    /// A 500 for an unexpected state.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal {
            message: message.into(),
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Error::InvalidRequest { .. }
            | Error::ContentFilter { .. }
            | Error::ContextLengthExceeded { .. }
            | Error::BudgetExceeded { .. } => 400,
            Error::Unauthorized { .. } | Error::UpstreamAuth { .. } => 401,
            Error::Forbidden { .. } => 403,
            Error::ModelNotFound { .. }
            | Error::RouteNotFound { .. }
            | Error::UpstreamNotFound { .. } => 404,
            Error::MethodNotAllowed { .. } => 405,
            Error::Timeout { .. } => 408,
            Error::PayloadTooLarge { .. } => 413,
            Error::RateLimited { .. } => 429,
            Error::Internal { .. } => 500,
            Error::Upstream { status, .. } if (500..=599).contains(status) => *status,
            Error::Upstream { .. }
            | Error::UpstreamConnection { .. }
            | Error::UpstreamProtocol { .. } => 502,
            Error::Unavailable { .. } => 503,
        }
    }

    /// OpenAI's error `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidRequest { .. }
            | Error::ContentFilter { .. }
            | Error::ContextLengthExceeded { .. }
            | Error::ModelNotFound { .. }
            | Error::RouteNotFound { .. }
            | Error::MethodNotAllowed { .. }
            | Error::PayloadTooLarge { .. }
            | Error::UpstreamNotFound { .. } => "invalid_request_error",
            Error::Unauthorized { .. } | Error::UpstreamAuth { .. } => "authentication_error",
            Error::Forbidden { .. } => "permission_error",
            Error::RateLimited { .. } => "rate_limit_error",
            Error::BudgetExceeded { .. } => "budget_exceeded",
            Error::Timeout { .. } => "timeout_error",
            Error::Upstream { .. }
            | Error::UpstreamConnection { .. }
            | Error::UpstreamProtocol { .. } => "upstream_error",
            Error::Unavailable { .. } => "service_unavailable",
            Error::Internal { .. } => "internal_error",
        }
    }

    /// OpenAI's error `code`.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Error::InvalidRequest { code, .. } => code,
            Error::ContentFilter { .. } => "content_filter",
            Error::ContextLengthExceeded { .. } => "context_length_exceeded",
            Error::Unauthorized { code, .. } | Error::Forbidden { code, .. } => code,
            Error::ModelNotFound { .. } => "model_not_found",
            Error::RouteNotFound { .. } => "not_found",
            Error::MethodNotAllowed { .. } => "method_not_allowed",
            Error::PayloadTooLarge { .. } => "request_too_large",
            Error::RateLimited { upstream: true, .. } => "upstream_rate_limited",
            Error::RateLimited { .. } => "rate_limit_exceeded",
            Error::BudgetExceeded { .. } => "budget_exceeded",
            Error::UpstreamAuth { .. } => "upstream_auth_failed",
            Error::UpstreamNotFound { code, .. } => code,
            Error::Timeout { .. } => "timeout",
            Error::Upstream { .. } => "upstream_error",
            Error::UpstreamConnection { .. } => "upstream_unreachable",
            Error::UpstreamProtocol { .. } => "upstream_protocol_error",
            Error::Unavailable { .. } => "service_unavailable",
            Error::Internal { .. } => return None,
        })
    }

    /// The request field at fault, when known.
    pub fn param(&self) -> Option<&str> {
        match self {
            Error::InvalidRequest { param, .. } => param.as_deref(),
            Error::ModelNotFound { .. } => Some("model"),
            // Azure names the prompt as the field at fault of a content-filter refusal.
            Error::ContentFilter { .. } => Some("prompt"),
            _ => None,
        }
    }

    /// Whether the router may try again (same or another deployment).
    ///
    /// Retried: 408, 429 from an upstream, 5xx, connection errors and timeouts.
    /// Never: the caller's own faults (400, 401, 403, 404) and the gateway's own limits.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { upstream, .. } => *upstream,
            // 5xx, and a 3xx (a misconfigured endpoint: another deployment may be fine);
            // any other 4xx is about the request and would fail everywhere.
            Error::Upstream { status, .. } => !(400..500).contains(status),
            Error::Timeout { .. }
            | Error::UpstreamConnection { .. }
            | Error::UpstreamProtocol { .. } => true,
            Error::InvalidRequest { .. }
            | Error::ContentFilter { .. }
            | Error::ContextLengthExceeded { .. }
            | Error::Unauthorized { .. }
            | Error::Forbidden { .. }
            | Error::ModelNotFound { .. }
            | Error::RouteNotFound { .. }
            | Error::MethodNotAllowed { .. }
            | Error::PayloadTooLarge { .. }
            | Error::BudgetExceeded { .. }
            | Error::UpstreamAuth { .. }
            | Error::UpstreamNotFound { .. }
            | Error::Unavailable { .. }
            | Error::Internal { .. } => false,
        }
    }

    /// Whether the error came from an upstream rather than the caller or the gateway.
    pub fn is_upstream(&self) -> bool {
        matches!(
            self,
            Error::ContentFilter { .. }
                | Error::ContextLengthExceeded { .. }
                | Error::RateLimited { upstream: true, .. }
                | Error::UpstreamAuth { .. }
                | Error::UpstreamNotFound { .. }
                | Error::Timeout { .. }
                | Error::Upstream { .. }
                | Error::UpstreamConnection { .. }
                | Error::UpstreamProtocol { .. }
        )
    }

    /// A low-cardinality label for metrics; never free text.
    pub fn label(&self) -> &'static str {
        match self {
            Error::InvalidRequest { .. } => "invalid_request",
            Error::ContentFilter { .. } => "content_filter",
            Error::ContextLengthExceeded { .. } => "context_length",
            Error::Unauthorized { .. } => "unauthorized",
            Error::Forbidden { .. } => "forbidden",
            Error::ModelNotFound { .. } => "model_not_found",
            Error::RouteNotFound { .. } => "route_not_found",
            Error::MethodNotAllowed { .. } => "method_not_allowed",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::RateLimited { upstream: true, .. } => "upstream_rate_limited",
            Error::RateLimited { .. } => "rate_limited",
            Error::BudgetExceeded { .. } => "budget_exceeded",
            Error::UpstreamAuth { .. } => "upstream_auth",
            Error::UpstreamNotFound { .. } => "upstream_not_found",
            Error::Timeout { .. } => "timeout",
            Error::Upstream { .. } => "upstream_status",
            Error::UpstreamConnection { .. } => "upstream_connection",
            Error::UpstreamProtocol { .. } => "upstream_protocol",
            Error::Unavailable { .. } => "unavailable",
            Error::Internal { .. } => "internal",
        }
    }

    /// When the caller may retry, for the `retry-after` header.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The OpenAI-shaped body for this error.
    pub fn to_body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                message: self.to_string(),
                kind: self.kind().to_string(),
                param: self.param().map(str::to_string),
                code: self.code().map(str::to_string),
            },
        }
    }

    /// The OpenAI-shaped body, serialized; content-filter details are kept.
    pub fn to_json(&self) -> Vec<u8> {
        let mut value = serde_json::to_value(self.to_body()).unwrap_or_default();
        if let (
            Error::ContentFilter {
                detail: Some(d), ..
            },
            Some(err),
        ) = (self, value.get_mut("error").and_then(|e| e.as_object_mut()))
        {
            err.insert("innererror".to_string(), d.clone());
        }
        serde_json::to_vec(&value).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_faults_are_never_retried_and_upstream_limits_are() {
        assert!(!Error::invalid("bad", None, "invalid_json").is_retryable());
        assert!(!Error::ContentFilter {
            message: "x".into(),
            detail: None
        }
        .is_retryable());
        assert!(!Error::UpstreamAuth {
            message: "x".into()
        }
        .is_retryable());
        let limited = Error::RateLimited {
            message: "slow down".into(),
            retry_after: Some(Duration::from_millis(1500)),
            upstream: true,
        };
        assert!(limited.is_retryable());
        assert_eq!(limited.status(), 429);
        assert_eq!(limited.retry_after(), Some(Duration::from_millis(1500)));
        assert!(Error::Upstream {
            status: 503,
            message: "x".into()
        }
        .is_retryable());
    }

    #[test]
    fn body_has_openai_shape_and_content_filter_detail() {
        let e = Error::ContentFilter {
            message: "filtered".into(),
            detail: Some(
                serde_json::json!({"content_filter_result": {"hate": {"filtered": true}}}),
            ),
        };
        let v: serde_json::Value = serde_json::from_slice(&e.to_json()).expect("json");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["code"], "content_filter");
        assert_eq!(v["error"]["param"], "prompt", "as Azure sends it");
        assert_eq!(
            v["error"]["innererror"]["content_filter_result"]["hate"]["filtered"],
            true
        );
        assert_eq!(e.status(), 400);
    }

    #[test]
    fn upstream_statuses_pass_through_when_5xx_else_502() {
        assert_eq!(
            Error::Upstream {
                status: 503,
                message: String::new()
            }
            .status(),
            503
        );
        assert_eq!(
            Error::Upstream {
                status: 418,
                message: String::new()
            }
            .status(),
            502
        );
    }
}
