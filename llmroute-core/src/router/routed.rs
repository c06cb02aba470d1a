//! What the router hands back: the answer with where it came from, or the error with
//! the same bookkeeping, so the server can log the deployment and export its own overhead.

use std::time::Duration;

use crate::error::Error;

/// A successful answer, and how the router got it.
#[derive(Debug)]
pub struct Routed<T> {
    /// The answer (a [`crate::Completion`] or a [`crate::ChatStream`]).
    pub value: T,
    /// Id of the deployment that served it.
    pub deployment: String,
    /// The model group that answered: the requested one, or a fallback.
    pub model_group: String,
    /// Upstream calls made, the successful one included (1 when nothing was retried).
    pub attempts: u32,
    /// Time spent waiting on upstreams: provider calls plus backoff waits between them.
    /// For streams, up to the first chunk. The request's total time minus this is
    /// llmroute's own overhead.
    pub upstream_time: Duration,
    /// Of `upstream_time`, the time spent waiting between attempts (backoff, or a
    /// cooldown this request caused) rather than calling a deployment.
    pub waited: Duration,
    /// Every attempt that failed before this answer (retries and fallbacks recovered
    /// from them), in order; empty when the first call answered.
    pub failures: Vec<AttemptFailure>,
}

/// One upstream call that failed, as the router saw it.
#[derive(Debug, Clone)]
pub struct AttemptFailure {
    /// Id of the deployment called.
    pub deployment: String,
    /// What it answered (or the timeout / connection error).
    pub error: Error,
    /// How long the call took.
    pub elapsed: Duration,
}

impl<T> Routed<T> {
    /// The same bookkeeping around another value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Routed<U> {
        Routed {
            value: f(self.value),
            deployment: self.deployment,
            model_group: self.model_group,
            attempts: self.attempts,
            upstream_time: self.upstream_time,
            waited: self.waited,
            failures: self.failures,
        }
    }
}

/// A request the router could not serve.
#[derive(Debug, Clone)]
pub struct RouteError {
    /// What went wrong; its status, OpenAI type and code are what the caller gets.
    pub error: Error,
    /// The deployment whose answer this is, when an upstream answered.
    pub deployment: Option<String>,
    /// Upstream calls made (0 when none was possible, e.g. an unknown model).
    pub attempts: u32,
    /// Time spent waiting on upstreams, as in [`Routed::upstream_time`].
    pub upstream_time: Duration,
    /// Every attempt that failed, in order. When `error` is an upstream's answer, it is
    /// the last entry's; it can also be the router's own (every deployment cooling
    /// down), after failed attempts or none.
    pub failures: Vec<AttemptFailure>,
}

impl RouteError {
    /// An error raised before any upstream call.
    pub fn before_upstream(error: Error) -> Self {
        RouteError {
            error,
            deployment: None,
            attempts: 0,
            upstream_time: Duration::ZERO,
            failures: Vec::new(),
        }
    }
}

impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)?;
        match &self.deployment {
            Some(d) => write!(f, " (deployment {d}, after {} attempt(s))", self.attempts),
            None if self.attempts > 0 => write!(f, " (after {} attempt(s))", self.attempts),
            None => Ok(()),
        }
    }
}

impl std::error::Error for RouteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<RouteError> for Error {
    fn from(e: RouteError) -> Self {
        e.error
    }
}
