//! After a failed attempt: what it does to the deployment (cooldown), and how long to
//! wait before the next attempt (backoff).

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use super::counters::Counters;
use super::deployment::Deployment;
use crate::error::Error;

/// First backoff step; each retry on the same deployment doubles it.
pub(crate) const BACKOFF_INITIAL: Duration = Duration::from_millis(250);
/// Longest backoff step before jitter.
pub(crate) const BACKOFF_MAX: Duration = Duration::from_secs(8);
/// Failures are counted per deployment over this window for `allowed_fails`.
pub(crate) const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// The cooldown settings, copied where a failure may be recorded later (streams).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CooldownPolicy {
    pub cooldown_time: Duration,
    pub allowed_fails: u32,
}

/// Whether a failure says something about the deployment (rather than the request):
/// retryable errors, and an upstream that rejects our credential or lost the deployment.
pub(crate) fn blames_deployment(error: &Error) -> bool {
    error.is_retryable()
        || matches!(
            error,
            Error::UpstreamAuth { .. } | Error::UpstreamNotFound { .. }
        )
}

/// Records a failed attempt: a 429 cools the deployment for the upstream's retry-after
/// (else `cooldown_time`); other failures that blame the deployment count towards
/// `allowed_fails` within a minute, and reaching it cools the deployment for
/// `cooldown_time` — except when it is its group's only deployment, where a cooldown
/// would turn a passing error into a 429 for every caller.
pub(crate) async fn record_failure(
    counters: &Arc<dyn Counters>,
    deployment: &Deployment,
    group_size: usize,
    policy: CooldownPolicy,
    error: &Error,
) {
    let id = deployment.id.as_str();
    let cooldown = match error {
        Error::RateLimited {
            upstream: true,
            retry_after,
            ..
        } => Some(retry_after.unwrap_or(policy.cooldown_time)),
        e if blames_deployment(e) => match counters.add_failure(id, FAILURE_WINDOW).await {
            Ok(fails) if fails >= u64::from(policy.allowed_fails.max(1)) && group_size > 1 => {
                Some(policy.cooldown_time)
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(deployment = id, error = %e, "could not record a failure in the router counters");
                None
            }
        },
        _ => None,
    };
    if let Some(duration) = cooldown {
        tracing::info!(
            deployment = id,
            cooldown_ms = duration.as_millis() as u64,
            error = error.label(),
            "deployment cooling down"
        );
        if let Err(e) = counters.cool_down(id, duration).await {
            tracing::warn!(deployment = id, error = %e, "could not record a cooldown in the router counters");
        }
    }
}

/// How long to wait before retrying the same deployment for the `retry`-th time (1 =
/// first retry): the upstream's retry-after when it gave one, else exponential
/// backoff with jitter (half fixed, half random).
pub(crate) fn backoff(retry: u32, error: &Error, rng: &mut impl Rng) -> Duration {
    if let Some(after) = error.retry_after() {
        return after;
    }
    let step = BACKOFF_INITIAL
        .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
        .min(BACKOFF_MAX);
    let half = step / 2;
    half + half.mul_f64(rng.gen_range(0.0..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        let mut rng = StdRng::seed_from_u64(7);
        let err = Error::Upstream {
            status: 503,
            message: "busy".into(),
        };
        for retry in 1..=8 {
            let step = BACKOFF_INITIAL
                .saturating_mul(1 << (retry - 1))
                .min(BACKOFF_MAX);
            let wait = backoff(retry, &err, &mut rng);
            assert!(
                wait >= step / 2 && wait <= step,
                "retry {retry}: {wait:?} not in [{:?}, {step:?}]",
                step / 2
            );
        }
        let limited = Error::RateLimited {
            message: "slow".into(),
            retry_after: Some(Duration::from_millis(1234)),
            upstream: true,
        };
        assert_eq!(backoff(3, &limited, &mut rng), Duration::from_millis(1234));
    }

    #[test]
    fn only_deployment_faults_blame_the_deployment() {
        assert!(blames_deployment(&Error::Timeout {
            message: String::new()
        }));
        assert!(blames_deployment(&Error::UpstreamAuth {
            message: String::new()
        }));
        assert!(!blames_deployment(&Error::invalid(
            "bad",
            None,
            "invalid_json"
        )));
        assert!(!blames_deployment(&Error::ContextLengthExceeded {
            message: String::new()
        }));
    }
}
