//! Routing strategies: which deployment of a tier takes the next request.

use std::fmt;
use std::str::FromStr;

/// How the router picks among the available deployments of one priority tier.
/// Names are LiteLLM's `router_settings.routing_strategy` values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Strategy {
    /// `simple-shuffle`: random, weighted by `weight` (the default).
    #[default]
    SimpleShuffle,
    /// `least-busy`: fewest requests in flight in this process.
    LeastBusy,
    /// `latency-based-routing`: lowest recent latency (moving average), with a little
    /// exploration so a deployment that got faster is noticed.
    LatencyBased,
    /// `usage-based-routing` (and `-v2`): most rpm/tpm headroom, from the counters and
    /// from Azure's `x-ratelimit-remaining-*` headers.
    UsageBased,
}

impl Strategy {
    /// The config name.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::SimpleShuffle => "simple-shuffle",
            Strategy::LeastBusy => "least-busy",
            Strategy::LatencyBased => "latency-based-routing",
            Strategy::UsageBased => "usage-based-routing",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown strategy name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown routing strategy {0:?}; use simple-shuffle, least-busy, latency-based-routing or usage-based-routing")]
pub struct UnknownStrategy(pub String);

impl FromStr for Strategy {
    type Err = UnknownStrategy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "simple-shuffle" | "" => Strategy::SimpleShuffle,
            "least-busy" => Strategy::LeastBusy,
            "latency-based-routing" | "lowest-latency" => Strategy::LatencyBased,
            "usage-based-routing" | "usage-based-routing-v2" => Strategy::UsageBased,
            other => return Err(UnknownStrategy(other.to_string())),
        })
    }
}
