//! The runtime configuration: resolved, validated, typed.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cost::Price;
use crate::secret::Secret;

/// A loaded configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from, for messages (`config.yaml`, `LLMROUTE_CONFIG_YAML`, ...).
    pub source: String,
    /// Every deployment, in file order. Several may share a `model_name` (a model group).
    pub models: Vec<DeploymentConfig>,
    /// `general_settings`.
    pub general: GeneralSettings,
    /// `router_settings` (with `litellm_settings.num_retries` / `request_timeout` folded in).
    pub router: RouterSettings,
    /// `litellm_settings.cache` and `cache_params`.
    pub cache: CacheSettings,
    /// Where Redis is, from whichever keys the config uses.
    pub redis: Option<RedisSettings>,
    /// `litellm_settings.drop_params`: drop parameters a deployment's api-version does
    /// not support (with a warning) instead of answering 400.
    pub drop_params: bool,
    /// Keys present in the file that llmroute does not act on (for one warning).
    pub unsupported_keys: Vec<String>,
    /// Environment variables referenced (`os.environ/NAME`) only under unsupported keys
    /// and not set: not an error, since llmroute never reads those values.
    pub unset_ignored_env: Vec<String>,
}

impl Config {
    /// The distinct public model names, in file order.
    pub fn model_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for m in &self.models {
            if !names.contains(&m.model_name.as_str()) {
                names.push(&m.model_name);
            }
        }
        names
    }

    /// The one-line warning listing unsupported keys, if there are any.
    pub fn unsupported_warning(&self) -> Option<String> {
        (!self.unsupported_keys.is_empty()).then(|| {
            let mut text = format!(
                "{}: these keys are not supported by llmroute and are ignored: {}",
                self.source,
                self.unsupported_keys.join(", ")
            );
            if !self.unset_ignored_env.is_empty() {
                text.push_str(&format!(
                    " (environment variables they name are not set, which is fine: {})",
                    self.unset_ignored_env.join(", ")
                ));
            }
            text
        })
    }
}

/// Which kind of upstream a deployment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// `azure/<deployment>`: Azure OpenAI.
    Azure,
    /// `mock/<anything>`: the in-process mock.
    Mock,
}

impl ProviderKind {
    /// The prefix in `litellm_params.model`.
    pub fn prefix(self) -> &'static str {
        match self {
            ProviderKind::Azure => "azure",
            ProviderKind::Mock => "mock",
        }
    }
}

/// One deployment: an entry of `model_list`.
#[derive(Debug, Clone)]
pub struct DeploymentConfig {
    /// Public model name callers send (`gpt-4o`).
    pub model_name: String,
    /// Stable id: `model_info.id`, else `<model_name>-<index>`.
    pub id: String,
    /// Upstream kind.
    pub provider: ProviderKind,
    /// The part after the prefix: Azure's deployment name.
    pub deployment: String,
    /// Azure resource endpoint, `https://<resource>.openai.azure.com`.
    pub api_base: Option<String>,
    /// Azure API key.
    pub api_key: Option<Secret>,
    /// `2024-10-21`, a preview version, or `v1`.
    pub api_version: Option<String>,
    /// Microsoft Entra ID client credentials, instead of a key.
    pub entra: Option<EntraCredentials>,
    /// A fixed Entra token (`azure_ad_token`).
    pub azure_ad_token: Option<Secret>,
    /// Requests per minute this deployment may take.
    pub rpm: Option<u64>,
    /// Tokens per minute this deployment may take.
    pub tpm: Option<u64>,
    /// Relative weight for simple-shuffle (default 1).
    pub weight: f64,
    /// Priority tier, 1 first (default: all in one tier).
    pub order: Option<u32>,
    /// Whole-request timeout for this deployment.
    pub timeout: Option<Duration>,
    /// Time-to-first-token timeout for streams.
    pub stream_timeout: Option<Duration>,
    /// Fixed answer of a mock deployment.
    pub mock_response: Option<String>,
    /// Price override from `input_cost_per_token` / `output_cost_per_token`.
    pub price: Option<Price>,
    /// Model name to price by when the upstream reports none.
    pub base_model: Option<String>,
}

/// Entra ID client-credentials flow settings.
#[derive(Debug, Clone)]
pub struct EntraCredentials {
    /// Directory (tenant) id.
    pub tenant_id: String,
    /// Application (client) id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Secret,
    /// Token endpoint override (tests point it at the fake).
    pub token_url: Option<String>,
}

/// `general_settings`.
#[derive(Debug, Clone, Default)]
pub struct GeneralSettings {
    /// The admin key.
    pub master_key: Option<Secret>,
    /// `postgres://…` or `sqlite://…`.
    pub database_url: Option<Secret>,
    /// `/robots.txt` disallows everything.
    pub block_robots: bool,
    /// Largest request body accepted (default 16 MiB).
    pub max_request_bytes: usize,
    /// How long shutdown waits for in-flight requests (default 30 s).
    pub graceful_shutdown: Duration,
    /// `user_api_key_cache_ttl`: how long a verified virtual key is trusted without
    /// asking the database (`None`: the store's default, 10 s).
    pub key_cache_ttl: Option<Duration>,
    /// `key_cache_stale_seconds`: how much longer a cached virtual key is still accepted
    /// while the database is unreachable (`None`: the store's default, 10 min).
    pub key_cache_stale: Option<Duration>,
    /// `request_log_queue_size`: request logs held in memory (queued or being written)
    /// before new ones are dropped and counted (`None`: the store's default, 100 000).
    pub request_log_queue_size: Option<usize>,
}

/// `router_settings`.
#[derive(Debug, Clone)]
pub struct RouterSettings {
    /// `simple-shuffle`, `least-busy`, `latency-based-routing`, `usage-based-routing`.
    pub routing_strategy: String,
    /// Retries after the first attempt.
    pub num_retries: u32,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Time-to-first-token timeout for streams.
    pub stream_timeout: Option<Duration>,
    /// Model group → groups to try when it fails.
    pub fallbacks: BTreeMap<String, Vec<String>>,
    /// Model group → groups to try on `context_length_exceeded`.
    pub context_window_fallbacks: BTreeMap<String, Vec<String>>,
    /// Failures in a minute before a deployment cools down.
    pub allowed_fails: u32,
    /// How long a deployment cools down when upstream gives no retry-after.
    pub cooldown_time: Duration,
}

impl Default for RouterSettings {
    fn default() -> Self {
        RouterSettings {
            routing_strategy: "simple-shuffle".to_string(),
            num_retries: 2,
            timeout: Duration::from_secs(600),
            stream_timeout: None,
            fallbacks: BTreeMap::new(),
            context_window_fallbacks: BTreeMap::new(),
            allowed_fails: 3,
            cooldown_time: Duration::from_secs(5),
        }
    }
}

/// The response cache.
#[derive(Debug, Clone, Default)]
pub struct CacheSettings {
    /// `litellm_settings.cache`.
    pub enabled: bool,
    /// `cache_params.type`: `redis`, `local`, ...
    pub kind: Option<String>,
    /// Entry lifetime.
    pub ttl: Option<Duration>,
    /// Key prefix.
    pub namespace: Option<String>,
}

/// Where Redis is.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://` or `rediss://` URL, password included.
    pub url: Secret,
    /// Which config key it came from, for the start-up log.
    pub from: String,
}
