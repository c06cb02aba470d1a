//! `GET /health/deployments`: the one health route that calls upstreams, for the master
//! key only.

mod common;

use common::*;
use llmroute_azure::fake::{FakeConfig, Fault};
use serde_json::Value;

#[tokio::test]
async fn health_deployments_probes_each_deployment_for_the_master_key_only() {
    let fake = fake_azure(&["gpt4o-prod", "gpt4o-dr"], FakeConfig::default()).await;
    let dep = |name: &str, dep: &str| {
        format!(
            "  - model_name: {name}\n    litellm_params: {{model: azure/{dep}, api_base: {}, api_key: fake-azure-key}}\n",
            fake.base_url()
        )
    };
    let config = format!(
        "model_list:\n{}{}general_settings: {{master_key: {MASTER_KEY}}}\n",
        dep("gpt-4o", "gpt4o-prod"),
        dep("gpt-4o-dr", "gpt4o-dr")
    );
    let server = Server::start(&config);
    fake.push_fault_for("gpt4o-dr", Fault::Unauthorized);
    let probe = |key: &str| {
        let req = client().get(server.url("/health/deployments"));
        req.bearer_auth(key).send()
    };
    let resp = probe(MASTER_KEY).await.expect("send");
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.expect("body");
    assert!(!text.contains("fake-azure-key"), "no upstream key: {text}");
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        (v["healthy_count"].as_u64(), v["unhealthy_count"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(v["healthy_endpoints"][0]["model_name"], "gpt-4o", "{v}");
    let bad = &v["unhealthy_endpoints"][0];
    assert_eq!(bad["model_name"], "gpt-4o-dr", "{v}");
    assert_eq!(bad["status"], 401, "{v}");
    let error = bad["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("Azure rejected llmroute's api-key for deployment gpt4o-dr"),
        "the error says which deployment and what to check: {error}"
    );
    assert_eq!(fake.calls(), 2, "one probe per deployment");

    // A virtual key (made with the admin API) may list models, but not probe; nor may
    // a caller without a key.
    let key = virtual_key(&server, serde_json::json!({"key_alias": "probe-tester"})).await;
    let models = client().get(server.url("/v1/models")).bearer_auth(&key);
    assert_eq!(models.send().await.expect("send").status(), 200);
    let (status, err) = error_of(probe(&key).await.expect("send")).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (403, Some("admin_only")),
        "{err}"
    );
    let no_key = client().get(server.url("/health/deployments")).send();
    assert_eq!(no_key.await.expect("send").status(), 401);
    assert_eq!(fake.calls(), 2, "a refused caller probes nothing");
}
