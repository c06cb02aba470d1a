//! The binary with no config at all: the embedded defaults, the generated master key in
//! `./.llmroute/`, the README's first requests, and `gpt-4o` from the `AZURE_*` variables.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use llmroute_azure::fake::FakeConfig;
use serde_json::Value;

/// The generated key, read as the README says: `KEY=$(cat .llmroute/master_key)`.
fn key_in(cwd: &Path) -> String {
    std::fs::read_to_string(cwd.join(".llmroute/master_key"))
        .expect("the master key file")
        .trim()
        .to_string()
}

async fn chat(server: &Server, key: Option<&str>, body: &Value) -> reqwest::Response {
    let req = client().post(server.url("/v1/chat/completions")).json(body);
    let req = match key {
        Some(k) => req.bearer_auth(k),
        None => req,
    };
    req.send().await.expect("POST chat")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_config_starts_with_a_generated_key_and_answers_the_readme_requests() {
    let cwd = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start_bare(cwd.path(), &[], &[]);

    // The key file: created in ./.llmroute/, owner-only, and the log says where.
    let key_file = cwd.path().join(".llmroute/master_key");
    let key = key_in(cwd.path());
    assert!(key.starts_with("sk-") && key.len() > 20, "{key}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "mode {:o}", mode & 0o777);
    }
    let created = server
        .startup_line("created one and stored it")
        .unwrap_or_else(|| panic!("no 'created' line in:\n{}", server.startup_log.join("\n")));
    let v: Value = serde_json::from_str(created).expect("the default log format is JSON");
    let logged = Path::new(v["path"].as_str().expect("path"));
    assert!(
        logged.is_absolute(),
        "the logged path works from any folder: {logged:?}"
    );
    assert_eq!(
        logged.canonicalize().expect("the logged path exists"),
        key_file.canonicalize().expect("key file")
    );
    assert!(
        !server.startup_log.iter().any(|l| l.contains(&key)),
        "the key itself is never printed"
    );
    // The embedded store: a SQLite file in the same folder.
    assert!(cwd.path().join(".llmroute/llmroute.db").is_file());

    // The README's requests.
    let health = get(&server, "/health", None).await;
    assert_eq!(health.status(), 200);
    let health: Value = health.json().await.expect("json");
    assert_eq!(health["status"], "healthy");

    assert_eq!(
        model_ids(&server, &key).await,
        vec!["mock"],
        "no AZURE_* set: mock only"
    );

    let body =
        serde_json::json!({"model": "mock", "messages": [{"role": "user", "content": "Hello!"}]});
    let resp = chat(&server, Some(&key), &body).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.expect("json");
    assert!(
        v["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|t| t.contains("Hello!")),
        "the mock echoes the message: {v}"
    );

    let mut stream_body = body.clone();
    stream_body["stream"] = Value::Bool(true);
    let resp = chat(&server, Some(&key), &stream_body).await;
    assert_eq!(resp.status(), 200);
    let events = sse_events(&resp.text().await.expect("body"));
    assert_eq!(
        events.last().map(String::as_str),
        Some("[DONE]"),
        "{events:?}"
    );
    assert!(events.len() >= 2, "{events:?}");

    // Never open: no key, or a wrong one, is refused.
    let (status, err) = error_of(chat(&server, None, &body).await).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (401, Some("missing_api_key"))
    );
    let (status, _) = error_of(get(&server, "/v1/models", None).await).await;
    assert_eq!(status, 401);
    let (status, err) = error_of(chat(&server, Some("sk-not-the-key"), &body).await).await;
    assert_eq!(
        (status, err["code"].as_str()),
        (401, Some("invalid_api_key"))
    );

    // A restart in the same folder reuses the key file.
    server.signal("TERM");
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    let again = Server::start_bare(cwd.path(), &[], &[]);
    assert_eq!(key_in(cwd.path()), key, "the file is not rewritten");
    assert!(
        again.startup_line("master key: read from file").is_some(),
        "{}",
        again.startup_log.join("\n")
    );
    assert!(again.startup_line("created one").is_none());
    let resp = chat(&again, Some(&key), &body).await;
    assert_eq!(resp.status(), 200, "the same key works after the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_variables_add_gpt_4o_through_the_configured_deployment() {
    let upstream_key = "azure-key-from-env-7f3a9c";
    let fake = fake_azure(
        &["my-gpt4o"],
        FakeConfig {
            api_key: upstream_key.to_string(),
            response_text: "answered by the fake Azure".to_string(),
            ..FakeConfig::default()
        },
    )
    .await;
    let cwd = tempfile::tempdir().expect("tempdir");
    let base = fake.base_url();
    let server = Server::start_bare(
        cwd.path(),
        &[],
        &[
            ("AZURE_API_BASE", base.as_str()),
            ("AZURE_API_KEY", upstream_key),
            ("AZURE_DEPLOYMENT", "my-gpt4o"),
        ],
    );
    let key = key_in(cwd.path());

    assert_eq!(model_ids(&server, &key).await, vec!["gpt-4o", "mock"]);

    let resp = chat(&server, Some(&key), &chat_body("gpt-4o", "Hello!", false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-llmroute-model-group"), Some("gpt-4o"));
    let v: Value = resp.json().await.expect("json");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "answered by the fake Azure"
    );
    assert_eq!(fake.calls_for("my-gpt4o"), 1);
    let sent = fake.last_request().expect("the fake saw the request");
    assert!(
        sent.path.contains("/deployments/my-gpt4o/"),
        "{}",
        sent.path
    );
    assert_eq!(
        sent.headers.get("api-key").and_then(|h| h.to_str().ok()),
        Some(upstream_key),
        "the gateway sends the configured Azure key"
    );
    assert!(
        sent.headers.get("authorization").is_none(),
        "the caller's key is not passed upstream"
    );
    let resp = chat(&server, Some(&key), &chat_body("gpt-4o", "Hello!", true)).await;
    let events = sse_events(&resp.text().await.expect("body"));
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert_eq!(fake.calls_for("my-gpt4o"), 2);
}

/// A config with the mock model, the test master key and one more mock model `name`.
fn config_with_model(name: &str) -> String {
    mock_config(&format!(
        "  - model_name: {name}\n    litellm_params:\n      model: mock/echo\n"
    ))
}

/// Starts the binary with no flags in `cwd`, configured by the environment alone:
/// `PORT` (a free port, returned), `LLMROUTE_HOST=127.0.0.1`, `LLMROUTE_CONFIG_YAML` (the
/// mock config plus the model `from-env-yaml`) and `env`.
fn start_from_env(cwd: &Path, env: &[(&str, &str)]) -> (Server, u16) {
    let port = free_port().to_string();
    let yaml = config_with_model("from-env-yaml");
    let mut all = vec![
        ("PORT", port.as_str()),
        ("LLMROUTE_HOST", "127.0.0.1"),
        ("LLMROUTE_CONFIG_YAML", yaml.as_str()),
    ];
    all.extend_from_slice(env);
    let server = Server::start_env_only(cwd, &all);
    (server, port.parse().expect("a port"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_host_and_inline_config_come_from_the_environment() {
    let cwd = tempfile::tempdir().expect("tempdir");
    let (server, port) = start_from_env(cwd.path(), &[]);
    // The ready line's address: LLMROUTE_HOST and PORT, not 0.0.0.0:8000. The inline
    // config's master key works (model_ids checks the 200).
    assert_eq!(server.base, format!("http://127.0.0.1:{port}"));
    assert_eq!(
        model_ids(&server, MASTER_KEY).await,
        vec!["mock", "from-env-yaml"]
    );
    assert!(
        !cwd.path().join(".llmroute/master_key").exists(),
        "the configured master key is used; none is generated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llmroute_config_names_the_file_and_wins_over_the_inline_yaml() {
    let cwd = tempfile::tempdir().expect("tempdir");
    let file = cwd.path().join("from-file.yaml");
    std::fs::write(&file, config_with_model("from-file")).expect("write config");
    let data_dir = cwd.path().join("state");
    let (server, port) = start_from_env(
        cwd.path(),
        &[
            ("LLMROUTE_CONFIG", file.to_str().expect("utf-8 path")),
            ("LLMROUTE_DATA_DIR", data_dir.to_str().expect("utf-8 path")),
        ],
    );
    assert_eq!(server.base, format!("http://127.0.0.1:{port}"));
    assert_eq!(
        model_ids(&server, MASTER_KEY).await,
        vec!["mock", "from-file"],
        "LLMROUTE_CONFIG is read before LLMROUTE_CONFIG_YAML"
    );
    // LLMROUTE_DATA_DIR moves the embedded store out of ./.llmroute/.
    assert!(data_dir.join("llmroute.db").is_file());
    assert!(!cwd.path().join(".llmroute").exists());
}

/// `LLMROUTE_CONFIG=` (set but empty, as a container template may leave it) counts as
/// not set: the inline YAML is used, as `ConfigSource::detect` documents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_llmroute_config_counts_as_not_set() {
    let cwd = tempfile::tempdir().expect("tempdir");
    let (server, _) = start_from_env(cwd.path(), &[("LLMROUTE_CONFIG", "")]);
    assert_eq!(
        model_ids(&server, MASTER_KEY).await,
        vec!["mock", "from-env-yaml"]
    );
}
