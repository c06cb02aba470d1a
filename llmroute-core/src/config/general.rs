//! The `general_settings` keys for the database's degraded mode, validated: how long
//! verified virtual keys are trusted from memory (`user_api_key_cache_ttl`, LiteLLM's
//! name), how much longer they are still accepted while the database is unreachable
//! (`key_cache_stale_seconds`, llmroute's), and how many request logs wait in memory
//! (`request_log_queue_size`, llmroute's). A value that cannot work stops the start with
//! an error naming the key, the value and the allowed range.

use std::time::Duration;

use super::error::ConfigError;
use super::raw::RawGeneral;

/// The longest either key-cache duration may be: a week. Past that, a key deleted or
/// blocked during a long outage would keep working for too long.
const MAX_KEY_CACHE_SECONDS: f64 = 7.0 * 24.0 * 3600.0;
/// The most request logs that may wait in memory.
const MAX_LOG_QUEUE: f64 = 10_000_000.0;

/// The degraded-mode settings of `general_settings`; `None` keeps the store's default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Degraded {
    pub key_cache_ttl: Option<Duration>,
    pub key_cache_stale: Option<Duration>,
    pub log_queue_size: Option<usize>,
}

impl Degraded {
    /// Reads and checks the three keys.
    pub(super) fn from_raw(g: &RawGeneral, source: &str) -> Result<Degraded, ConfigError> {
        Ok(Degraded {
            key_cache_ttl: seconds(
                source,
                "user_api_key_cache_ttl",
                g.user_api_key_cache_ttl,
                "how long a verified virtual key is trusted without asking the database (default 10)",
            )?,
            key_cache_stale: seconds(
                source,
                "key_cache_stale_seconds",
                g.key_cache_stale_seconds,
                "how much longer a cached virtual key is accepted while the database is unreachable (default 600; 0 turns this off)",
            )?,
            log_queue_size: match g.request_log_queue_size {
                None => None,
                Some(n) if n.fract() == 0.0 && (1.0..=MAX_LOG_QUEUE).contains(&n) => {
                    Some(n as usize)
                }
                Some(n) => {
                    return Err(ConfigError::new(
                        source,
                        "general_settings.request_log_queue_size",
                        format!(
                            "must be a whole number from 1 to {MAX_LOG_QUEUE}, found {n}; it is how many request logs wait in memory while the database is slow or down before new ones are dropped (default 100000)"
                        ),
                    ))
                }
            },
        })
    }
}

fn seconds(
    source: &str,
    key: &str,
    value: Option<f64>,
    meaning: &str,
) -> Result<Option<Duration>, ConfigError> {
    match value {
        None => Ok(None),
        Some(s) if (0.0..=MAX_KEY_CACHE_SECONDS).contains(&s) => {
            Ok(Some(Duration::from_secs_f64(s)))
        }
        Some(s) => Err(ConfigError::new(
            source,
            format!("general_settings.{key}"),
            format!(
                "must be a number of seconds from 0 to {MAX_KEY_CACHE_SECONDS} (7 days), found {s}; it is {meaning}"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::{Config, ConfigError};

    fn load(general: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let yaml = format!(
            "model_list:\n  - model_name: m\n    litellm_params: {{model: mock/echo}}\ngeneral_settings: {{{general}}}\n"
        );
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_yaml(&yaml, "c.yaml", &|name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    fn error(general: &str) -> ConfigError {
        match load(general, &[]) {
            Ok(c) => panic!("{general} was accepted: {:?}", c.general),
            Err(e) => e,
        }
    }

    #[test]
    fn unset_keys_keep_the_stores_defaults() {
        let g = load("master_key: m", &[]).expect("loads").general;
        assert_eq!(g.key_cache_ttl, None);
        assert_eq!(g.key_cache_stale, None);
        assert_eq!(g.request_log_queue_size, None);
        assert!(load("", &[]).expect("loads").unsupported_keys.is_empty());
    }

    #[test]
    fn values_are_read_from_numbers_strings_and_the_environment() {
        let c = load(
            "user_api_key_cache_ttl: 2.5, key_cache_stale_seconds: '30', request_log_queue_size: os.environ/QUEUE",
            &[("QUEUE", "5")],
        )
        .expect("loads");
        assert_eq!(c.general.key_cache_ttl, Some(Duration::from_millis(2500)));
        assert_eq!(c.general.key_cache_stale, Some(Duration::from_secs(30)));
        assert_eq!(c.general.request_log_queue_size, Some(5));
        assert!(
            c.unsupported_keys.is_empty(),
            "the keys are known: {:?}",
            c.unsupported_keys
        );
        let zero = load("key_cache_stale_seconds: 0", &[]).expect("0 turns stale serving off");
        assert_eq!(zero.general.key_cache_stale, Some(Duration::ZERO));
    }

    #[test]
    fn bad_values_name_the_key_the_value_and_the_range() {
        for (general, key, found) in [
            (
                "key_cache_stale_seconds: -1",
                "key_cache_stale_seconds",
                "found -1",
            ),
            (
                "key_cache_stale_seconds: 604801",
                "key_cache_stale_seconds",
                "found 604801",
            ),
            (
                "key_cache_stale_seconds: .nan",
                "key_cache_stale_seconds",
                "found NaN",
            ),
            (
                "user_api_key_cache_ttl: -0.5",
                "user_api_key_cache_ttl",
                "found -0.5",
            ),
            (
                "request_log_queue_size: 0",
                "request_log_queue_size",
                "found 0",
            ),
            (
                "request_log_queue_size: 2.5",
                "request_log_queue_size",
                "found 2.5",
            ),
        ] {
            let e = error(general);
            assert_eq!(e.path, format!("general_settings.{key}"), "{general}: {e}");
            assert!(e.message.contains(found), "{general}: {e}");
            assert!(
                e.message.contains("from 0 to 604800") || e.message.contains("from 1 to"),
                "{general}: the range is given: {e}"
            );
        }
        let e = error("key_cache_stale_seconds: ten minutes");
        assert!(e.to_string().contains("key_cache_stale_seconds"), "{e}");
        assert!(e.message.contains("\"ten minutes\""), "{e}");
    }
}
