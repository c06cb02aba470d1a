//! Two fake Azure deployments behind `gpt-4o`, one of them rate limited.

mod common;

use common::*;
use llmroute_azure::fake::{FakeConfig, Fault};

#[tokio::test]
async fn every_request_succeeds_when_one_deployment_answers_429() {
    let fake = fake_azure(&["gpt4o-eastus", "gpt4o-sweden"], FakeConfig::default()).await;
    for _ in 0..50 {
        fake.push_fault_for(
            "gpt4o-eastus",
            Fault::RateLimited {
                retry_after_secs: Some(30),
                retry_after_ms: Some(30_000),
            },
        );
    }
    let base = fake.base_url();
    let config = format!(
        "model_list:\n  - model_name: gpt-4o\n    litellm_params: {{model: azure/gpt4o-eastus, api_base: {base}, api_key: fake-azure-key}}\n  \
         - model_name: gpt-4o\n    litellm_params: {{model: azure/gpt4o-sweden, api_base: {base}, api_key: fake-azure-key}}\n\
         router_settings: {{num_retries: 2}}\ngeneral_settings: {{master_key: {MASTER_KEY}}}\n"
    );
    let server = Server::start(&config);
    for i in 0..20 {
        let stream = i % 2 == 1;
        let resp = post_chat(&server, &chat_body("gpt-4o", "hi", stream)).await;
        assert_eq!(resp.status(), 200, "request {i}");
        assert_eq!(
            header(&resp, "x-llmroute-deployment"),
            Some("gpt-4o-1"),
            "request {i}"
        );
        let body = resp.text().await.expect("body");
        assert!(body.contains("Hello"), "{body}");
    }
    assert!(
        fake.calls_for("gpt4o-eastus") == 1,
        "the 429 deployment is tried (20 shuffled picks miss it with p = 2^-20) and then \
         cools down after its first 429: {} calls",
        fake.calls_for("gpt4o-eastus")
    );
    assert_eq!(fake.calls_for("gpt4o-sweden"), 20);
}
