//! A router built from LiteLLM's config.yaml: groups, ids, limits, strategy, fallbacks.

mod router_support;

use std::sync::Arc;
use std::time::Duration;

use llmroute_core::config::{Config, ConfigError, DeploymentConfig};
use llmroute_core::mock::MockProvider;
use llmroute_core::router::{DeploymentInfo, Router, Strategy};
use llmroute_core::Provider;
use router_support::{request, served_by};

const TWO_REGIONS: &str = r#"
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: azure/gpt-4o-ptu
      api_base: https://contoso-eastus.openai.azure.com
      api_key: test-key-east
      api_version: "2024-10-21"
      order: 1
      rpm: 600
      tpm: 100000
    model_info:
      id: eastus-ptu
  - model_name: gpt-4o
    litellm_params:
      model: azure/gpt-4o
      api_base: https://contoso-swedencentral.openai.azure.com
      api_key: test-key-sweden
      api_version: "2024-10-21"
      order: 2
      weight: 2
  - model_name: gpt-4o-mini
    litellm_params:
      model: mock/mini
      mock_response: from mini
router_settings:
  routing_strategy: usage-based-routing-v2
  num_retries: 3
  timeout: 30
  stream_timeout: 5
  allowed_fails: 2
  cooldown_time: 10
  fallbacks: [{"gpt-4o": ["gpt-4o-mini"]}]
"#;

fn providers(d: &DeploymentConfig) -> Result<Arc<dyn Provider>, ConfigError> {
    let answer = d
        .mock_response
        .clone()
        .unwrap_or_else(|| format!("from {}", d.id));
    Ok(Arc::new(MockProvider::fixed(d.deployment.clone(), answer)))
}

fn load(yaml: &str) -> Config {
    Config::from_yaml(yaml, "config.yaml", &|_| None).expect("valid config")
}

#[tokio::test(start_paused = true)]
async fn builds_groups_ids_and_tiers_from_the_config() {
    let router = Router::from_config(&load(TWO_REGIONS), &providers).expect("router");
    assert_eq!(router.model_names(), ["gpt-4o", "gpt-4o-mini"]);
    assert!(router.has_model("gpt-4o-mini") && !router.has_model("gpt-5"));
    assert_eq!(router.strategy(), Strategy::UsageBased);
    let ids: Vec<_> = router.deployments().into_iter().map(|d| d.id).collect();
    assert_eq!(ids, ["eastus-ptu", "gpt-4o-1", "gpt-4o-mini-2"]);
    assert_eq!(
        router.deployments()[0],
        DeploymentInfo {
            id: "eastus-ptu".into(),
            model_name: "gpt-4o".into(),
            provider: "mock/gpt-4o-ptu".into(),
            order: Some(1),
            rpm: Some(600),
            tpm: Some(100000),
        }
    );
    assert!(router.provider("gpt-4o-1").is_some() && router.provider("nope").is_none());
    assert_eq!(
        router
            .provider("gpt-4o-1")
            .expect("provider")
            .health()
            .await
            .expect("health"),
        Duration::ZERO
    );

    let answer = router.chat(&request("gpt-4o")).await.expect("answer");
    assert_eq!(answer.deployment, "eastus-ptu", "tier 1 first");
    assert_eq!(
        answer.value.response().first_text(),
        Some("from eastus-ptu")
    );
}

#[test]
fn an_unknown_fallback_group_names_the_file_and_key() {
    let yaml = TWO_REGIONS.replace(r#"["gpt-4o-mini"]"#, r#"["gpt-4o-large"]"#);
    let err = Router::from_config(&load(&yaml), &providers).expect_err("unknown fallback");
    assert_eq!(
        (err.source_name.as_str(), err.path.as_str()),
        ("config.yaml", "router_settings.fallbacks")
    );
    assert!(err.to_string().contains("gpt-4o-large"), "{err}");
}

#[test]
fn a_provider_that_cannot_be_built_stops_the_router() {
    let failing = |d: &DeploymentConfig| -> Result<Arc<dyn Provider>, ConfigError> {
        Err(ConfigError {
            source_name: "config.yaml".into(),
            path: format!("model_list ({})", d.id),
            message: "cannot build".into(),
        })
    };
    let err = Router::from_config(&load(TWO_REGIONS), &failing).expect_err("provider error");
    assert_eq!(err.path, "model_list (eastus-ptu)");
}

#[tokio::test(start_paused = true)]
async fn the_two_region_example_of_docs_routing_md_loads() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/routing.md"))
        .expect("docs/routing.md");
    let yaml = doc
        .split("```yaml")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .find(|block| block.contains("model_list:"))
        .expect("a config example in docs/routing.md");
    let config = Config::from_yaml(yaml, "docs/routing.md", &|name| {
        Some(format!("test-value-of-{name}"))
    })
    .expect("the example is a valid config");
    let router = Router::from_config(&config, &providers).expect("router");
    assert_eq!(router.model_names(), ["gpt-4o", "gpt-4o-mini"]);
    let ids: Vec<_> = router.deployments().into_iter().map(|d| d.id).collect();
    assert_eq!(
        ids,
        [
            "eastus-ptu",
            "sweden-paygo",
            "westus-paygo",
            "gpt-4o-mini-3"
        ]
    );
    assert_eq!(served_by(&router, "gpt-4o").await, "eastus-ptu");
}

#[test]
fn the_router_and_its_futures_can_cross_threads() {
    fn send_sync<T: Send + Sync + Clone + 'static>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let router = Router::from_config(&load(TWO_REGIONS), &providers).expect("router");
    send_sync(&router);
    let req = request("gpt-4o");
    send(router.chat(&req));
    send(router.chat_stream(&req));
    send(router.usage());
}
