//! Building a [`Router`]: by hand for embedding, or from a loaded LiteLLM config.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::counters::{Counters, InMemoryCounters};
use super::deployment::{Deployment, DeploymentLimits, Stats};
use super::strategy::Strategy;
use super::{Group, Inner, Router, Settings};
use crate::config::{Config, ConfigError, DeploymentConfig};
use crate::provider::Provider;

/// Turns a deployment's config into its provider (what [`Router::from_config`] takes).
pub type MakeProvider<'a> =
    dyn Fn(&DeploymentConfig) -> Result<Arc<dyn Provider>, ConfigError> + 'a;

/// Collects deployments and settings, then [`build`](RouterBuilder::build)s a [`Router`].
///
/// ```
/// use std::sync::Arc;
/// use llmroute_core::mock::MockProvider;
/// use llmroute_core::router::{DeploymentLimits, Router, Strategy};
///
/// let router = Router::builder()
///     .deployment("gpt-4o", Arc::new(MockProvider::fixed("a", "hi")), DeploymentLimits::default())
///     .deployment("gpt-4o", Arc::new(MockProvider::fixed("b", "hi")), DeploymentLimits::default())
///     .strategy(Strategy::LeastBusy)
///     .num_retries(2)
///     .build()
///     .expect("valid router");
/// assert_eq!(router.model_names(), vec!["gpt-4o".to_string()]);
/// ```
pub struct RouterBuilder {
    source: String,
    deployments: Vec<(String, Arc<dyn Provider>, DeploymentLimits)>,
    settings: Settings,
    counters: Option<Arc<dyn Counters>>,
    seed: Option<u64>,
}

impl Default for RouterBuilder {
    fn default() -> Self {
        let d = crate::config::RouterSettings::default();
        RouterBuilder {
            source: "router builder".to_string(),
            deployments: Vec::new(),
            settings: Settings {
                strategy: Strategy::SimpleShuffle,
                num_retries: d.num_retries,
                timeout: d.timeout,
                stream_timeout: d.stream_timeout,
                cooldown_time: d.cooldown_time,
                allowed_fails: d.allowed_fails,
                fallbacks: Vec::new(),
                context_window_fallbacks: Vec::new(),
            },
            counters: None,
            seed: None,
        }
    }
}

impl RouterBuilder {
    /// Adds a deployment to the `model_name` group. Its id is `limits.id`, else
    /// `<model_name>-<n>` with `n` counting that group's deployments from 0.
    pub fn deployment(
        mut self,
        model_name: &str,
        provider: Arc<dyn Provider>,
        limits: DeploymentLimits,
    ) -> Self {
        self.deployments
            .push((model_name.to_string(), provider, limits));
        self
    }

    /// How to pick among deployments of one tier (default `simple-shuffle`).
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.settings.strategy = strategy;
        self
    }

    /// Retries after the first attempt, per model group tried (default 2).
    pub fn num_retries(mut self, n: u32) -> Self {
        self.settings.num_retries = n;
        self
    }

    /// Whole-request timeout, retries and fallbacks included (default 600 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// Time-to-first-chunk timeout for streams (default none: only `timeout`).
    pub fn stream_timeout(mut self, timeout: Duration) -> Self {
        self.settings.stream_timeout = Some(timeout);
        self
    }

    /// How long a deployment cools down when upstream gives no retry-after (default 5 s).
    pub fn cooldown_time(mut self, cooldown: Duration) -> Self {
        self.settings.cooldown_time = cooldown;
        self
    }

    /// Failures within a minute that make a deployment cool down (default 3).
    pub fn allowed_fails(mut self, n: u32) -> Self {
        self.settings.allowed_fails = n;
        self
    }

    /// Groups to try, in order, when `model` fails after its retries.
    pub fn fallback(mut self, model: &str, fallbacks: Vec<String>) -> Self {
        self.settings.fallbacks.push((model.to_string(), fallbacks));
        self
    }

    /// Groups to try, in order, when `model` answers `context_length_exceeded`.
    pub fn context_window_fallback(mut self, model: &str, fallbacks: Vec<String>) -> Self {
        self.settings
            .context_window_fallbacks
            .push((model.to_string(), fallbacks));
        self
    }

    /// Where usage and cooldowns are kept (default: in this process).
    pub fn counters(mut self, counters: Arc<dyn Counters>) -> Self {
        self.counters = Some(counters);
        self
    }

    /// Seeds the random choices (shuffle, tie breaks, jitter) for reproducible tests.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Checks the deployments and fallbacks and builds the router.
    pub fn build(self) -> Result<Router, ConfigError> {
        let err = |path: String, message: String| ConfigError::new(&self.source, path, message);
        if self.deployments.is_empty() {
            return Err(err(
                "model_list".into(),
                "no deployments; add at least one with RouterBuilder::deployment or a model_list entry".into(),
            ));
        }
        let mut groups: Vec<Group> = Vec::new();
        let mut by_name = HashMap::new();
        let mut ids: HashMap<String, String> = HashMap::new();
        for (model_name, provider, limits) in self.deployments {
            let index = *by_name.entry(model_name.clone()).or_insert_with(|| {
                groups.push(Group {
                    name: model_name.clone(),
                    deployments: Vec::new(),
                });
                groups.len() - 1
            });
            let group = &mut groups[index];
            let id = limits
                .id
                .clone()
                .unwrap_or_else(|| format!("{model_name}-{}", group.deployments.len()));
            if let Some(other) = ids.insert(id.clone(), model_name.clone()) {
                return Err(err(
                    format!("model_list (model_info.id {id:?})"),
                    format!("deployment id {id:?} is used twice (groups {other:?} and {model_name:?}); give each deployment its own id"),
                ));
            }
            if !(limits.weight.is_finite() && limits.weight > 0.0) {
                return Err(err(
                    format!("model_list (deployment {id:?}) weight"),
                    format!("weight must be a positive number, got {}", limits.weight),
                ));
            }
            group.deployments.push(Arc::new(Deployment {
                id,
                model_name,
                provider,
                limits,
                stats: Arc::new(Stats::default()),
            }));
        }
        for (key, list) in [
            ("router_settings.fallbacks", &self.settings.fallbacks),
            (
                "router_settings.context_window_fallbacks",
                &self.settings.context_window_fallbacks,
            ),
        ] {
            for (from, to) in list {
                for name in std::iter::once(from).chain(to) {
                    if !by_name.contains_key(name) {
                        return Err(err(
                            key.into(),
                            format!("model group {name:?} has no deployment; add it to model_list or remove it from {key}"),
                        ));
                    }
                }
            }
        }
        let rng = match self.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        let counters = self
            .counters
            .unwrap_or_else(|| Arc::new(InMemoryCounters::new()));
        Ok(Router {
            inner: Arc::new(Inner {
                groups,
                by_name,
                settings: self.settings,
                counters: RwLock::new(counters),
                rng: Mutex::new(rng),
            }),
        })
    }
}

impl Router {
    /// A builder for a router assembled in code.
    pub fn builder() -> RouterBuilder {
        RouterBuilder::default()
    }

    /// A builder holding the config's deployments and `router_settings`, to adjust
    /// (e.g. shared [`Counters`]) before building.
    pub fn builder_from_config(
        config: &Config,
        make_provider: &MakeProvider<'_>,
    ) -> Result<RouterBuilder, ConfigError> {
        let r = &config.router;
        let strategy: Strategy =
            r.routing_strategy
                .parse()
                .map_err(|e: super::strategy::UnknownStrategy| {
                    ConfigError::new(
                        &config.source,
                        "router_settings.routing_strategy",
                        e.to_string(),
                    )
                })?;
        let mut b = RouterBuilder {
            source: config.source.clone(),
            ..RouterBuilder::default()
        }
        .strategy(strategy)
        .num_retries(r.num_retries)
        .timeout(r.timeout)
        .cooldown_time(r.cooldown_time)
        .allowed_fails(r.allowed_fails);
        b.settings.stream_timeout = r.stream_timeout;
        for (from, to) in &r.fallbacks {
            b = b.fallback(from, to.clone());
        }
        for (from, to) in &r.context_window_fallbacks {
            b = b.context_window_fallback(from, to.clone());
        }
        for d in &config.models {
            let limits = DeploymentLimits {
                id: Some(d.id.clone()),
                rpm: d.rpm,
                tpm: d.tpm,
                weight: d.weight,
                order: d.order,
                timeout: d.timeout,
                stream_timeout: d.stream_timeout,
            };
            b = b.deployment(&d.model_name, make_provider(d)?, limits);
        }
        Ok(b)
    }

    /// Builds the router of a loaded config; `make_provider` turns each deployment's
    /// config into its provider (the server passes one that builds Azure or mock providers).
    pub fn from_config(
        config: &Config,
        make_provider: &MakeProvider<'_>,
    ) -> Result<Router, ConfigError> {
        Self::builder_from_config(config, make_provider)?.build()
    }
}
