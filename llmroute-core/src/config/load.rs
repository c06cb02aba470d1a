//! Reading a config from a file, from `LLMROUTE_CONFIG_YAML`, or the embedded defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml::Value;

use super::env;
use super::error::ConfigError;
use super::general;
use super::raw::{RawConfig, RawModel, Unknown};
use super::settings::*;
use crate::cost::Price;
use crate::secret::Secret;

/// Environment variable holding the config file's path.
pub const CONFIG_PATH_ENV: &str = "LLMROUTE_CONFIG";
/// Environment variable holding the whole YAML (how ECS injects it from Secrets Manager).
pub const CONFIG_YAML_ENV: &str = "LLMROUTE_CONFIG_YAML";

/// Where a configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A YAML file.
    File(PathBuf),
    /// The YAML text in `LLMROUTE_CONFIG_YAML`.
    EnvYaml,
    /// No config: the embedded defaults (a `mock` model, and `gpt-4o` on Azure when
    /// `AZURE_API_BASE` / `AZURE_API_KEY` / `AZURE_DEPLOYMENT` are set).
    Embedded,
}

impl ConfigSource {
    /// Picks the source: an explicit path first, then `LLMROUTE_CONFIG`, then
    /// `LLMROUTE_CONFIG_YAML`, else the embedded defaults.
    pub fn detect(explicit: Option<PathBuf>, lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        if let Some(path) = explicit {
            return ConfigSource::File(path);
        }
        if let Some(path) = lookup(CONFIG_PATH_ENV).filter(|p| !p.is_empty()) {
            return ConfigSource::File(PathBuf::from(path));
        }
        if lookup(CONFIG_YAML_ENV).is_some_and(|y| !y.trim().is_empty()) {
            return ConfigSource::EnvYaml;
        }
        ConfigSource::Embedded
    }

    /// Loads the configuration from this source, reading the process environment.
    pub fn load(&self) -> Result<Config, ConfigError> {
        self.load_with(&|name| std::env::var(name).ok())
    }

    /// Loads the configuration, looking variables up with `lookup` (for tests).
    pub fn load_with(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        match self {
            ConfigSource::File(path) => Config::from_file(path, lookup),
            ConfigSource::EnvYaml => {
                let text = lookup(CONFIG_YAML_ENV).unwrap_or_default();
                Config::from_yaml(&text, CONFIG_YAML_ENV, lookup)
            }
            ConfigSource::Embedded => Config::embedded(lookup),
        }
    }
}

impl Config {
    /// Loads a YAML file.
    pub fn from_file(
        path: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(
                &name,
                "",
                format!("cannot read the config file ({e}); check the path given to --config or LLMROUTE_CONFIG"),
            )
        })?;
        Config::from_yaml(&text, &name, lookup)
    }

    /// Parses YAML text; `source` names it in errors.
    pub fn from_yaml(
        text: &str,
        source: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut doc: Value = serde_yaml::from_str(text)
            .map_err(|e| ConfigError::new(source, "", format!("not valid YAML: {e}")))?;
        if doc.is_null() {
            doc = Value::Mapping(Default::default());
        }
        let file_env = file_environment(&doc);
        let lookup_all = |name: &str| {
            lookup(name).or_else(|| {
                file_env
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
        };
        let mut missing = Vec::new();
        env::resolve(&mut doc, "", &lookup_all, &mut missing);
        let missing_error = |missing: &[(String, String)]| {
            let (path, _) = &missing[0];
            let list: Vec<String> = missing
                .iter()
                .map(|(p, n)| format!("{n} (for {p})"))
                .collect();
            ConfigError::new(
                source,
                path.clone(),
                format!(
                    "environment variable not set: {}; set it (on ECS: a secret in the task definition) or put the value in the file",
                    list.join(", ")
                ),
            )
        };
        let loaded = serde_path_to_error::deserialize::<_, RawConfig>(doc)
            .map_err(|e| {
                let path = e.path().to_string();
                ConfigError::new(
                    source,
                    if path == "." { String::new() } else { path },
                    e.into_inner().to_string(),
                )
            })
            .and_then(|raw| convert(raw, source, &lookup_all));
        if missing.is_empty() {
            return loaded;
        }
        // A variable that is not set is fatal only where llmroute reads the value: under a
        // key it ignores (listed in `unsupported_keys`), the reference is never used.
        let mut cfg = match loaded {
            Ok(cfg) => cfg,
            // An error at a value that stayed `os.environ/NAME` is that variable's fault.
            Err(e)
                if e.path.is_empty()
                    || missing
                        .iter()
                        .any(|(p, _)| is_under(p, &e.path) || is_under(&e.path, p)) =>
            {
                return Err(missing_error(&missing))
            }
            Err(e) => return Err(e),
        };
        let (ignored, used): (Vec<_>, Vec<_>) = missing
            .into_iter()
            .partition(|(path, _)| cfg.unsupported_keys.iter().any(|k| is_under(path, k)));
        if !used.is_empty() {
            return Err(missing_error(&used));
        }
        cfg.unset_ignored_env = ignored.into_iter().map(|(_, name)| name).collect();
        cfg.unset_ignored_env.sort();
        cfg.unset_ignored_env.dedup();
        Ok(cfg)
    }

    /// The embedded defaults: a `mock` model, plus `gpt-4o` on Azure when
    /// `AZURE_API_BASE`, `AZURE_API_KEY` and `AZURE_DEPLOYMENT` are set.
    pub fn embedded(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut yaml = String::from("model_list:\n");
        let azure = ["AZURE_API_BASE", "AZURE_API_KEY", "AZURE_DEPLOYMENT"]
            .iter()
            .all(|n| lookup(n).is_some_and(|v| !v.is_empty()));
        if azure {
            yaml.push_str(
                "  - model_name: gpt-4o\n    litellm_params:\n      model: azure/os.environ/AZURE_DEPLOYMENT\n",
            );
            yaml.push_str("      api_base: os.environ/AZURE_API_BASE\n      api_key: os.environ/AZURE_API_KEY\n");
            if lookup("AZURE_API_VERSION").is_some() {
                yaml.push_str("      api_version: os.environ/AZURE_API_VERSION\n");
            }
        }
        yaml.push_str("  - model_name: mock\n    litellm_params:\n      model: mock/echo\n");
        let deployment = lookup("AZURE_DEPLOYMENT").unwrap_or_default();
        let yaml = yaml.replace(
            "azure/os.environ/AZURE_DEPLOYMENT",
            &format!("azure/{deployment}"),
        );
        Config::from_yaml(&yaml, "embedded defaults", lookup)
    }
}

fn file_environment(doc: &Value) -> Vec<(String, String)> {
    doc.get("environment_variables")
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    let value = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => return None,
                    };
                    Some((k.as_str()?.to_string(), value))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `path` is `key` itself or something inside it (`key.a`, `key[0]`).
fn is_under(path: &str, key: &str) -> bool {
    path.strip_prefix(key)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}

fn unknown_keys(prefix: &str, extra: &Unknown, out: &mut Vec<String>) {
    out.extend(extra.keys().map(|k| format!("{prefix}{k}")));
}

fn secs(v: Option<f64>) -> Option<Duration> {
    v.and_then(|s| Duration::try_from_secs_f64(s).ok())
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

fn convert(
    raw: RawConfig,
    source: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut unsupported = Vec::new();
    unknown_keys("", &raw.extra, &mut unsupported);
    if raw.model_list.is_empty() {
        return Err(ConfigError::new(
            source,
            "model_list",
            "no models configured; add at least one entry with model_name and litellm_params.model (e.g. azure/<deployment>)",
        ));
    }
    let mut models = Vec::with_capacity(raw.model_list.len());
    for (i, m) in raw.model_list.into_iter().enumerate() {
        models.push(convert_model(i, m, source, &mut unsupported)?);
    }

    let g = raw.general_settings;
    unknown_keys("general_settings.", &g.extra, &mut unsupported);
    let degraded = general::Degraded::from_raw(&g, source)?;
    let general = GeneralSettings {
        master_key: non_empty(g.master_key).map(Secret::new),
        database_url: non_empty(g.database_url).map(Secret::new),
        block_robots: g.block_robots.unwrap_or(false),
        max_request_bytes: g
            .max_request_size_mb
            .map(|mb| (mb * 1024.0 * 1024.0) as usize)
            .unwrap_or(16 * 1024 * 1024),
        graceful_shutdown: secs(g.graceful_shutdown_seconds).unwrap_or(Duration::from_secs(30)),
        key_cache_ttl: degraded.key_cache_ttl,
        key_cache_stale: degraded.key_cache_stale,
        request_log_queue_size: degraded.log_queue_size,
    };

    let l = raw.litellm_settings;
    unknown_keys("litellm_settings.", &l.extra, &mut unsupported);
    unknown_keys(
        "litellm_settings.cache_params.",
        &l.cache_params.extra,
        &mut unsupported,
    );
    let r = raw.router_settings;
    unknown_keys("router_settings.", &r.extra, &mut unsupported);

    let defaults = RouterSettings::default();
    let strategy = r.routing_strategy.unwrap_or(defaults.routing_strategy);
    const STRATEGIES: [&str; 5] = [
        "simple-shuffle",
        "least-busy",
        "latency-based-routing",
        "usage-based-routing",
        "usage-based-routing-v2",
    ];
    if !STRATEGIES.contains(&strategy.as_str()) {
        return Err(ConfigError::new(
            source,
            "router_settings.routing_strategy",
            format!(
                "unknown strategy {strategy:?}; use one of {}",
                STRATEGIES.join(", ")
            ),
        ));
    }
    let flatten = |list: Vec<std::collections::BTreeMap<String, Vec<String>>>| {
        list.into_iter().flatten().collect()
    };
    let router = RouterSettings {
        routing_strategy: strategy,
        num_retries: r
            .num_retries
            .or(l.num_retries)
            .map(|n| n.max(0.0) as u32)
            .unwrap_or(defaults.num_retries),
        timeout: secs(r.timeout.or(l.request_timeout)).unwrap_or(defaults.timeout),
        stream_timeout: secs(r.stream_timeout),
        fallbacks: flatten(r.fallbacks),
        context_window_fallbacks: flatten(r.context_window_fallbacks),
        allowed_fails: r
            .allowed_fails
            .map(|n| n.max(0.0) as u32)
            .unwrap_or(defaults.allowed_fails),
        cooldown_time: secs(r.cooldown_time).unwrap_or(defaults.cooldown_time),
    };
    if r.retry_after.is_some() {
        unsupported.push("router_settings.retry_after".to_string());
    }

    let cp = l.cache_params;
    let cache = CacheSettings {
        enabled: l.cache.unwrap_or(false),
        kind: cp.kind.clone(),
        ttl: secs(cp.ttl),
        namespace: cp.namespace.clone(),
    };
    let redis = redis_settings(
        lookup,
        &r.redis_url,
        &r.redis_host,
        r.redis_port,
        &r.redis_password,
        &cp,
    );
    Ok(Config {
        source: source.to_string(),
        models,
        general,
        router,
        cache,
        redis,
        drop_params: l.drop_params.unwrap_or(false),
        unsupported_keys: unsupported,
        unset_ignored_env: Vec::new(),
    })
}

fn redis_settings(
    lookup: &dyn Fn(&str) -> Option<String>,
    url: &Option<String>,
    host: &Option<String>,
    port: Option<f64>,
    password: &Option<String>,
    cp: &super::raw::RawCacheParams,
) -> Option<RedisSettings> {
    let build = |host: &str, port: Option<f64>, password: Option<&String>| {
        let port = port.map(|p| p as u16).unwrap_or(6379);
        match password.filter(|p| !p.is_empty()) {
            Some(pw) => format!(
                "redis://:{}@{host}:{port}",
                crate::percent::encode_component(pw)
            ),
            None => format!("redis://{host}:{port}"),
        }
    };
    let found = |url: String, from: &str| {
        Some(RedisSettings {
            url: Secret::new(url),
            from: from.to_string(),
        })
    };
    if let Some(u) = lookup("REDIS_URL").filter(|u| !u.is_empty()) {
        return found(u, "REDIS_URL");
    }
    if let Some(u) = non_empty(url.clone()) {
        return found(u, "router_settings.redis_url");
    }
    if let Some(h) = non_empty(host.clone()) {
        return found(
            build(&h, port, password.as_ref()),
            "router_settings.redis_host",
        );
    }
    if let Some(u) = non_empty(cp.url.clone()) {
        return found(u, "litellm_settings.cache_params.url");
    }
    if let Some(h) = non_empty(cp.host.clone()) {
        return found(
            build(&h, cp.port, cp.password.as_ref()),
            "litellm_settings.cache_params.host",
        );
    }
    if cp.kind.as_deref() == Some("redis") {
        if let Some(h) = lookup("REDIS_HOST").filter(|h| !h.is_empty()) {
            let port = lookup("REDIS_PORT").and_then(|p| p.parse().ok());
            return found(
                build(&h, port, lookup("REDIS_PASSWORD").as_ref()),
                "REDIS_HOST",
            );
        }
    }
    None
}

fn convert_model(
    i: usize,
    m: RawModel,
    source: &str,
    unsupported: &mut Vec<String>,
) -> Result<DeploymentConfig, ConfigError> {
    let at = |key: &str| format!("model_list[{i}].{key}");
    unknown_keys(&at(""), &m.extra, unsupported);
    unknown_keys(&at("litellm_params."), &m.litellm_params.extra, unsupported);
    unknown_keys(&at("model_info."), &m.model_info.extra, unsupported);
    if m.model_name.trim().is_empty() {
        return Err(ConfigError::new(
            source,
            at("model_name"),
            "empty model name; set the public name callers send, e.g. gpt-4o",
        ));
    }
    let p = m.litellm_params;
    let (prefix, deployment) = p.model.split_once('/').unwrap_or(("", p.model.as_str()));
    let provider = match prefix {
        "azure" => ProviderKind::Azure,
        "mock" => ProviderKind::Mock,
        other => {
            let shown = if other.is_empty() {
                "(none)".to_string()
            } else {
                format!("{other}/")
            };
            return Err(ConfigError::new(
                source,
                at("litellm_params.model"),
                format!(
                    "unknown provider prefix {shown} in {:?}; llmroute supports azure/<deployment> and mock/<name>",
                    p.model
                ),
            ));
        }
    };
    if deployment.is_empty() {
        return Err(ConfigError::new(
            source,
            at("litellm_params.model"),
            format!("no deployment after {prefix}/; write {prefix}/<your deployment name>"),
        ));
    }
    let entra = match (
        non_empty(p.tenant_id),
        non_empty(p.client_id),
        non_empty(p.client_secret),
    ) {
        (Some(tenant_id), Some(client_id), Some(secret)) => Some(EntraCredentials {
            tenant_id,
            client_id,
            client_secret: Secret::new(secret),
            token_url: non_empty(p.azure_ad_token_url),
        }),
        (None, None, None) => None,
        _ => {
            return Err(ConfigError::new(
                source,
                at("litellm_params.tenant_id"),
                "Entra ID needs all three of tenant_id, client_id and client_secret",
            ))
        }
    };
    let api_key = non_empty(p.api_key).map(Secret::new);
    let azure_ad_token = non_empty(p.azure_ad_token).map(Secret::new);
    let api_base = non_empty(p.api_base);
    if provider == ProviderKind::Azure {
        if api_base.is_none() {
            return Err(ConfigError::new(
                source,
                at("litellm_params.api_base"),
                "required for azure/ models; set it to https://<resource>.openai.azure.com (or os.environ/AZURE_API_BASE)",
            ));
        }
        if api_key.is_none() && entra.is_none() && azure_ad_token.is_none() {
            return Err(ConfigError::new(
                source,
                at("litellm_params.api_key"),
                "azure/ models need a credential: api_key, or tenant_id + client_id + client_secret for Entra ID",
            ));
        }
    }
    let info = m.model_info;
    let input = p.input_cost_per_token.or(info.input_cost_per_token);
    let output = p.output_cost_per_token.or(info.output_cost_per_token);
    let cached = p
        .cache_read_input_token_cost
        .or(info.cache_read_input_token_cost);
    let price = match (input, output) {
        (Some(input), Some(output)) => Some(Price {
            input,
            output,
            cached_input: cached.unwrap_or(input),
        }),
        (None, None) => None,
        _ => {
            return Err(ConfigError::new(
                source,
                at("litellm_params.input_cost_per_token"),
                "set both input_cost_per_token and output_cost_per_token, or neither",
            ))
        }
    };
    Ok(DeploymentConfig {
        id: info.id.unwrap_or_else(|| format!("{}-{i}", m.model_name)),
        model_name: m.model_name,
        provider,
        deployment: deployment.to_string(),
        api_base,
        api_key,
        api_version: non_empty(p.api_version),
        entra,
        azure_ad_token,
        rpm: p.rpm.map(|v| v as u64),
        tpm: p.tpm.map(|v| v as u64),
        weight: p.weight.filter(|w| *w > 0.0).unwrap_or(1.0),
        order: p.order.map(|o| o as u32),
        timeout: secs(p.timeout),
        stream_timeout: secs(p.stream_timeout),
        mock_response: p.mock_response,
        price,
        base_model: info.base_model,
    })
}
