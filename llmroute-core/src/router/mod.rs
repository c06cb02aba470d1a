//! The router: one public model name over a group of deployments.
//!
//! A request names a model group (`gpt-4o`). The router picks a deployment of the
//! group, calls its provider, and on a retryable failure tries again, preferably on
//! another deployment, then on fallback groups. What happens, and where:
//!
//! 1. [`builder`]: deployments grouped by model name, settings, fallbacks checked.
//! 2. `run`: the attempt loop — deadline, retries, fallbacks, bookkeeping.
//! 3. `select`: drops cooling deployments, takes the first priority tier with
//!    headroom, asks the [`Strategy`] (`strategy`) for one deployment.
//! 4. [`counters`]: rpm/tpm usage, failures and cooldowns, shared through a trait.
//! 5. `retry`: what to do after a failure (cool down, back off, give up).
//! 6. `stream`: streams fail over until their first chunk, never after.
//!
//! ```
//! use std::sync::Arc;
//! use llmroute_core::mock::MockProvider;
//! use llmroute_core::router::{DeploymentLimits, Router};
//! use llmroute_core::types::{ChatRequest, Message};
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let router = Router::builder()
//!     .deployment("gpt-4o", Arc::new(MockProvider::fixed("eastus", "hi")), DeploymentLimits::default())
//!     .build()
//!     .unwrap();
//! let answer = router.chat(&ChatRequest::new("gpt-4o", vec![Message::user("hello")])).await.unwrap();
//! assert_eq!(answer.value.response().first_text(), Some("hi"));
//! assert_eq!(answer.deployment, "gpt-4o-0");
//! # });
//! ```

mod attempt;
pub mod builder;
pub mod counters;
pub mod deployment;
mod retry;
mod routed;
mod run;
mod select;
pub mod strategy;
mod stream;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rand::rngs::StdRng;

pub use builder::{MakeProvider, RouterBuilder};
pub use counters::{Counters, InMemoryCounters, UsageSnapshot};
pub use deployment::{DeploymentInfo, DeploymentLimits};
pub use routed::{AttemptFailure, RouteError, Routed};
pub use strategy::Strategy;

use crate::provider::{ChatStream, Completion, Provider};
use crate::types::ChatRequest;
use deployment::Deployment;

/// Spreads model groups over deployments, with retries, cooldowns and fallbacks.
///
/// Cheap to clone (the state is shared), `Send + Sync`.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("models", &self.model_names())
            .field("strategy", &self.inner.settings.strategy)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    groups: Vec<Group>,
    by_name: HashMap<String, usize>,
    settings: Settings,
    counters: RwLock<Arc<dyn Counters>>,
    rng: Mutex<StdRng>,
}

impl Inner {
    fn group(&self, name: &str) -> Option<&Group> {
        self.by_name.get(name).map(|i| &self.groups[*i])
    }
}

/// A public model name and its deployments, in config order.
pub(crate) struct Group {
    name: String,
    deployments: Vec<Arc<Deployment>>,
}

/// `router_settings`, typed.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    strategy: Strategy,
    num_retries: u32,
    timeout: Duration,
    stream_timeout: Option<Duration>,
    cooldown_time: Duration,
    allowed_fails: u32,
    fallbacks: Vec<(String, Vec<String>)>,
    context_window_fallbacks: Vec<(String, Vec<String>)>,
}

impl Settings {
    fn fallbacks_for(&self, model: &str) -> Vec<String> {
        lookup(&self.fallbacks, model)
    }

    fn context_window_fallbacks_for(&self, model: &str) -> Vec<String> {
        lookup(&self.context_window_fallbacks, model)
    }
}

fn lookup(table: &[(String, Vec<String>)], model: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in table
        .iter()
        .filter(|(from, _)| from == model)
        .flat_map(|(_, to)| to)
    {
        if name != model && !out.contains(name) {
            out.push(name.clone());
        }
    }
    out
}

impl Router {
    /// The public model groups, in config order.
    pub fn model_names(&self) -> Vec<String> {
        self.inner.groups.iter().map(|g| g.name.clone()).collect()
    }

    /// Whether `model` names a group.
    pub fn has_model(&self, model: &str) -> bool {
        self.inner.by_name.contains_key(model)
    }

    /// Every deployment, group by group in config order.
    pub fn deployments(&self) -> Vec<DeploymentInfo> {
        self.inner
            .groups
            .iter()
            .flat_map(|g| g.deployments.iter().map(|d| d.info()))
            .collect()
    }

    /// The provider of a deployment, by id (for health probes).
    pub fn provider(&self, deployment_id: &str) -> Option<Arc<dyn Provider>> {
        self.inner
            .groups
            .iter()
            .flat_map(|g| g.deployments.iter())
            .find(|d| d.id == deployment_id)
            .map(|d| Arc::clone(&d.provider))
    }

    /// Every deployment's usage this minute and remaining cooldown, from the counters
    /// (for `/health/deployments`); empty usage when the counters are unavailable.
    pub async fn usage(&self) -> Vec<(String, UsageSnapshot)> {
        let ids: Vec<&str> = self
            .inner
            .groups
            .iter()
            .flat_map(|g| g.deployments.iter().map(|d| d.id.as_str()))
            .collect();
        let usage = match self.counters().snapshot(&ids).await {
            Ok(usage) if usage.len() == ids.len() => usage,
            _ => vec![UsageSnapshot::default(); ids.len()],
        };
        ids.into_iter().map(str::to_string).zip(usage).collect()
    }

    /// The routing strategy in use.
    pub fn strategy(&self) -> Strategy {
        self.inner.settings.strategy
    }

    /// Replaces where usage and cooldowns are kept (e.g. Redis, shared by instances).
    pub fn set_counters(&self, counters: Arc<dyn Counters>) {
        *self
            .inner
            .counters
            .write()
            .unwrap_or_else(|p| p.into_inner()) = counters;
    }

    /// The counters in use.
    pub fn counters(&self) -> Arc<dyn Counters> {
        Arc::clone(
            &self
                .inner
                .counters
                .read()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    /// One complete answer from the group `req.model`.
    pub async fn chat(&self, req: &ChatRequest) -> Result<Routed<Completion>, RouteError> {
        run::chat(&self.inner, self.counters(), req).await
    }

    /// A streamed answer from the group `req.model`. Resolves once the stream is open
    /// and its first chunk has arrived; failures before that are retried, after it never.
    pub async fn chat_stream(&self, req: &ChatRequest) -> Result<Routed<ChatStream>, RouteError> {
        run::chat_stream(&self.inner, self.counters(), req).await
    }
}
