//! The official `openai` Python SDK against the real server in front of the fake Azure.
//!
//! `scripts/test` installs the SDK into a venv and sets `LLMROUTE_TEST_PYTHON`.

mod common;

use common::*;
use llmroute_azure::fake::{FakeConfig, Fault};

/// The Python interpreter with `openai` installed.
fn python() -> String {
    let python = std::env::var("LLMROUTE_TEST_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let ok = std::process::Command::new(&python)
        .args(["-c", "import openai"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "the openai Python SDK is not importable with {python}; run scripts/test (it prepares .cache/venv) or set LLMROUTE_TEST_PYTHON");
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openai_python_sdk_works_unchanged() {
    let python = python();
    let fake = fake_azure(
        &["gpt4o-prod", "limited"],
        FakeConfig {
            response_text: "Hello from fake Azure".to_string(),
            ..FakeConfig::default()
        },
    )
    .await;
    for _ in 0..5 {
        fake.push_fault_for(
            "limited",
            Fault::RateLimited {
                retry_after_secs: Some(7),
                retry_after_ms: None,
            },
        );
    }
    let config = format!(
        "model_list:\n  - model_name: gpt-4o\n    litellm_params: {{model: azure/gpt4o-prod, api_base: {base}, api_key: fake-azure-key}}\n  \
         - model_name: gpt-4o-limited\n    litellm_params: {{model: azure/limited, api_base: {base}, api_key: fake-azure-key}}\n\
         router_settings: {{num_retries: 0}}\ngeneral_settings: {{master_key: {MASTER_KEY}}}\n",
        base = fake.base_url()
    );
    let server = Server::start(&config);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/openai_sdk.py");
    let virtual_key = virtual_key(
        &server,
        serde_json::json!({"key_alias": "sdk-test", "max_budget": 5.0}),
    )
    .await;
    for key in [MASTER_KEY.to_string(), virtual_key] {
        let (python, base) = (python.clone(), server.base.clone());
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(python)
                .arg(script)
                .arg(base)
                .arg(key)
                .output()
                .expect("run python")
        })
        .await
        .expect("join");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "SDK checks failed:\n{stdout}\n{stderr}"
        );
        assert!(stdout.contains("all checks passed"), "{stdout}");
    }
    let last = fake.last_request().expect("a request reached the fake");
    assert!(
        last.headers.get("authorization").is_none(),
        "client Authorization leaked upstream"
    );
    // The AzureOpenAI client sends its key as `api-key`: upstream gets the configured
    // Azure key only, once.
    let api_keys: Vec<_> = last.headers.get_all("api-key").iter().collect();
    assert_eq!(
        api_keys,
        ["fake-azure-key"],
        "the client's api-key leaked upstream"
    );
    assert!(
        last.headers
            .keys()
            .all(|k| !k.as_str().starts_with("x-stainless")),
        "x-stainless headers leaked upstream"
    );
}
