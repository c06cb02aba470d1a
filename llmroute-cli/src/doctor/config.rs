//! Doctor's config checks: the config is found and parses, every `os.environ/NAME` it
//! names is set, and there is a master key.

use llmroute_core::config::{Config, ConfigSource, CONFIG_YAML_ENV};

use super::Check;
use crate::args::ConfigArgs;
use crate::context::config_source;

const G: &str = "config";

/// The `os.environ/NAME` names in a YAML text, in order, without repeats.
pub fn env_refs(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for part in text.split("os.environ/").skip(1) {
        let name: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Every config check, with the config when it loaded.
pub fn check_all(args: &ConfigArgs) -> (Vec<Check>, Option<Config>) {
    check_with(&config_source(args), args, &|n| std::env::var(n).ok())
}

/// The same, with the environment looked up by `lookup` (for tests).
pub fn check_with(
    source: &ConfigSource,
    args: &ConfigArgs,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> (Vec<Check>, Option<Config>) {
    let mut checks = Vec::new();
    let text = match source {
        ConfigSource::File(path) => match std::fs::read_to_string(path) {
            Ok(t) => {
                checks.push(Check::pass(G, "found", format!("{}", path.display())));
                Some(t)
            }
            Err(e) => {
                checks.push(Check::fail(
                    G,
                    "found",
                    format!("cannot read {}: {e}", path.display()),
                    "point --config (LLMROUTE_CONFIG) at the file; in a container, check the volume mount or use LLMROUTE_CONFIG_YAML (Secrets Manager on ECS)",
                ));
                return (checks, None);
            }
        },
        ConfigSource::EnvYaml => {
            checks.push(Check::pass(
                G,
                "found",
                format!("{CONFIG_YAML_ENV} (the whole YAML in an environment variable)"),
            ));
            lookup(CONFIG_YAML_ENV)
        }
        ConfigSource::Embedded => {
            checks.push(Check::warn(
                G,
                "found",
                "no config file: using the embedded defaults (a mock model, plus gpt-4o when AZURE_API_BASE, AZURE_API_KEY and AZURE_DEPLOYMENT are set)",
                "pass --config config.yaml, or set LLMROUTE_CONFIG or LLMROUTE_CONFIG_YAML; the server logs `config=` at start-up, so a config that never loaded shows there",
            ));
            None
        }
    };
    let refs = match (&text, source) {
        (Some(t), _) => env_refs(t),
        (None, ConfigSource::Embedded) => vec![
            "AZURE_API_BASE".into(),
            "AZURE_API_KEY".into(),
            "AZURE_DEPLOYMENT".into(),
        ],
        _ => Vec::new(),
    };
    let file_env = text.as_deref().map(file_environment).unwrap_or_default();
    let missing: Vec<&String> = refs
        .iter()
        .filter(|n| lookup(n).is_none_or(|v| v.is_empty()) && !file_env.contains(n))
        .collect();
    if refs.is_empty() {
        checks.push(Check::pass(
            G,
            "env vars",
            "the config names no os.environ/ variables",
        ));
    } else if missing.is_empty() {
        checks.push(Check::pass(
            G,
            "env vars",
            format!("all set: {}", refs.join(", ")),
        ));
    } else if matches!(source, ConfigSource::Embedded) {
        checks.push(Check::warn(
            G,
            "env vars",
            format!("not set: {} (gpt-4o is not configured)", join(&missing)),
            "set them to serve gpt-4o from Azure without a config file",
        ));
    } else {
        checks.push(Check::fail(
            G,
            "env vars",
            format!("not set: {}", join(&missing)),
            "set them in the environment; on ECS add them as secrets (Secrets Manager) in the task definition",
        ));
    }
    let loaded = match source.load_with(lookup) {
        Ok(c) => {
            let detail = format!(
                "{} model name(s), {} deployment(s): {}",
                c.model_names().len(),
                c.models.len(),
                c.model_names().join(", ")
            );
            checks.push(Check::pass(G, "parsed", detail));
            if let Some(w) = c.unsupported_warning() {
                checks.push(Check::warn(G, "supported keys", w, "these LiteLLM keys are ignored by llmroute; remove them or see docs/configuration.md"));
            }
            Some(c)
        }
        Err(e) => {
            checks.push(Check::fail(
                G,
                "parsed",
                e.to_string(),
                "fix the key named above; `llmroute config check` shows the same error",
            ));
            None
        }
    };
    if let Some(c) = &loaded {
        checks.push(master_key(c, args));
    }
    (checks, loaded)
}

fn join(names: &[&String]) -> String {
    names
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn file_environment(text: &str) -> Vec<String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap_or_default();
    doc.get("environment_variables")
        .and_then(|v| v.as_mapping())
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn master_key(c: &Config, args: &ConfigArgs) -> Check {
    if let Some(k) = &c.general.master_key {
        if !k.expose().starts_with("sk-") {
            return Check::warn(
                G,
                "master key",
                "set, but does not start with sk- (LiteLLM requires it; OpenAI SDKs do not care)",
                "use a key that starts with sk-",
            );
        }
        return Check::pass(G, "master key", format!("set ({})", k.hint()));
    }
    let file = args.data_dir.join("master_key");
    if file.exists() {
        return Check::warn(
            G,
            "master key",
            format!("not in the config; the server uses the key stored in {}", file.display()),
            "set general_settings.master_key: os.environ/LLMROUTE_MASTER_KEY so every instance shares one key",
        );
    }
    Check::warn(
        G,
        "master key",
        "not set: the server will create one at first start and store it in the data folder",
        "set general_settings.master_key: os.environ/LLMROUTE_MASTER_KEY (a Secrets Manager secret on ECS); a generated key is lost with the container",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn args() -> ConfigArgs {
        ConfigArgs {
            config: None,
            data_dir: PathBuf::from("/nonexistent-llmroute-dir"),
        }
    }

    #[test]
    fn finds_env_refs() {
        assert_eq!(
            env_refs("a: os.environ/AZ_KEY\nb: os.environ/X_1 os.environ/AZ_KEY"),
            vec!["AZ_KEY", "X_1"]
        );
    }

    #[test]
    fn missing_env_var_fails_with_its_name() {
        let yaml = "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: azure/gpt-4o\n      api_base: https://x.openai.azure.com\n      api_key: os.environ/DOCTOR_TEST_KEY\n";
        let lookup = |n: &str| (n == CONFIG_YAML_ENV).then(|| yaml.to_string());
        let (checks, cfg) = check_with(&ConfigSource::EnvYaml, &args(), &lookup);
        assert!(cfg.is_none());
        let env = checks
            .iter()
            .find(|c| c.name == "env vars")
            .expect("env line");
        assert_eq!(env.status, super::super::Status::Fail);
        assert!(env.detail.contains("DOCTOR_TEST_KEY"));
    }

    #[test]
    fn embedded_defaults_warn_about_master_key() {
        let (checks, cfg) = check_with(&ConfigSource::Embedded, &args(), &|_| None);
        assert!(cfg.is_some());
        let mk = checks
            .iter()
            .find(|c| c.name == "master key")
            .expect("master key line");
        assert_eq!(mk.status, super::super::Status::Warn);
    }
}
