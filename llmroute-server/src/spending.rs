//! Per-key limits on the request path: rpm/tpm admission and budget reservation before
//! the call, settlement with the real cost after it.
//!
//! Only virtual keys with a `max_budget`, `rpm_limit` or `tpm_limit` pay for this: the
//! prompt is counted (o200k_base) and the cost estimated, the rate limiter admits the
//! request, and the estimated cost is reserved so concurrent requests cannot overshoot
//! the budget. When the request ends, [`Spending::settle`] replaces the estimate with
//! the real cost and token count.

use std::sync::Arc;

use llmroute_core::auth::Principal;
use llmroute_core::limits::KeyRateLimiter;
use llmroute_core::types::{ChatRequest, Usage};
use llmroute_core::Error;
use llmroute_store::budget::{BudgetGuard, BudgetReserver};
use llmroute_store::estimate::{CostEstimator, Estimate};

/// The limits a request was admitted under, to settle when it ends.
pub struct Spending {
    key_hash: String,
    estimated_tokens: u64,
    budget: Option<BudgetGuard>,
    limiter: Arc<dyn KeyRateLimiter>,
}

/// Prompts larger than this are counted on a blocking thread, not an async worker.
const INLINE_COUNT_BYTES: usize = 32 * 1024;

/// Admits a request against its key's limits; `None` when the key has none.
///
/// The budget is reserved first, so a request the budget refuses never uses up the
/// key's rate limit (a refused rate limit releases the reservation when dropped).
pub async fn admit(
    principal: &Principal,
    chat: &ChatRequest,
    estimator: &CostEstimator,
    limiter: &Arc<dyn KeyRateLimiter>,
    budgets: &Arc<dyn BudgetReserver>,
) -> Result<Option<Spending>, Error> {
    let Some(key) = &principal.key else {
        return Ok(None);
    };
    if key.max_budget.is_none() && key.rpm_limit.is_none() && key.tpm_limit.is_none() {
        return Ok(None);
    }
    let estimate = estimate(estimator, chat).await;
    let budget = match key.max_budget {
        Some(_) => Some(BudgetGuard::reserve(budgets.clone(), key, estimate.cost).await?),
        None => None,
    };
    // The tpm check counts the prompt now and the real usage when the answer is in.
    limiter
        .admit(
            &key.token_hash,
            key.rpm_limit,
            key.tpm_limit,
            estimate.prompt_tokens,
        )
        .await?;
    Ok(Some(Spending {
        key_hash: key.token_hash.clone(),
        estimated_tokens: estimate.prompt_tokens,
        budget,
        limiter: limiter.clone(),
    }))
}

async fn estimate(estimator: &CostEstimator, chat: &ChatRequest) -> Estimate {
    llmroute_store::estimate::warm_up().await;
    let text_bytes: usize = chat
        .messages
        .iter()
        .filter_map(|m| m.content.as_ref())
        .map(|c| c.text_len())
        .sum();
    if text_bytes <= INLINE_COUNT_BYTES {
        return estimator.estimate(&chat.model, chat);
    }
    let (estimator, chat) = (estimator.clone(), chat.clone());
    match tokio::task::spawn_blocking(move || estimator.estimate(&chat.model, &chat)).await {
        Ok(estimate) => estimate,
        Err(e) => {
            tracing::warn!(error = %e, "counting a large prompt failed; estimating 1 token per 4 bytes");
            Estimate {
                prompt_tokens: (text_bytes / 4) as u64,
                completion_tokens: 0,
                cost: 0.0,
            }
        }
    }
}

impl Spending {
    /// Replaces the estimates with what the request really cost (off the request path).
    pub fn settle(self, cost: f64, usage: Option<&Usage>) {
        let Spending {
            key_hash,
            estimated_tokens,
            budget,
            limiter,
        } = self;
        let used = usage
            .map(|u| u.prompt_tokens + u.completion_tokens)
            .unwrap_or(0);
        let delta = used as i64 - estimated_tokens as i64;
        let settle = async move {
            if let Some(budget) = budget {
                budget.settle(cost).await;
            }
            if let Err(e) = limiter.adjust_tokens(&key_hash, delta).await {
                tracing::warn!(error = %e, "could not correct a key's token count");
            }
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(settle);
        }
    }
}
