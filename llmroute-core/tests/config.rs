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

/// 16 MiB unless `general_settings.max_request_size_mb` says otherwise: room for a few
/// base64 images, which a tighter limit would refuse with 413.
#[test]
fn the_request_body_limit_is_16_mib_unless_set() {
    let models = "model_list:\n  - model_name: m\n    litellm_params: {model: mock/echo}\n";
    let cfg = Config::from_yaml(models, "c.yaml", &env(&[])).expect("loads");
    assert_eq!(cfg.general.max_request_bytes, 16 * 1024 * 1024);
    let set = format!("{models}general_settings: {{max_request_size_mb: 0.5}}\n");
    let cfg = Config::from_yaml(&set, "c.yaml", &env(&[])).expect("loads");
    assert_eq!(cfg.general.max_request_bytes, 512 * 1024);
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
fn entra_credentials_load_from_litellm_params_and_need_all_three() {
    let yaml = "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: azure/d\n      \
                api_base: https://r.openai.azure.com\n      tenant_id: os.environ/AZURE_TENANT_ID\n      \
                client_id: app-id\n      client_secret: os.environ/AZURE_CLIENT_SECRET\n      \
                azure_ad_token_url: http://127.0.0.1:9/token\n";
    let env = env(&[
        ("AZURE_TENANT_ID", "tenant-1"),
        ("AZURE_CLIENT_SECRET", "s3cret"),
    ]);
    let cfg = Config::from_yaml(yaml, "c.yaml", &env).expect("loads");
    let entra = cfg.models[0].entra.as_ref().expect("Entra credentials");
    assert_eq!(
        (entra.tenant_id.as_str(), entra.client_id.as_str()),
        ("tenant-1", "app-id")
    );
    assert_eq!(entra.client_secret.expose(), "s3cret");
    assert_eq!(entra.token_url.as_deref(), Some("http://127.0.0.1:9/token"));
    assert!(cfg.models[0].api_key.is_none());

    let two_of_three = yaml.replace("      client_id: app-id\n", "");
    let err = Config::from_yaml(&two_of_three, "c.yaml", &env).expect_err("needs all three");
    assert_eq!(err.path, "model_list[0].litellm_params.tenant_id");
    assert!(
        err.message
            .contains("all three of tenant_id, client_id and client_secret"),
        "{err}"
    );
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

#[test]
fn an_unset_variable_under_an_ignored_key_is_not_fatal() {
    let yaml = r#"
model_list:
  - model_name: m
    litellm_params: {model: mock/x, custom_llm_provider: os.environ/UNSET_PROVIDER}
general_settings:
  alerting_webhook: os.environ/UNSET
  alerting: [{url: os.environ/UNSET_NESTED}]
"#;
    let cfg = Config::from_yaml(yaml, "c.yaml", &env(&[])).expect("loads");
    assert_eq!(
        cfg.unsupported_keys,
        vec![
            "model_list[0].litellm_params.custom_llm_provider",
            "general_settings.alerting",
            "general_settings.alerting_webhook",
        ]
    );
    assert_eq!(
        cfg.unset_ignored_env,
        vec!["UNSET", "UNSET_NESTED", "UNSET_PROVIDER"]
    );
    let warning = cfg.unsupported_warning().expect("a warning");
    assert!(
        warning.contains("general_settings.alerting_webhook") && warning.contains("UNSET_NESTED"),
        "{warning}"
    );

    // The same variable under a key llmroute reads is still an error, naming only that key.
    let yaml = format!("{yaml}  master_key: os.environ/UNSET_MASTER\n");
    let err = Config::from_yaml(&yaml, "c.yaml", &env(&[])).expect_err("master key");
    assert_eq!(err.path, "general_settings.master_key");
    assert!(
        err.message.starts_with(
            "environment variable not set: UNSET_MASTER (for general_settings.master_key);"
        ),
        "{err}"
    );

    // An unset variable whose value llmroute must parse still names the variable.
    let yaml = "model_list:\n  - model_name: m\n    litellm_params: {model: mock/x, rpm: os.environ/UNSET_RPM}\n";
    let err = Config::from_yaml(yaml, "c.yaml", &env(&[])).expect_err("rpm");
    assert_eq!(err.path, "model_list[0].litellm_params.rpm");
    assert!(err.message.contains("UNSET_RPM"), "{err}");
}

const TWO_PRICED: &str = r#"
model_list:
  - model_name: gpt-4o
    litellm_params: {model: mock/a, input_cost_per_token: 1e-6, output_cost_per_token: 2e-6}
  - model_name: gpt-4o
    litellm_params: {model: mock/b}
  - model_name: gpt-4o
    litellm_params: {model: mock/c, cache_read_input_token_cost: 0.5e-6}
    model_info: {input_cost_per_token: 3e-6, output_cost_per_token: 4e-6}
"#;

#[test]
fn a_deployment_price_override_is_read_from_litellm_params_or_model_info() {
    use llmroute_core::cost::Price;
    let cfg = Config::from_yaml(TWO_PRICED, "c.yaml", &env(&[])).expect("loads");
    assert_eq!(
        cfg.models[0].price,
        Some(Price {
            input: 1e-6,
            cached_input: 1e-6,
            output: 2e-6
        })
    );
    assert_eq!(cfg.models[1].price, None);
    assert_eq!(
        cfg.models[2].price,
        Some(Price {
            input: 3e-6,
            cached_input: 0.5e-6,
            output: 4e-6
        })
    );
    assert!(
        cfg.unsupported_keys.is_empty(),
        "{:?}",
        cfg.unsupported_keys
    );
}

#[test]
fn a_price_override_needs_both_input_and_output() {
    for (params, info) in [
        ("input_cost_per_token: 1e-6", ""),
        ("output_cost_per_token: 2e-6", ""),
        ("", "input_cost_per_token: 1e-6"),
        (
            "input_cost_per_token: 1e-6",
            "cache_read_input_token_cost: 1e-7",
        ),
    ] {
        let yaml = format!(
            "model_list:\n  - model_name: m\n    litellm_params: {{model: mock/x, {params}}}\n    model_info: {{{info}}}\n"
        );
        let err = Config::from_yaml(&yaml, "c.yaml", &env(&[])).expect_err(&yaml);
        assert_eq!(
            err.to_string(),
            "c.yaml: model_list[0].litellm_params.input_cost_per_token: \
             set both input_cost_per_token and output_cost_per_token, or neither",
            "{yaml}"
        );
    }
    // One under litellm_params and the other under model_info make a pair.
    let yaml = "model_list:\n  - model_name: m\n    litellm_params: {model: mock/x, input_cost_per_token: 1e-6}\n    model_info: {output_cost_per_token: 2e-6}\n";
    let cfg = Config::from_yaml(yaml, "c.yaml", &env(&[])).expect("loads");
    assert_eq!(cfg.models[0].price.map(|p| p.output), Some(2e-6));
}

#[test]
fn llmroute_config_picks_the_file_before_the_inline_yaml() {
    let both = env(&[
        ("LLMROUTE_CONFIG", "x.yaml"),
        ("LLMROUTE_CONFIG_YAML", "model_list: []"),
    ]);
    assert_eq!(
        ConfigSource::detect(None, &both),
        ConfigSource::File("x.yaml".into())
    );
    assert_eq!(
        ConfigSource::detect(Some("a.yaml".into()), &both),
        ConfigSource::File("a.yaml".into())
    );
    let only_path = env(&[("LLMROUTE_CONFIG", "/etc/llmroute/config.yaml")]);
    assert_eq!(
        ConfigSource::detect(None, &only_path),
        ConfigSource::File("/etc/llmroute/config.yaml".into())
    );
    // An empty LLMROUTE_CONFIG counts as not set.
    let empty = env(&[
        ("LLMROUTE_CONFIG", ""),
        ("LLMROUTE_CONFIG_YAML", "model_list: []"),
    ]);
    assert_eq!(ConfigSource::detect(None, &empty), ConfigSource::EnvYaml);
}

const HARD_PASSWORD: &str = "a#b%c/d@e:f";
const HARD_PASSWORD_ENCODED: &str = "a%23b%25c%2Fd%40e%3Af";

fn redis_of(yaml: &str, lookup: &dyn Fn(&str) -> Option<String>) -> (String, String) {
    let cfg = Config::from_yaml(yaml, "c.yaml", lookup).expect("loads");
    let redis = cfg.redis.expect("redis");
    (redis.url.expose().to_string(), redis.from)
}

#[test]
fn a_split_redis_password_is_percent_encoded_in_the_url() {
    const MODELS: &str = "model_list:\n  - model_name: m\n    litellm_params: {model: mock/x}\n";
    // router_settings.redis_host / redis_port / redis_password
    let yaml = format!(
        "{MODELS}router_settings: {{redis_host: r.internal, redis_port: 6380, redis_password: \"{HARD_PASSWORD}\"}}\n"
    );
    assert_eq!(
        redis_of(&yaml, &env(&[])),
        (
            format!("redis://:{HARD_PASSWORD_ENCODED}@r.internal:6380"),
            "router_settings.redis_host".to_string()
        )
    );
    // The password given as os.environ/REDIS_PASSWORD in router_settings.
    let yaml = format!(
        "{MODELS}router_settings: {{redis_host: r.internal, redis_password: os.environ/REDIS_PASSWORD}}\n"
    );
    assert_eq!(
        redis_of(&yaml, &env(&[("REDIS_PASSWORD", HARD_PASSWORD)])).0,
        format!("redis://:{HARD_PASSWORD_ENCODED}@r.internal:6379")
    );
    // cache_params.host / port / password
    let yaml = format!(
        "{MODELS}litellm_settings:\n  cache_params: {{type: redis, host: c.internal, port: 6381, password: \"{HARD_PASSWORD}\"}}\n"
    );
    assert_eq!(
        redis_of(&yaml, &env(&[])).0,
        format!("redis://:{HARD_PASSWORD_ENCODED}@c.internal:6381")
    );
    // REDIS_HOST / REDIS_PORT / REDIS_PASSWORD with cache_params.type: redis
    let yaml = format!("{MODELS}litellm_settings:\n  cache_params: {{type: redis}}\n");
    assert_eq!(
        redis_of(
            &yaml,
            &env(&[
                ("REDIS_HOST", "e.internal"),
                ("REDIS_PORT", "6390"),
                ("REDIS_PASSWORD", HARD_PASSWORD)
            ])
        ),
        (
            format!("redis://:{HARD_PASSWORD_ENCODED}@e.internal:6390"),
            "REDIS_HOST".to_string()
        )
    );
    // A plain password is unchanged; no password, no userinfo.
    let yaml =
        format!("{MODELS}router_settings: {{redis_host: r, redis_password: Plain-pw_1.x~}}\n");
    assert_eq!(
        redis_of(&yaml, &env(&[])).0,
        "redis://:Plain-pw_1.x~@r:6379"
    );
    let yaml = format!("{MODELS}router_settings: {{redis_host: r, redis_port: 7000}}\n");
    assert_eq!(redis_of(&yaml, &env(&[])).0, "redis://r:7000");
}

#[test]
fn a_redis_url_is_taken_as_written() {
    const MODELS: &str = "model_list:\n  - model_name: m\n    litellm_params: {model: mock/x}\n";
    // A URL is already encoded by whoever wrote it: it is not encoded again.
    let url = "rediss://:a%23b%25c@cache.example:6380/2";
    let yaml =
        format!("{MODELS}litellm_settings:\n  cache_params: {{type: redis, url: \"{url}\"}}\n");
    assert_eq!(
        redis_of(&yaml, &env(&[])),
        (
            url.to_string(),
            "litellm_settings.cache_params.url".to_string()
        )
    );
    let yaml = format!("{MODELS}router_settings: {{redis_url: \"{url}\"}}\n");
    assert_eq!(
        redis_of(&yaml, &env(&[])),
        (url.to_string(), "router_settings.redis_url".to_string())
    );
}
