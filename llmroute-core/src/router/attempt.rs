//! One attempt: one call to one deployment, bounded in time, with its bookkeeping
//! (in flight, request counted, latency, reported headroom, tokens used).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::time::{timeout_at, Instant};

use super::counters::Counters;
use super::deployment::Deployment;
use super::retry::CooldownPolicy;
use super::stream::{resume, StreamTail};
use crate::error::{Error, Result};
use crate::provider::{ChatStream, Completion};
use crate::types::ChatRequest;

/// Which call the caller wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `Provider::chat`.
    Unary,
    /// `Provider::chat_stream`, read up to its first chunk.
    Stream,
}

/// The answer of a successful attempt.
pub(crate) enum Answer {
    /// A complete answer.
    Unary(Box<Completion>),
    /// A stream whose first chunk has arrived (and is put back in front).
    Stream(ChatStream),
}

/// What an attempt needs besides the deployment and the request.
pub(crate) struct AttemptContext<'a> {
    pub counters: &'a Arc<dyn Counters>,
    /// The end of the whole request's time budget.
    pub deadline: Instant,
    /// The router's time-to-first-chunk timeout for streams.
    pub stream_timeout: Option<Duration>,
    pub group_size: usize,
    pub policy: CooldownPolicy,
}

/// Calls `deployment` once.
pub(crate) async fn attempt(
    ctx: &AttemptContext<'_>,
    deployment: &Arc<Deployment>,
    req: &ChatRequest,
    mode: Mode,
) -> Result<Answer> {
    let in_flight = deployment.stats.start();
    let id = deployment.id.as_str();
    if let Err(e) = ctx.counters.add_usage(id, 1, 0).await {
        tracing::warn!(deployment = id, error = %e, "could not count a request in the router counters");
    }
    let started = Instant::now();
    let (deadline, what) = match deployment.limits.timeout {
        Some(t) if started + t < ctx.deadline => (
            started + t,
            format!("its timeout of {t:?} (litellm_params.timeout)"),
        ),
        _ => (
            ctx.deadline,
            "the request's timeout (router_settings.timeout)".to_string(),
        ),
    };
    let timed_out = |what: &str| {
        Error::Timeout {
        message: format!(
            "deployment {id} ({}) did not answer within {what}; it will be retried elsewhere if time and retries remain",
            deployment.provider.name()
        ),
    }
    };
    match mode {
        Mode::Unary => {
            let done = timeout_at(deadline, deployment.provider.chat(req))
                .await
                .map_err(|_| timed_out(&what))??;
            deployment.stats.record_latency(started.elapsed());
            deployment.stats.record_meta(&done.meta);
            let tokens = done.usage().map_or(0, |u| u.total_tokens);
            if tokens > 0 {
                if let Err(e) = ctx.counters.add_usage(id, 0, tokens).await {
                    tracing::warn!(deployment = id, error = %e, "could not count tokens in the router counters");
                }
            }
            Ok(Answer::Unary(Box::new(done)))
        }
        Mode::Stream => {
            let (first_by, what) = match deployment.limits.stream_timeout.or(ctx.stream_timeout) {
                Some(t) if started + t < deadline => (
                    started + t,
                    format!("its time-to-first-chunk timeout of {t:?} (stream_timeout)"),
                ),
                _ => (deadline, what),
            };
            let mut open = timeout_at(first_by, deployment.provider.chat_stream(req))
                .await
                .map_err(|_| timed_out(&what))??;
            let first = timeout_at(first_by, open.chunks.next())
                .await
                .map_err(|_| timed_out(&what))?;
            let first = match first {
                Some(chunk) => chunk?,
                None => {
                    return Err(Error::UpstreamProtocol {
                        message: format!(
                            "the stream from deployment {id} ended before its first chunk"
                        ),
                    })
                }
            };
            deployment.stats.record_latency(started.elapsed());
            deployment.stats.record_meta(&open.meta);
            let tail = StreamTail {
                in_flight,
                deployment: Arc::clone(deployment),
                counters: Arc::clone(ctx.counters),
                group_size: ctx.group_size,
                policy: ctx.policy,
            };
            Ok(Answer::Stream(ChatStream {
                meta: open.meta,
                chunks: resume(first, open.chunks, tail),
            }))
        }
    }
}
