//! Loading LiteLLM config files: the ones users have, and the ways they go wrong.

use std::collections::HashMap;

use llmroute_core::config::{Config, ConfigSource, ProviderKind};

const LITELLM_CONFIG: &str = r#"
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: azure/gpt-4o-resola-llm
      api_base: os.environ/AZURE_API_BASE
      api_key: os.environ/AZURE_API_KEY
      api_version: "2024-10-21"
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  database_url: os.environ/DATABASE_URL
  block_robots: true
litellm_settings:
  drop_params: true
  cache: true
  cache_params: {type: redis, ttl: 600}
router_settings:
  num_retries: 2
  timeout: 60
"#;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

fn full_env() -> impl Fn(&str) -> Option<String> {
    env(&[
        ("AZURE_API_BASE", "https://myres.openai.azure.com"),
        ("AZURE_API_KEY", "azure-key-0123456789abcdef"),
        ("LITELLM_MASTER_KEY", "sk-master-1234567890"),
        ("DATABASE_URL", "postgres://u:p@db:5432/llm?sslmode=require"),
    ])
}

#[test]
fn the_litellm_config_loads_unchanged() {
    let cfg = Config::from_yaml(LITELLM_CONFIG, "config.yaml", &full_env()).expect("loads");
    assert_eq!(cfg.models.len(), 1);
    let m = &cfg.models[0];
    assert_eq!(m.model_name, "gpt-4o");
    assert_eq!(m.provider, ProviderKind::Azure);
    assert_eq!(m.deployment, "gpt-4o-resola-llm");
    assert_eq!(
        m.api_base.as_deref(),
        Some("https://myres.openai.azure.com")
    );
    assert_eq!(
        m.api_key.as_ref().map(|k| k.expose()),
        Some("azure-key-0123456789abcdef")
    );
    assert_eq!(m.api_version.as_deref(), Some("2024-10-21"));
    assert_eq!(
        cfg.general.master_key.as_ref().map(|k| k.expose()),
        Some("sk-master-1234567890")
    );
    assert!(cfg.general.block_robots);
    assert!(cfg.drop_params);
    assert!(cfg.cache.enabled);
    assert_eq!(cfg.cache.kind.as_deref(), Some("redis"));
    assert_eq!(cfg.cache.ttl, Some(std::time::Duration::from_secs(600)));
    assert_eq!(cfg.router.num_retries, 2);
    assert_eq!(cfg.router.timeout, std::time::Duration::from_secs(60));
    assert!(
        cfg.unsupported_keys.is_empty(),
        "{:?}",
        cfg.unsupported_keys
    );
}

#[test]
fn secrets_never_show_in_debug_output() {
    let cfg = Config::from_yaml(LITELLM_CONFIG, "config.yaml", &full_env()).expect("loads");
    let shown = format!("{cfg:?}");
    assert!(!shown.contains("azure-key-0123456789abcdef"));
    assert!(!shown.contains("sk-master-1234567890"));
    assert!(!shown.contains("u:p@db"));
    assert!(shown.contains("[REDACTED]"));
}

#[test]
fn two_azure_deployments_form_one_group() {
    let yaml = r#"
model_list:
  - model_name: gpt-4o
    litellm_params: {model: azure/gpt4o-eastus, api_base: "https://east.openai.azure.com/", api_key: k1, rpm: 600, tpm: 100000, order: 1}
    model_info: {id: east}
  - model_name: gpt-4o
    litellm_params: {model: azure/gpt4o-swedencentral, api_base: "https://sweden.openai.azure.com", api_key: k2, rpm: "300", weight: 2, order: 2}
router_settings:
  routing_strategy: usage-based-routing
  fallbacks: [{"gpt-4o": ["gpt-4o-mini"]}]
"#;
    let cfg = Config::from_yaml(yaml, "two.yaml", &env(&[])).expect("loads");
    assert_eq!(cfg.model_names(), vec!["gpt-4o"]);
    assert_eq!(cfg.models[0].id, "east");
    assert_eq!(cfg.models[1].id, "gpt-4o-1");
    assert_eq!(
        (cfg.models[0].rpm, cfg.models[0].tpm, cfg.models[0].order),
        (Some(600), Some(100000), Some(1))
    );
    assert_eq!((cfg.models[1].rpm, cfg.models[1].weight), (Some(300), 2.0));
    assert_eq!(cfg.router.routing_strategy, "usage-based-routing");
    assert_eq!(
        cfg.router.fallbacks.get("gpt-4o"),
        Some(&vec!["gpt-4o-mini".to_string()])
    );
}

#[test]
fn a_missing_env_var_names_the_key_the_variable_and_the_fix() {
    let lookup = env(&[
        ("AZURE_API_BASE", "https://x.openai.azure.com"),
        ("LITELLM_MASTER_KEY", "m"),
        ("DATABASE_URL", "d"),
    ]);
    let err = Config::from_yaml(LITELLM_CONFIG, "config.yaml", &lookup)
        .expect_err("missing AZURE_API_KEY");
    assert_eq!(
        err.to_string(),
        "config.yaml: model_list[0].litellm_params.api_key: environment variable not set: AZURE_API_KEY \
         (for model_list[0].litellm_params.api_key); set it (on ECS: a secret in the task definition) or put the value in the file"
    );
}

#[test]
fn environment_variables_section_feeds_references() {
    let yaml = "environment_variables:\n  MOCK_TEXT: hello\nmodel_list:\n  - model_name: m\n    litellm_params: {model: mock/x, mock_response: os.environ/MOCK_TEXT}\n";
    let cfg = Config::from_yaml(yaml, "c.yaml", &env(&[])).expect("loads");
    assert_eq!(cfg.models[0].mock_response.as_deref(), Some("hello"));
}

#[test]
fn an_unknown_provider_prefix_is_refused_with_the_supported_ones() {
    let yaml = "model_list:\n  - model_name: claude\n    litellm_params: {model: bedrock/anthropic.claude-3}\n";
    let err = Config::from_yaml(yaml, "c.yaml", &env(&[])).expect_err("bedrock");
    assert_eq!(
        err.to_string(),
        "c.yaml: model_list[0].litellm_params.model: unknown provider prefix bedrock/ in \"bedrock/anthropic.claude-3\"; \
         llmroute supports azure/<deployment> and mock/<name>"
    );
}

#[test]
fn no_models_is_refused() {
    let err = Config::from_yaml("general_settings: {master_key: x}\n", "c.yaml", &env(&[]))
        .expect_err("no models");
    assert_eq!(
        err.to_string(),
        "c.yaml: model_list: no models configured; add at least one entry with model_name and litellm_params.model (e.g. azure/<deployment>)"
    );
    let err = Config::from_yaml("", "empty.yaml", &env(&[])).expect_err("empty");
    assert!(
        err.to_string()
            .starts_with("empty.yaml: model_list: no models configured"),
        "{err}"
    );
}

#[test]
fn malformed_yaml_says_where() {
    let err = Config::from_yaml(
        "model_list:\n  - model_name: [unclosed\n",
        "bad.yaml",
        &env(&[]),
    )
    .expect_err("bad yaml");
    let text = err.to_string();
    assert!(text.starts_with("bad.yaml: not valid YAML: "), "{text}");
    assert!(text.contains("line"), "{text}");
}

#[test]
fn a_wrong_type_names_the_exact_path() {
    let yaml = "model_list:\n  - model_name: m\n    litellm_params: {model: mock/x, rpm: lots}\n";
    let err = Config::from_yaml(yaml, "c.yaml", &env(&[])).expect_err("rpm");
    assert_eq!(err.path, "model_list[0].litellm_params.rpm");
    assert!(err.message.contains("expected a number"), "{err}");
}

#[test]
fn azure_without_api_base_says_what_to_set() {
    let yaml =
        "model_list:\n  - model_name: gpt-4o\n    litellm_params: {model: azure/d, api_key: k}\n";
    let err = Config::from_yaml(yaml, "c.yaml", &env(&[])).expect_err("api_base");
    assert_eq!(err.path, "model_list[0].litellm_params.api_base");
    assert!(
        err.message.contains("https://<resource>.openai.azure.com"),
        "{err}"
    );
}

#[test]
fn unknown_keys_are_listed_once_and_not_fatal() {
    let yaml = r#"
model_list:
  - model_name: m
    litellm_params: {model: mock/x, custom_llm_provider: foo}
    model_info: {mode: chat}
general_settings: {alerting: [slack], master_key: m}
litellm_settings: {success_callback: [langfuse], cache: false}
router_settings: {enable_pre_call_checks: true}
guardrails: []
"#;
    let cfg = Config::from_yaml(yaml, "c.yaml", &env(&[])).expect("loads");
    assert_eq!(
        cfg.unsupported_keys,
        vec![
            "guardrails",
            "model_list[0].litellm_params.custom_llm_provider",
            "model_list[0].model_info.mode",
            "general_settings.alerting",
            "litellm_settings.success_callback",
            "router_settings.enable_pre_call_checks",
        ]
    );
    let warning = cfg.unsupported_warning().expect("a warning");
    assert_eq!(warning.matches("general_settings.alerting").count(), 1);
}

#[test]
fn redis_location_is_found_wherever_the_config_puts_it() {
    let yaml = "model_list:\n  - model_name: m\n    litellm_params: {model: mock/x}\nlitellm_settings:\n  cache: true\n  cache_params: {type: redis, host: cache.internal, port: 6380, password: pw}\n";
    let cfg = Config::from_yaml(yaml, "c.yaml", &env(&[])).expect("loads");
    let redis = cfg.redis.expect("redis");
    assert_eq!(redis.url.expose(), "redis://:pw@cache.internal:6380");
    assert_eq!(redis.from, "litellm_settings.cache_params.host");
    let cfg = Config::from_yaml(
        yaml,
        "c.yaml",
        &env(&[("REDIS_URL", "rediss://elasticache:6379")]),
    )
    .expect("loads");
    assert_eq!(cfg.redis.expect("redis").from, "REDIS_URL");
}

#[test]
fn embedded_defaults_have_mock_and_azure_when_its_env_is_set() {
    let cfg = ConfigSource::Embedded
        .load_with(&env(&[]))
        .expect("defaults");
    assert_eq!(cfg.model_names(), vec!["mock"]);
    let cfg = ConfigSource::Embedded
        .load_with(&env(&[
            ("AZURE_API_BASE", "https://r.openai.azure.com"),
            ("AZURE_API_KEY", "k"),
            ("AZURE_DEPLOYMENT", "gpt4o-prod"),
        ]))
        .expect("defaults");
    assert_eq!(cfg.model_names(), vec!["gpt-4o", "mock"]);
    assert_eq!(cfg.models[0].deployment, "gpt4o-prod");
}

#[test]
fn the_source_is_picked_in_order() {
    let e = env(&[("LLMROUTE_CONFIG_YAML", "model_list: []")]);
    assert_eq!(ConfigSource::detect(None, &e), ConfigSource::EnvYaml);
    assert_eq!(
        ConfigSource::detect(Some("a.yaml".into()), &e),
        ConfigSource::File("a.yaml".into())
    );
    assert_eq!(
        ConfigSource::detect(None, &env(&[])),
        ConfigSource::Embedded
    );
    let err = ConfigSource::EnvYaml.load_with(&e).expect_err("no models");
    assert!(
        err.to_string()
            .starts_with("LLMROUTE_CONFIG_YAML: model_list"),
        "{err}"
    );
    let err = ConfigSource::File("/nonexistent/config.yaml".into())
        .load_with(&env(&[]))
        .expect_err("no file");
    assert!(
        err.to_string().contains("cannot read the config file"),
        "{err}"
    );
}

#[test]
fn the_example_configs_load() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/configs");
    let mut loaded = 0;
    for entry in std::fs::read_dir(dir).expect("examples/configs") {
        let path = entry.expect("entry").path();
        let cfg = Config::from_file(&path, &full_env()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!cfg.models.is_empty(), "{}", path.display());
        assert!(
            cfg.unsupported_keys.is_empty(),
            "{}: {:?}",
            path.display(),
            cfg.unsupported_keys
        );
        loaded += 1;
    }
    assert!(loaded >= 2);
}
