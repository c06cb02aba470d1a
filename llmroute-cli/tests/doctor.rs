//! `llmroute doctor` against broken setups, asserting the diagnosis line of each, and
//! against a healthy one (exit 0).

mod common;

use common::*;

const MASTER: &str = "sk-cli-doctor-master-0123456789";

/// `llmroute doctor` on a [`Setup`]'s config.
async fn run_doctor(s: &Setup, extra: &[&str]) -> Run {
    doctor(s.dir.path(), &s.cfg, extra).await
}

async fn doctor(dir: &std::path::Path, cfg: &std::path::Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "doctor",
        "--config",
        cfg.to_str().expect("utf8"),
        "--timeout",
        "3s",
    ];
    args.extend_from_slice(extra);
    llmroute(dir, &args, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_setup_passes_with_exit_0() {
    let db = TestDb::create("doctor_ok").await;
    // The schema exists once llmroute has opened the database.
    llmroute_store::open(Some(&db.url), &std::env::temp_dir())
        .await
        .expect("migrate");
    let redis = std::env::var("LLMROUTE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let extra = format!(
        "general_settings:\n  master_key: {MASTER}\n  database_url: {}\nrouter_settings:\n  redis_url: {redis}\n",
        db.url
    );
    let s = setup("gpt-4o", "fake-azure-key", "2024-10-21", &extra).await;
    let server = TestServer::start(&s.cfg, &s.dir.path().join("srv")).await;
    let r = run_doctor(&s, &["--server", &server.url]).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.line_with("config: parsed").starts_with("✓"));
    assert!(r.line_with("database: TCP connect").starts_with("✓"));
    assert!(r.line_with("database: auth").starts_with("✓"));
    // The real Redis answers AUTH-less PING.
    assert!(
        r.line_with("redis: PING")
            .starts_with("✓ redis: PING: PONG"),
        "{}",
        r.stdout
    );
    assert!(
        r.line_with("database: migrations").contains("(current)"),
        "{}",
        r.stdout
    );
    assert!(r
        .line_with("deployment and key")
        .contains("the key is valid"));
    assert!(r
        .line_with("server: /v1/models")
        .starts_with("✓ server: /v1/models: key sk-...6789 accepted; models: gpt-4o"));
    assert_eq!(s.fake.calls(), 1, "exactly one 1-token request");
    assert_eq!(
        s.fake.last_request().expect("probe").json()["max_tokens"],
        1
    );
    assert!(
        r.stdout.ends_with("0 failed, 2 warning(s)\n") || r.stdout.contains(" 0 failed"),
        "{}",
        r.stdout
    );

    let r = run_doctor(&s, &["--no-spend", "--json"]).await;
    assert_eq!(r.code, 0);
    let v = r.json();
    assert_eq!(v["ok"], true);
    let probe = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "deployment and key")
        .expect("probe line")
        .clone();
    assert_eq!(probe["status"], "skip");
    assert_eq!(s.fake.calls(), 1, "--no-spend sends nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_azure_key() {
    let s = setup("gpt-4o", "not-the-key", "2024-10-21", "").await;
    let r = run_doctor(&s, &[]).await;
    assert_eq!(r.code, 1);
    let line = r.line_with("deployment and key");
    assert!(line.starts_with("✗ deployment gpt-4o-0: deployment and key: 401: key invalid or wrong regional endpoint"), "{line}");
    assert!(r
        .stdout
        .contains("fix: copy KEY 1 and the Endpoint from the same resource"));
    assert!(
        !r.stdout.contains("not-the-key"),
        "the key is never printed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_deployment_name() {
    let s = setup("gpt4o-typo", "fake-azure-key", "2024-10-21", "").await;
    let r = run_doctor(&s, &[]).await;
    assert_eq!(r.code, 1);
    let line = r.line_with("deployment and key");
    assert!(
        line.contains("✗") && line.contains("404 DeploymentNotFound: no deployment 'gpt4o-typo'"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_api_version() {
    let s = setup("gpt-4o", "fake-azure-key", "2019-01-01", "").await;
    let r = run_doctor(&s, &[]).await;
    assert_eq!(r.code, 1);
    assert!(r
        .line_with("api-version")
        .starts_with("! deployment gpt-4o-0: api-version: 2019-01-01 is not a version"));
    assert!(r
        .line_with("deployment and key")
        .contains("404 Resource not found: wrong api-version or path"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_port_closed() {
    let closed = closed_port().await;
    let port = closed.port;
    let extra =
        format!("general_settings:\n  database_url: postgres://llm:pw@127.0.0.1:{port}/llmroute\n");
    let s = setup("gpt-4o", "fake-azure-key", "2024-10-21", &extra).await;
    let r = run_doctor(&s, &["--no-spend"]).await;
    assert_eq!(r.code, 1);
    let line = r.line_with("database: TCP connect");
    assert_eq!(line, format!("✗ database: TCP connect: 127.0.0.1:{port} refused the connection: nothing listens there"));
    assert!(
        !r.stdout.contains("database: auth"),
        "stops at the first failing step"
    );
    assert!(!r.stdout.contains(":pw@"), "no password in the output");
}

/// A login the server refuses. (The local test server trusts every password on
/// 127.0.0.1, so a wrong password cannot fail here; a user that does not exist does.
/// The wrong-password translation is unit-tested in `doctor::database`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_login_refused() {
    let db = TestDb::create("doctor_login").await;
    let mut url = url::Url::parse(&db.url).expect("url");
    let _ = url.set_username("no_such_user_llmroute");
    let _ = url.set_password(Some("secret-pw"));
    let extra = format!("general_settings:\n  database_url: {url}\n");
    let s = setup("gpt-4o", "fake-azure-key", "2024-10-21", &extra).await;
    let r = run_doctor(&s, &["--no-spend"]).await;
    let line = r.line_with("database: auth");
    assert!(line.starts_with('✗'), "{line}");
    assert!(line.contains("refuses this user"), "{line}");
    assert!(!r.stdout.contains("secret-pw"), "no password in the output");
    assert_eq!(r.code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down() {
    let closed = closed_port().await;
    let port = closed.port;
    let extra = format!("router_settings:\n  redis_url: redis://127.0.0.1:{port}\n");
    let s = setup("gpt-4o", "fake-azure-key", "2024-10-21", &extra).await;
    let r = run_doctor(&s, &["--no-spend"]).await;
    assert_eq!(r.code, 1);
    let line = r.line_with("redis: TCP connect");
    assert!(
        line.starts_with(&format!(
            "✗ redis: TCP connect: 127.0.0.1:{port} refused the connection"
        )),
        "{line}"
    );
    assert!(line.contains("requests still work"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_env_var() {
    let s = setup(
        "gpt-4o",
        "os.environ/LLMROUTE_DOCTOR_TEST_UNSET_KEY",
        "2024-10-21",
        "",
    )
    .await;
    let r = run_doctor(&s, &[]).await;
    assert_eq!(r.code, 1);
    assert_eq!(
        r.line_with("config: env vars"),
        "✗ config: env vars: not set: LLMROUTE_DOCTOR_TEST_UNSET_KEY"
    );
    assert!(r.line_with("config: parsed").starts_with("✗"));
    assert_eq!(s.fake.calls(), 0);
    let ok = llmroute(
        s.dir.path(),
        &["doctor", "--config", s.cfg.to_str().expect("utf8")],
        &[("LLMROUTE_DOCTOR_TEST_UNSET_KEY", "fake-azure-key")],
    )
    .await;
    assert_eq!(ok.code, 0, "{}", ok.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_not_found() {
    let dir = tempfile::tempdir().expect("tmp");
    let r = doctor(dir.path(), &dir.path().join("nope.yaml"), &[]).await;
    assert_eq!(r.code, 1);
    assert!(
        r.line_with("config: found")
            .starts_with("✗ config: found: cannot read"),
        "{}",
        r.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_answering_401() {
    let s = setup(
        "gpt-4o",
        "fake-azure-key",
        "2024-10-21",
        &format!("general_settings:\n master_key: {MASTER}\n"),
    )
    .await;
    let server = TestServer::start(&s.cfg, &s.dir.path().join("srv")).await;
    let r = doctor(
        s.dir.path(),
        &s.cfg,
        &[
            "--no-spend",
            "--server",
            &server.url,
            "--key",
            "sk-some-other-key-9999",
        ],
    )
    .await;
    assert_eq!(r.code, 1);
    assert!(r.line_with("server: /health").starts_with("✓"));
    let line = r.line_with("server: /v1/models");
    assert!(
        line.starts_with("✗ server: /v1/models: 401: the server does not accept key sk-...9999"),
        "{line}"
    );
    assert!(r.stdout.contains("fix: send the master key"));
    let closed = closed_port().await;
    let r = doctor(
        s.dir.path(),
        &s.cfg,
        &[
            "--no-spend",
            "--server",
            &format!("http://127.0.0.1:{}", closed.port),
        ],
    )
    .await;
    assert!(r
        .line_with("server: /health")
        .starts_with("✗ server: /health: cannot reach"));
}
