//! The attempt loop of one request: a time budget, retries within a model group
//! (moving to another deployment when one is available, else backing off), then the
//! fallback groups.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::attempt::{attempt, Answer, AttemptContext, Mode};
use super::counters::{Counters, UsageSnapshot};
use super::retry::{backoff, record_failure, CooldownPolicy};
use super::select::{estimate_tokens, pick, Pick};
use super::{AttemptFailure, Group, Inner, RouteError, Routed};
use crate::error::Error;
use crate::provider::{ChatStream, Completion};
use crate::types::ChatRequest;

/// How a model group's turn ended without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Retryable failures used up the retries or the time, or the group is cooling
    /// down: the `fallbacks` come next.
    Exhausted,
    /// The prompt is too long: the `context_window_fallbacks` come next.
    ContextWindow,
    /// An answer that no other deployment would change (400, 401, 403, 404).
    Final,
}

struct Failure {
    error: Error,
    deployment: Option<String>,
    ending: Ending,
}

/// One request's progress across attempts.
struct Run<'a> {
    inner: &'a Inner,
    counters: Arc<dyn Counters>,
    mode: Mode,
    deadline: Instant,
    estimate: u64,
    attempts: u32,
    upstream_time: Duration,
    waited: Duration,
    failures: Vec<AttemptFailure>,
}

pub(crate) async fn chat(
    inner: &Inner,
    counters: Arc<dyn Counters>,
    req: &ChatRequest,
) -> Result<Routed<Completion>, RouteError> {
    let routed = route(inner, counters, req, Mode::Unary).await?;
    let (answer, routed) = split(routed);
    match answer {
        Answer::Unary(value) => Ok(routed.map(|()| *value)),
        Answer::Stream(_) => Err(RouteError::before_upstream(Error::internal(
            "the router returned a stream for a non-streaming call",
        ))),
    }
}

pub(crate) async fn chat_stream(
    inner: &Inner,
    counters: Arc<dyn Counters>,
    req: &ChatRequest,
) -> Result<Routed<ChatStream>, RouteError> {
    let routed = route(inner, counters, req, Mode::Stream).await?;
    let (answer, routed) = split(routed);
    match answer {
        Answer::Stream(value) => Ok(routed.map(|()| value)),
        Answer::Unary(_) => Err(RouteError::before_upstream(Error::internal(
            "the router returned a complete answer for a streaming call",
        ))),
    }
}

fn split(routed: Routed<Answer>) -> (Answer, Routed<()>) {
    let Routed {
        value,
        deployment,
        model_group,
        attempts,
        upstream_time,
        waited,
        failures,
    } = routed;
    (
        value,
        Routed {
            value: (),
            deployment,
            model_group,
            attempts,
            upstream_time,
            waited,
            failures,
        },
    )
}

async fn route(
    inner: &Inner,
    counters: Arc<dyn Counters>,
    req: &ChatRequest,
    mode: Mode,
) -> Result<Routed<Answer>, RouteError> {
    let Some(primary) = inner.group(&req.model) else {
        return Err(RouteError::before_upstream(Error::ModelNotFound {
            model: req.model.clone(),
        }));
    };
    let mut run = Run {
        inner,
        counters,
        mode,
        deadline: Instant::now() + inner.settings.timeout,
        estimate: estimate_tokens(req),
        attempts: 0,
        upstream_time: Duration::ZERO,
        waited: Duration::ZERO,
        failures: Vec::new(),
    };
    let general = inner.settings.fallbacks_for(&req.model);
    let context = inner.settings.context_window_fallbacks_for(&req.model);
    let mut last = match run.group(primary, req, !general.is_empty()).await {
        Ok(answer) => return Ok(answer),
        Err(failure) => failure,
    };
    let chain = match last.ending {
        Ending::Exhausted => general,
        Ending::ContextWindow => context,
        Ending::Final => Vec::new(),
    };
    for (i, name) in chain.iter().enumerate() {
        let Some(group) = inner.group(name) else {
            continue;
        };
        if Instant::now() >= run.deadline {
            break;
        }
        tracing::info!(from = %req.model, to = %name, error = last.error.label(), "trying fallback model group");
        let mut fallback = req.clone();
        fallback.model = name.clone();
        match run.group(group, &fallback, i + 1 < chain.len()).await {
            Ok(answer) => return Ok(answer),
            Err(failure) => {
                let stop = failure.ending == Ending::Final;
                last = failure;
                if stop {
                    break;
                }
            }
        }
    }
    Err(RouteError {
        error: last.error,
        deployment: last.deployment,
        attempts: run.attempts,
        upstream_time: run.upstream_time,
        failures: run.failures,
    })
}

impl Run<'_> {
    /// Up to `1 + num_retries` attempts on one group. `more_groups`: fallbacks remain,
    /// so waiting for this group's cooldown is not worth it.
    async fn group(
        &mut self,
        group: &Group,
        req: &ChatRequest,
        more_groups: bool,
    ) -> Result<Routed<Answer>, Failure> {
        let settings = &self.inner.settings;
        let ids: Vec<&str> = group.deployments.iter().map(|d| d.id.as_str()).collect();
        let mut tried: Vec<usize> = Vec::new();
        let mut last: Option<Failure> = None;
        // Whether the last failure still calls for a wait before reusing a deployment.
        let mut backoff_due = false;
        for try_no in 0..=settings.num_retries {
            let usage = self.snapshot(&ids).await;
            let picked = {
                let mut rng = self.inner.rng.lock().unwrap_or_else(|p| p.into_inner());
                let picked = pick(
                    &group.deployments,
                    &usage,
                    &tried,
                    self.estimate,
                    settings.strategy,
                    &mut *rng,
                );
                let wait = match (&picked, &last) {
                    (Pick::Use { fresh: false, .. }, Some(prev)) if backoff_due => {
                        backoff(try_no, &prev.error, &mut *rng)
                    }
                    _ => Duration::ZERO,
                };
                (picked, wait)
            };
            let index = match picked {
                (Pick::Use { index, .. }, wait) => {
                    if !wait.is_zero() && !self.wait(wait).await {
                        break;
                    }
                    index
                }
                (Pick::AllCooling { soonest }, _) => {
                    let cooling = Failure {
                        error: all_cooling(&group.name, soonest),
                        deployment: None,
                        ending: Ending::Exhausted,
                    };
                    // Wait for the soonest recovery only when this request caused the
                    // cooldown (it honours the upstream's retry-after), retries are
                    // left, nothing else could answer, and the budget allows it.
                    let worth_waiting =
                        !tried.is_empty() && !more_groups && try_no < settings.num_retries;
                    if !worth_waiting || !self.wait(soonest).await {
                        return Err(cooling);
                    }
                    backoff_due = false;
                    continue;
                }
            };
            let deployment = &group.deployments[index];
            tried.push(index);
            self.attempts += 1;
            let ctx = AttemptContext {
                counters: &self.counters,
                deadline: self.deadline,
                stream_timeout: settings.stream_timeout,
                group_size: group.deployments.len(),
                policy: self.policy(),
            };
            let started = Instant::now();
            let result = attempt(&ctx, deployment, req, self.mode).await;
            let elapsed = started.elapsed();
            self.upstream_time += elapsed;
            match result {
                Ok(value) => {
                    return Ok(Routed {
                        value,
                        deployment: deployment.id.clone(),
                        model_group: group.name.clone(),
                        attempts: self.attempts,
                        upstream_time: self.upstream_time,
                        waited: self.waited,
                        failures: std::mem::take(&mut self.failures),
                    })
                }
                Err(error) => {
                    record_failure(
                        &self.counters,
                        deployment,
                        group.deployments.len(),
                        self.policy(),
                        &error,
                    )
                    .await;
                    let ending = match &error {
                        Error::ContextLengthExceeded { .. } => Ending::ContextWindow,
                        e if e.is_retryable() => Ending::Exhausted,
                        _ => Ending::Final,
                    };
                    tracing::debug!(deployment = %deployment.id, attempt = self.attempts, error = error.label(), "attempt failed");
                    self.failures.push(AttemptFailure {
                        deployment: deployment.id.clone(),
                        error: error.clone(),
                        elapsed,
                    });
                    let failure = Failure {
                        error,
                        deployment: Some(deployment.id.clone()),
                        ending,
                    };
                    if ending != Ending::Exhausted || Instant::now() >= self.deadline {
                        return Err(failure);
                    }
                    last = Some(failure);
                    backoff_due = true;
                }
            }
        }
        Err(last.unwrap_or_else(|| Failure {
            error: Error::internal(format!("model group {} made no attempt", group.name)),
            deployment: None,
            ending: Ending::Final,
        }))
    }

    fn policy(&self) -> CooldownPolicy {
        CooldownPolicy {
            cooldown_time: self.inner.settings.cooldown_time,
            allowed_fails: self.inner.settings.allowed_fails,
        }
    }

    async fn snapshot(&self, ids: &[&str]) -> Vec<UsageSnapshot> {
        match self.counters.snapshot(ids).await {
            Ok(usage) if usage.len() == ids.len() => usage,
            Ok(usage) => {
                tracing::warn!(expected = ids.len(), got = usage.len(), "router counters returned a snapshot of the wrong length; routing without usage");
                vec![UsageSnapshot::default(); ids.len()]
            }
            Err(e) => {
                tracing::warn!(error = %e, "router counters unavailable; routing without usage and cooldowns");
                vec![UsageSnapshot::default(); ids.len()]
            }
        }
    }

    /// Waits `wait` when it ends before the deadline (counted as upstream time);
    /// returns false, without waiting, when it would not.
    async fn wait(&mut self, wait: Duration) -> bool {
        if Instant::now() + wait >= self.deadline {
            return false;
        }
        let started = Instant::now();
        tokio::time::sleep(wait).await;
        let waited = started.elapsed();
        self.upstream_time += waited;
        self.waited += waited;
        true
    }
}

/// The 429 for a group whose every deployment is cooling down.
fn all_cooling(group: &str, soonest: Duration) -> Error {
    Error::RateLimited {
        message: format!(
            "every deployment of model group {group} is cooling down after upstream rate limits or failures; retry after {:.1} s",
            soonest.as_secs_f64()
        ),
        retry_after: Some(soonest),
        upstream: false,
    }
}
