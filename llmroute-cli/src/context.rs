//! Loading the config and opening the store the way the server does, so the CLI sees
//! exactly what `llmroute-server` would.

use std::sync::Arc;

use llmroute_core::config::{Config, ConfigSource};
use llmroute_core::store::Store;
use llmroute_store::StoreOptions;

use crate::args::ConfigArgs;
use crate::error::CliError;

/// Where the config comes from: `--config`, `LLMROUTE_CONFIG`, `LLMROUTE_CONFIG_YAML`, or
/// the embedded defaults.
pub fn config_source(args: &ConfigArgs) -> ConfigSource {
    let file = args.config.clone().filter(|p| !p.as_os_str().is_empty());
    ConfigSource::detect(file, &|n| std::env::var(n).ok())
}

/// Loads the config (errors name the file, the key and the fix).
pub fn load_config(args: &ConfigArgs) -> Result<Config, CliError> {
    Ok(config_source(args).load()?)
}

/// The database URL and where it came from: the flag / `DATABASE_URL`, else the
/// config's `general_settings.database_url`, else `None` (the embedded SQLite file).
pub fn database_url(flag: Option<&str>, config: Option<&Config>) -> (Option<String>, String) {
    if let Some(url) = flag.filter(|u| !u.trim().is_empty()) {
        return (
            Some(url.to_string()),
            "--database-url / DATABASE_URL".into(),
        );
    }
    if let Some(url) = config.and_then(|c| c.general.database_url.as_ref()) {
        return (
            Some(url.expose().to_string()),
            "general_settings.database_url".into(),
        );
    }
    (None, "the embedded SQLite database".into())
}

/// Opens the store (running migrations, as the server does at start-up).
pub async fn open_store(flag: Option<&str>, args: &ConfigArgs) -> Result<Arc<dyn Store>, CliError> {
    // The config is only needed for database_url; a config that does not load is not an
    // error when the database is given on the command line.
    let config = if flag.is_some() {
        load_config(args).ok()
    } else {
        Some(load_config(args)?)
    };
    let (url, origin) = database_url(flag, config.as_ref());
    let mut opts = StoreOptions::new(url.as_deref(), &args.data_dir);
    opts.origin = origin;
    opts.pool_size = 2;
    Ok(llmroute_store::open_with(opts).await?)
}

/// The key hash of what the user typed: a 64-character hex hash as it is, else the
/// SHA-256 of the key.
pub fn key_hash_of(input: &str) -> String {
    let t = input.trim();
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        t.to_ascii_lowercase()
    } else {
        llmroute_core::auth::hash_key(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_pass_through_and_keys_are_hashed() {
        let h = llmroute_core::auth::hash_key("sk-abc");
        assert_eq!(key_hash_of(&h), h);
        assert_eq!(key_hash_of("sk-abc"), h);
    }
}
