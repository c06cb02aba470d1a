//! The small commands and the conventions: healthcheck, completions, config check with
//! secrets redacted, models, --help with examples, no colour off a terminal, errors on
//! stderr with a non-zero exit.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_exit_codes() {
    let Setup {
        fake: _fake,
        dir,
        cfg,
    } = setup("gpt-4o", "fake-azure-key", "2024-10-21", "").await;
    let server = TestServer::start(&cfg, &dir.path().join("srv")).await;
    let url = format!("{}/health", server.url);
    let r = llmroute(dir.path(), &["healthcheck", "--url", &url], &[]).await;
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
    // A 404 is not healthy.
    let r = llmroute(
        dir.path(),
        &["healthcheck", "--url", &format!("{}/nope", server.url)],
        &[],
    )
    .await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("answered 404"), "{}", r.stderr);
    // Nothing listening.
    let closed = closed_port().await;
    let port = closed.port;
    let r = llmroute(
        dir.path(),
        &[
            "healthcheck",
            "--url",
            &format!("http://127.0.0.1:{port}/health"),
            "--timeout",
            "500ms",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("unhealthy: GET http://127.0.0.1:"),
        "{}",
        r.stderr
    );
    // A server that never answers: the timeout holds.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = silent.local_addr().expect("addr");
    let started = std::time::Instant::now();
    let r = llmroute(
        dir.path(),
        &[
            "healthcheck",
            "--url",
            &format!("http://{addr}/health"),
            "--timeout",
            "300ms",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_for_each_shell() {
    let dir = tempfile::tempdir().expect("tmp");
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef llmroute"),
        ("fish", "complete -c llmroute"),
    ] {
        let r = llmroute(dir.path(), &["completions", shell], &[])
            .await
            .ok();
        assert!(
            r.stdout.contains(marker),
            "{shell}: {}",
            &r.stdout[..r.stdout.len().min(300)]
        );
        assert!(
            r.stdout.contains("import-litellm") && r.stdout.contains("doctor"),
            "{shell}"
        );
    }
    let r = llmroute(dir.path(), &["completions", "tcsh"], &[]).await;
    assert_eq!(r.code, 2, "clap usage error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_check_redacts_secrets() {
    let extra = "general_settings:\n  master_key: sk-master-secret-value-7777\n  database_url: postgres://app:db-password-xyz@db.internal:5432/llm\n  key_cache_stale_seconds: 120\nrouter_settings:\n  redis_url: redis://:redis-pass-abc@cache:6379\n  enable_pre_call_checks: true\n";
    let Setup {
        fake: _fake,
        dir,
        cfg,
    } = setup("gpt-4o", "azure-secret-key-123456", "2024-10-21", extra).await;
    let cfg = cfg.to_str().expect("utf8");
    let r = llmroute(
        dir.path(),
        &["config", "check", "--config", cfg, "--show"],
        &[],
    )
    .await
    .ok();
    assert!(
        r.stdout.starts_with("✓ ") && r.stdout.contains("1 model name(s), 1 deployment(s)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("! ") && r.stdout.contains("router_settings.enable_pre_call_checks"),
        "unsupported keys warned"
    );
    for secret in [
        "sk-master-secret-value-7777",
        "db-password-xyz",
        "redis-pass-abc",
        "azure-secret-key-123456",
    ] {
        assert!(!r.stdout.contains(secret), "{secret} leaked:\n{}", r.stdout);
    }
    assert!(
        r.stdout.contains("[REDACTED sk-...7777]") && r.stdout.contains("app:***@db.internal"),
        "{}",
        r.stdout
    );
    let r = llmroute(
        dir.path(),
        &["config", "check", "--config", cfg, "--show", "--json"],
        &[],
    )
    .await
    .ok();
    assert_eq!(
        r.json()["config"]["model_list"][0]["api_key"],
        "[REDACTED azu...3456]"
    );
    let general = &r.json()["config"]["general_settings"];
    assert_eq!(general["key_cache_stale_seconds"], 120.0, "{general}");
    assert!(general["user_api_key_cache_ttl"].is_null(), "{general}");

    std::fs::write(dir.path().join("bad.yaml"), "model_list: []\n").expect("write");
    let r = llmroute(
        dir.path(),
        &["config", "check", "--config", "bad.yaml"],
        &[],
    )
    .await;
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr
            .starts_with("error: bad.yaml: model_list: no models configured"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_from_config_and_server() {
    let master = "sk-cli-models-master-000000";
    let Setup {
        fake: _fake,
        dir,
        cfg,
    } = setup(
        "gpt-4o",
        "fake-azure-key",
        "2024-10-21",
        &format!("general_settings:\n  master_key: {master}\n"),
    )
    .await;
    let r = llmroute(
        dir.path(),
        &["models", "--config", cfg.to_str().expect("utf8")],
        &[],
    )
    .await
    .ok();
    assert!(r.line_with("gpt-4o-0").contains("azure/gpt-4o"));
    // An empty LLMROUTE_CONFIG (a container template's leftover) counts as unset, as the
    // server reads it: the YAML in LLMROUTE_CONFIG_YAML is used.
    let yaml = std::fs::read_to_string(&cfg).expect("read config");
    let r = llmroute(
        dir.path(),
        &["models"],
        &[("LLMROUTE_CONFIG", ""), ("LLMROUTE_CONFIG_YAML", &yaml)],
    )
    .await
    .ok();
    assert!(
        r.line_with("gpt-4o-0").contains("azure/gpt-4o"),
        "{}",
        r.stdout
    );
    let server = TestServer::start(&cfg, &dir.path().join("srv")).await;
    let r = llmroute(
        dir.path(),
        &["models", "--server", &server.url, "--key", master],
        &[],
    )
    .await
    .ok();
    assert_eq!(r.stdout, "gpt-4o\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_has_examples_and_no_colour_off_terminal() {
    let dir = tempfile::tempdir().expect("tmp");
    for cmd in [
        "chat",
        "keys",
        "spend",
        "import-litellm",
        "models",
        "config",
        "doctor",
        "healthcheck",
        "completions",
    ] {
        let r = llmroute(dir.path(), &[cmd, "--help"], &[]).await.ok();
        assert!(
            r.stdout.contains("Examples:"),
            "{cmd} --help has no examples"
        );
        assert!(
            !r.stdout.contains('\x1b'),
            "{cmd} --help has colour codes off a terminal"
        );
    }
    // Nested commands: clap does not inherit after_help, so each has its own.
    for cmd in [
        ["keys", "create"],
        ["keys", "list"],
        ["keys", "info"],
        ["keys", "update"],
        ["keys", "revoke"],
        ["config", "check"],
    ] {
        let r = llmroute(dir.path(), &[cmd[0], cmd[1], "--help"], &[])
            .await
            .ok();
        let example = format!("llmroute {} {}", cmd[0], cmd[1]);
        assert!(
            r.stdout.contains("Examples:") && r.stdout.contains(&example),
            "{cmd:?} --help has no examples of itself:\n{}",
            r.stdout
        );
    }
    let r = llmroute(dir.path(), &["--help"], &[]).await.ok();
    assert!(r.stdout.contains("Examples:"));
    let r = llmroute(dir.path(), &["doctor", "--no-spend"], &[("NO_COLOR", "1")]).await;
    assert!(!r.stdout.contains('\x1b'));
    let r = llmroute(dir.path(), &["no-such-command"], &[]).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unrecognized subcommand"));
}
