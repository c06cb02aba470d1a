//! The one function that turns a configuration into a running gateway: providers,
//! router, authentication, request sinks and metrics. The server binary, the CLI and
//! the examples all call [`Gateway::build`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use bytes::Bytes;
use llmroute_azure::{AzureClient, AzureProvider};
use llmroute_core::auth::Authenticator;
use llmroute_core::config::{
    Config, ConfigError, ConfigSource, DeploymentConfig, GeneralSettings, ProviderKind,
};
use llmroute_core::events::FanOut;
use llmroute_core::events::RequestSink;
use llmroute_core::limits::KeyRateLimiter;
use llmroute_core::mock::MockProvider;
use llmroute_core::router::Router;
use llmroute_core::store::{Store, StoreError};
use llmroute_core::types::{ModelList, ModelObject};
use llmroute_core::Provider;
use llmroute_store::budget::BudgetReserver;
use llmroute_store::cache::TieredCache;
use llmroute_store::estimate::CostEstimator;
use llmroute_store::{KeyAuth, KeyAuthConfig, LogWriter, LogWriterConfig};

use crate::master_key::{self, MasterKeySource};
use crate::metrics::Metrics;
use crate::prices::Prices;
use crate::request_log::LogSink;
use crate::shared_state::SharedState;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration cannot work.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The master key file could not be read or written.
    #[error("master key: {0}")]
    MasterKey(std::io::Error),
    /// The database could not be opened or migrated.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The HTTP client for upstreams could not be created.
    #[error("creating the upstream HTTP client: {0}")]
    Client(String),
    /// A signal handler could not be installed.
    #[error("{0}")]
    Signal(String),
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}; {}", bind_hint(.source))]
    Bind {
        /// host:port.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What to do about a listening socket that could not be opened.
fn bind_hint(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::AddrInUse => "another process is using the port: stop it, or choose another port with --port or PORT",
        ErrorKind::PermissionDenied => "ports below 1024 need privileges: use a higher port (the default is 8000) with --port or PORT",
        ErrorKind::AddrNotAvailable => "that address is not one of this machine's: use 0.0.0.0 (every interface) or 127.0.0.1 with --host or LLMROUTE_HOST",
        _ => "check --host / LLMROUTE_HOST (an IP address or host name, e.g. 0.0.0.0) and --port / PORT",
    }
}

#[cfg(test)]
mod bind_hint_tests {
    use super::*;

    #[test]
    fn each_bind_failure_says_what_to_change() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let err = std::net::TcpListener::bind(("127.0.0.1", port)).expect_err("in use");
        let text = StartError::Bind {
            addr: format!("127.0.0.1:{port}"),
            source: err,
        }
        .to_string();
        assert!(text.contains("another process is using the port"), "{text}");
        let err = std::net::TcpListener::bind("192.0.2.1:0").expect_err("not ours");
        let text = StartError::Bind {
            addr: "192.0.2.1:0".into(),
            source: err,
        }
        .to_string();
        assert!(text.contains("not one of this machine's"), "{text}");
        let err = std::io::Error::new(std::io::ErrorKind::InvalidInput, "invalid socket address");
        let text = StartError::Bind {
            addr: ":8000".into(),
            source: err,
        }
        .to_string();
        assert!(text.contains("check --host / LLMROUTE_HOST"), "{text}");
    }
}

/// Settings that do not come from the config file.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the config comes from (kept for reloads).
    pub source: ConfigSource,
    /// Folder for the generated master key and the embedded database.
    pub data_dir: PathBuf,
}

/// What a config reload replaces: everything derived from the model list and settings.
pub struct Routing {
    /// The loaded config.
    pub config: Arc<Config>,
    /// The router over the config's deployments.
    pub router: Router,
    /// Prices with the config's overrides.
    pub prices: Prices,
    /// Estimates a request's cost before the call (budget reservations), by model group.
    pub estimator: CostEstimator,
    /// `GET /v1/models`, serialized once.
    pub models_json: Bytes,
    /// Each model, serialized once, for `GET /v1/models/{id}`.
    pub model_json: HashMap<String, Bytes>,
    /// Azure deployment name → model group, for `/openai/deployments/{name}/...`.
    pub azure_names: HashMap<String, String>,
}

/// A running gateway's state, shared by every connection.
pub struct Gateway {
    routing: ArcSwap<Routing>,
    /// Who may call.
    pub auth: Arc<dyn Authenticator>,
    /// Where finished requests go (the log line, and the store's batched writer).
    pub sink: Arc<dyn RequestSink>,
    /// Virtual keys, logs and spend.
    pub store: Arc<dyn Store>,
    /// The store's authenticator (to forget a key when it changes).
    pub key_auth: Arc<KeyAuth>,
    /// Writes request logs in batches.
    pub log_writer: Arc<LogWriter>,
    /// Per-key rpm / tpm.
    pub limiter: Arc<dyn KeyRateLimiter>,
    /// Per-key budget reservations.
    pub budgets: Arc<dyn BudgetReserver>,
    /// Where the database is, for the start-up log and readiness (password redacted).
    pub store_description: String,
    /// The response cache, when `litellm_settings.cache` is on.
    pub cache: Option<Arc<TieredCache>>,
    /// Redis and what is shared through it (kept across reloads).
    pub shared: SharedState,
    /// `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Start-up settings.
    pub options: Options,
    /// Where the master key came from.
    pub master_key_source: MasterKeySource,
    client: AzureClient,
    /// When the gateway was built.
    pub started: Instant,
}

impl Gateway {
    /// Builds a gateway from a loaded config.
    pub async fn build(config: Config, options: Options) -> Result<Arc<Gateway>, StartError> {
        let client = AzureClient::new().map_err(|e| StartError::Client(e.to_string()))?;
        let (master_key, master_key_source) =
            master_key::resolve(config.general.master_key.as_ref(), &options.data_dir)
                .map_err(StartError::MasterKey)?;
        let database_url = config
            .general
            .database_url
            .as_ref()
            .map(|s| s.expose().to_string())
            .or_else(|| std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()));
        let store_description = match &database_url {
            Some(url) => llmroute_store::redact_url(url),
            None => format!(
                "embedded SQLite at {}",
                options.data_dir.join("llmroute.db").display()
            ),
        };
        let store = llmroute_store::open(database_url.as_deref(), &options.data_dir).await?;
        let shared = crate::shared_state::connect(&config).await?;
        let routing = build_routing(config, &client, &shared)?;
        let key_auth = Arc::new(KeyAuth::new(
            Some(master_key),
            store.clone(),
            key_auth_config(&routing.config.general),
        ));
        let auth: Arc<dyn Authenticator> = key_auth.clone();
        let log_writer =
            LogWriter::spawn(store.clone(), log_writer_config(&routing.config.general));
        let sink: Arc<dyn RequestSink> =
            Arc::new(FanOut(vec![Arc::new(LogSink), log_writer.clone()]));
        let mut metrics = Metrics::default();
        metrics.add_extra(Arc::new(shared.clone()));
        metrics.add_extra(Arc::new(crate::store_metrics::StoreMetrics {
            log_writer: log_writer.clone(),
            key_auth: key_auth.clone(),
        }));
        Ok(Arc::new(Gateway {
            routing: ArcSwap::from_pointee(routing),
            auth,
            sink,
            store,
            key_auth,
            log_writer,
            limiter: shared.limiter.clone(),
            budgets: shared.budgets.clone(),
            cache: shared.cache.clone(),
            store_description,
            shared,
            metrics: Arc::new(metrics),
            options,
            master_key_source,
            client,
            started: Instant::now(),
        }))
    }

    /// The current routing state (cheap: one atomic load), for a quick look.
    pub fn routing(&self) -> arc_swap::Guard<Arc<Routing>> {
        self.routing.load()
    }

    /// The current routing state, to keep for a whole request (a reload meanwhile does
    /// not change what this request sees).
    pub fn snapshot(&self) -> Arc<Routing> {
        self.routing.load_full()
    }

    /// Re-reads the config from its source and swaps in new models and settings.
    /// On failure the running config stays and the error is returned.
    pub fn reload(&self) -> Result<(), StartError> {
        let config = self.options.source.load()?;
        let changed = crate::shared_state::restart_only_changes(&self.routing().config, &config);
        if !changed.is_empty() {
            tracing::warn!(settings = ?changed, "config reload: these settings only take effect after a restart; the running values stay");
        }
        let routing = build_routing(config, &self.client, &self.shared)?;
        self.routing.store(Arc::new(routing));
        Ok(())
    }

    /// Writes what is still pending (request logs) before the process exits.
    pub async fn flush(&self) {
        let stats = self
            .log_writer
            .shutdown(std::time::Duration::from_secs(5))
            .await;
        if stats.queued > 0 || stats.dropped > 0 {
            tracing::warn!(
                queued = stats.queued,
                dropped = stats.dropped,
                "request logs not written at shutdown"
            );
        }
    }
}

/// The key cache's timings: `general_settings.user_api_key_cache_ttl` and
/// `key_cache_stale_seconds` where set, the store's defaults otherwise.
pub fn key_auth_config(general: &GeneralSettings) -> KeyAuthConfig {
    let default = KeyAuthConfig::default();
    KeyAuthConfig {
        fresh_ttl: general.key_cache_ttl.unwrap_or(default.fresh_ttl),
        stale_ttl: general.key_cache_stale.unwrap_or(default.stale_ttl),
        ..default
    }
}

/// The request-log writer's bound: `general_settings.request_log_queue_size` where set.
pub fn log_writer_config(general: &GeneralSettings) -> LogWriterConfig {
    let default = LogWriterConfig::default();
    LogWriterConfig {
        capacity: general.request_log_queue_size.unwrap_or(default.capacity),
        ..default
    }
}

/// The provider of one deployment.
pub fn make_provider(
    d: &DeploymentConfig,
    drop_params: bool,
    client: &AzureClient,
) -> Result<Arc<dyn Provider>, ConfigError> {
    Ok(match d.provider {
        ProviderKind::Azure => Arc::new(AzureProvider::from_config(d, drop_params, client)?),
        ProviderKind::Mock => match &d.mock_response {
            Some(text) => Arc::new(MockProvider::fixed(d.deployment.clone(), text.clone())),
            None => Arc::new(MockProvider::echo(d.deployment.clone())),
        },
    })
}

/// The router of a config with its providers, and nothing else (no store, no keys): what
/// the gateway routes with, and what one-off callers such as `llmroute chat` use.
pub fn build_router(config: &Config, client: &AzureClient) -> Result<Router, ConfigError> {
    Router::from_config(config, &|d| make_provider(d, config.drop_params, client))
}

fn build_routing(
    config: Config,
    client: &AzureClient,
    shared: &SharedState,
) -> Result<Routing, StartError> {
    let router = build_router(&config, client)?;
    router.set_counters(shared.counters.clone());
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let models: Vec<ModelObject> = config
        .model_names()
        .into_iter()
        .map(|name| ModelObject::new(name, "llmroute", created))
        .collect();
    let model_json = models
        .iter()
        .map(|m| {
            (
                m.id.clone(),
                Bytes::from(serde_json::to_vec(m).unwrap_or_default()),
            )
        })
        .collect();
    let models_json = Bytes::from(serde_json::to_vec(&ModelList::new(models)).unwrap_or_default());
    let azure_names = config
        .models
        .iter()
        .filter(|d| d.provider == ProviderKind::Azure)
        .map(|d| (d.deployment.clone(), d.model_name.clone()))
        .collect();
    let prices = Prices::from_config(&config);
    Ok(Routing {
        estimator: CostEstimator::new(prices.by_group(&config), 4096),
        prices,
        config: Arc::new(config),
        router,
        models_json,
        model_json,
        azure_names,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn degraded_mode_settings_reach_the_key_cache_and_the_log_writer() {
        let unset = GeneralSettings::default();
        let (auth, logs) = (key_auth_config(&unset), log_writer_config(&unset));
        assert_eq!(auth.fresh_ttl, KeyAuthConfig::default().fresh_ttl);
        assert_eq!(auth.stale_ttl, KeyAuthConfig::default().stale_ttl);
        assert_eq!(logs.capacity, LogWriterConfig::default().capacity);

        let set = GeneralSettings {
            key_cache_ttl: Some(Duration::from_secs(3)),
            key_cache_stale: Some(Duration::from_secs(45)),
            request_log_queue_size: Some(7),
            ..GeneralSettings::default()
        };
        let (auth, logs) = (key_auth_config(&set), log_writer_config(&set));
        assert_eq!(auth.fresh_ttl, Duration::from_secs(3));
        assert_eq!(auth.stale_ttl, Duration::from_secs(45));
        assert_eq!(auth.db_timeout, KeyAuthConfig::default().db_timeout);
        assert_eq!(logs.capacity, 7);
        assert_eq!(logs.batch_size, LogWriterConfig::default().batch_size);
    }
}
