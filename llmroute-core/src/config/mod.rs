//! Configuration: LiteLLM's `config.yaml`, read unchanged.
//!
//! The file is parsed into raw structs ([`raw`]), `os.environ/NAME` values are resolved
//! once ([`env`]), then converted into the runtime types of [`settings`]; nothing
//! downstream ever sees an unresolved reference. Errors name the source, the key path
//! and the fix; keys llmroute does not act on are collected for one start-up warning.

mod env;
mod error;
mod general;
mod load;
mod raw;
mod settings;

pub use error::ConfigError;
pub use load::{ConfigSource, CONFIG_PATH_ENV, CONFIG_YAML_ENV};
pub use settings::{
    CacheSettings, Config, DeploymentConfig, EntraCredentials, GeneralSettings, ProviderKind,
    RedisSettings, RouterSettings,
};
