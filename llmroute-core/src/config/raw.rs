//! The config file as written: LiteLLM's `config.yaml`, field for field.
//!
//! Every struct keeps the keys it does not know in `extra`, so they can be listed in
//! one start-up warning instead of being silently ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_yaml::Value;

pub(crate) type Unknown = BTreeMap<String, Value>;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub model_list: Vec<RawModel>,
    #[serde(default)]
    pub general_settings: RawGeneral,
    #[serde(default)]
    pub litellm_settings: RawLitellm,
    #[serde(default)]
    pub router_settings: RawRouter,
    /// Read before parsing (see `load::file_environment`); kept here so it is not
    /// reported as an unknown key.
    #[serde(default)]
    #[allow(dead_code)]
    pub environment_variables: BTreeMap<String, Value>,
    #[serde(flatten)]
    pub extra: Unknown,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawModel {
    pub model_name: String,
    pub litellm_params: RawParams,
    #[serde(default)]
    pub model_info: RawModelInfo,
    #[serde(flatten)]
    pub extra: Unknown,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RawParams {
    pub model: String,
    pub api_base: Option<String>,
    pub api_key: Option<String>,
    pub api_version: Option<String>,
    #[serde(default, deserialize_with = "number")]
    pub rpm: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub tpm: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub weight: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub order: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub timeout: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub stream_timeout: Option<f64>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub azure_ad_token: Option<String>,
    pub azure_ad_token_url: Option<String>,
    pub mock_response: Option<String>,
    #[serde(default, deserialize_with = "number")]
    pub input_cost_per_token: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub output_cost_per_token: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub cache_read_input_token_cost: Option<f64>,
    #[serde(flatten)]
    pub extra: Unknown,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawModelInfo {
    pub id: Option<String>,
    pub base_model: Option<String>,
    #[serde(default, deserialize_with = "number")]
    pub input_cost_per_token: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub output_cost_per_token: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub cache_read_input_token_cost: Option<f64>,
    #[serde(flatten)]
    pub extra: Unknown,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawGeneral {
    pub master_key: Option<String>,
    pub database_url: Option<String>,
    pub block_robots: Option<bool>,
    #[serde(default, deserialize_with = "number")]
    pub max_request_size_mb: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub graceful_shutdown_seconds: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub user_api_key_cache_ttl: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub key_cache_stale_seconds: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub request_log_queue_size: Option<f64>,
    #[serde(flatten)]
    pub extra: Unknown,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawLitellm {
    pub drop_params: Option<bool>,
    pub cache: Option<bool>,
    #[serde(default)]
    pub cache_params: RawCacheParams,
    #[serde(default, deserialize_with = "number")]
    pub request_timeout: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub num_retries: Option<f64>,
    #[serde(flatten)]
    pub extra: Unknown,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawCacheParams {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "number")]
    pub ttl: Option<f64>,
    pub namespace: Option<String>,
    pub host: Option<String>,
    #[serde(default, deserialize_with = "number")]
    pub port: Option<f64>,
    pub password: Option<String>,
    pub url: Option<String>,
    #[serde(flatten)]
    pub extra: Unknown,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawRouter {
    pub routing_strategy: Option<String>,
    #[serde(default, deserialize_with = "number")]
    pub num_retries: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub timeout: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub stream_timeout: Option<f64>,
    #[serde(default)]
    pub fallbacks: Vec<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    pub context_window_fallbacks: Vec<BTreeMap<String, Vec<String>>>,
    #[serde(default, deserialize_with = "number")]
    pub allowed_fails: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub cooldown_time: Option<f64>,
    #[serde(default, deserialize_with = "number")]
    pub retry_after: Option<f64>,
    pub redis_url: Option<String>,
    pub redis_host: Option<String>,
    #[serde(default, deserialize_with = "number")]
    pub redis_port: Option<f64>,
    pub redis_password: Option<String>,
    #[serde(flatten)]
    pub extra: Unknown,
}

/// A number, or a string holding one (values read from `os.environ/...` are strings).
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("number out of range")),
        Some(Value::String(s)) => s.trim().parse::<f64>().map(Some).map_err(|_| {
            serde::de::Error::custom(format!("expected a number, found the string {s:?}"))
        }),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a number, found {}",
            serde_yaml::to_string(&other).unwrap_or_default().trim()
        ))),
    }
}
