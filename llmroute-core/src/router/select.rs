//! Picking one deployment of a group for the next attempt.
//!
//! In order: deployments cooling down are dropped; deployments already tried by this
//! request are dropped when others remain (so a retry moves); the first priority tier
//! (`order`, lowest first) with a deployment that has headroom is kept, and within it
//! only the deployments with headroom (spill-over); when none has headroom anywhere,
//! the first tier is used as it is. The [`Strategy`] then picks one.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use super::counters::UsageSnapshot;
use super::deployment::Deployment;
use super::strategy::Strategy;
use crate::types::ChatRequest;

/// Chance that `latency-based-routing` tries a random deployment instead of the fastest.
pub(crate) const LATENCY_EXPLORATION: f64 = 0.05;

/// What the selection found.
#[derive(Debug)]
pub(crate) enum Pick {
    /// Use this deployment; `fresh` when this request has not tried it yet.
    Use { index: usize, fresh: bool },
    /// Every deployment is cooling down; the soonest recovers in this long.
    AllCooling { soonest: Duration },
}

/// One deployment with what is known about its load.
pub(crate) struct Candidate<'a> {
    pub index: usize,
    pub deployment: &'a Arc<Deployment>,
    pub usage: UsageSnapshot,
}

/// A rough token estimate for rate-limit headroom, the way Azure estimates it: prompt
/// text at about four characters a token, plus the requested output limit.
pub(crate) fn estimate_tokens(req: &ChatRequest) -> u64 {
    req.rough_prompt_tokens() + u64::from(req.max_output_tokens().unwrap_or(0))
}

/// Whether a deployment can take `estimate` more tokens and one more request, by its
/// own limits and by what the upstream last reported.
pub(crate) fn has_headroom(c: &Candidate<'_>, estimate: u64) -> bool {
    let limits = &c.deployment.limits;
    let (remaining_requests, remaining_tokens) = c.deployment.stats.remaining();
    limits.rpm.is_none_or(|rpm| c.usage.requests < rpm)
        && limits
            .tpm
            .is_none_or(|tpm| c.usage.tokens.saturating_add(estimate) <= tpm)
        && remaining_requests.is_none_or(|r| r > 0)
        && remaining_tokens.is_none_or(|t| t >= estimate)
}

/// Chooses the deployment for the next attempt.
pub(crate) fn pick(
    deployments: &[Arc<Deployment>],
    usage: &[UsageSnapshot],
    tried: &[usize],
    estimate: u64,
    strategy: Strategy,
    rng: &mut impl Rng,
) -> Pick {
    let available: Vec<Candidate<'_>> = deployments
        .iter()
        .zip(usage)
        .enumerate()
        .filter(|(_, (_, u))| u.cooldown.is_none())
        .map(|(index, (deployment, usage))| Candidate {
            index,
            deployment,
            usage: *usage,
        })
        .collect();
    if available.is_empty() {
        let soonest = usage
            .iter()
            .filter_map(|u| u.cooldown)
            .min()
            .unwrap_or_default();
        return Pick::AllCooling { soonest };
    }
    let untried: Vec<&Candidate<'_>> = available
        .iter()
        .filter(|c| !tried.contains(&c.index))
        .collect();
    let fresh = !untried.is_empty();
    let pool: Vec<&Candidate<'_>> = if fresh {
        untried
    } else {
        available.iter().collect()
    };

    let with_headroom: Vec<&Candidate<'_>> = pool
        .iter()
        .copied()
        .filter(|c| has_headroom(c, estimate))
        .collect();
    let tiered = if with_headroom.is_empty() {
        pool
    } else {
        with_headroom
    };
    let first_tier = tiered
        .iter()
        .map(|c| c.deployment.tier())
        .min()
        .unwrap_or(u32::MAX);
    let tier: Vec<&Candidate<'_>> = tiered
        .into_iter()
        .filter(|c| c.deployment.tier() == first_tier)
        .collect();

    let chosen = choose(&tier, strategy, rng);
    Pick::Use {
        index: tier[chosen].index,
        fresh,
    }
}

/// The strategy's choice among a non-empty tier; returns a position in `tier`.
fn choose(tier: &[&Candidate<'_>], strategy: Strategy, rng: &mut impl Rng) -> usize {
    if tier.len() <= 1 {
        return 0;
    }
    match strategy {
        Strategy::SimpleShuffle => weighted(tier, rng),
        Strategy::LeastBusy => {
            let least = tier
                .iter()
                .map(|c| c.deployment.stats.in_flight())
                .min()
                .unwrap_or(0);
            random_among(tier, rng, |c| c.deployment.stats.in_flight() == least)
        }
        Strategy::LatencyBased => {
            let unmeasured = tier
                .iter()
                .filter(|c| c.deployment.stats.latency().is_none())
                .count();
            if unmeasured > 0 {
                return random_among(tier, rng, |c| c.deployment.stats.latency().is_none());
            }
            if rng.gen_bool(LATENCY_EXPLORATION) {
                return rng.gen_range(0..tier.len());
            }
            let best = tier
                .iter()
                .filter_map(|c| c.deployment.stats.latency())
                .fold(f64::INFINITY, f64::min);
            random_among(tier, rng, |c| c.deployment.stats.latency() == Some(best))
        }
        Strategy::UsageBased => {
            let best = tier
                .iter()
                .map(|c| headroom_key(c))
                .max()
                .unwrap_or_default();
            random_among(tier, rng, |c| headroom_key(c) == best)
        }
    }
}

/// Headroom as a sortable key, larger is better: tokens left, then requests left
/// (unknown limits count as unlimited), then fewer tokens used this minute.
fn headroom_key(c: &Candidate<'_>) -> (u64, u64, std::cmp::Reverse<u64>) {
    let limits = &c.deployment.limits;
    let (remaining_requests, remaining_tokens) = c.deployment.stats.remaining();
    let tokens = [
        limits.tpm.map(|t| t.saturating_sub(c.usage.tokens)),
        remaining_tokens,
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(u64::MAX);
    let requests = [
        limits.rpm.map(|r| r.saturating_sub(c.usage.requests)),
        remaining_requests,
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(u64::MAX);
    (tokens, requests, std::cmp::Reverse(c.usage.tokens))
}

fn weighted(tier: &[&Candidate<'_>], rng: &mut impl Rng) -> usize {
    let total: f64 = tier.iter().map(|c| c.deployment.limits.weight).sum();
    let mut point = rng.gen_range(0.0..total);
    for (i, c) in tier.iter().enumerate() {
        point -= c.deployment.limits.weight;
        if point < 0.0 {
            return i;
        }
    }
    tier.len() - 1
}

fn random_among(
    tier: &[&Candidate<'_>],
    rng: &mut impl Rng,
    keep: impl Fn(&Candidate<'_>) -> bool,
) -> usize {
    let matching: Vec<usize> = (0..tier.len()).filter(|i| keep(tier[*i])).collect();
    match matching.len() {
        0 => 0,
        1 => matching[0],
        n => matching[rng.gen_range(0..n)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Message;

    #[test]
    fn the_estimate_counts_prompt_text_and_the_output_limit() {
        let mut req = ChatRequest::new(
            "m",
            vec![
                Message::system("x".repeat(400)),
                Message::user("y".repeat(400)),
            ],
        );
        assert_eq!(estimate_tokens(&req), 201);
        req.max_tokens = Some(1000);
        assert_eq!(estimate_tokens(&req), 1201);
    }
}
