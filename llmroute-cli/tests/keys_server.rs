//! `llmroute keys … --server` and `llmroute spend --server` through the server's
//! LiteLLM-compatible admin API, with the server's store in a real PostgreSQL database.

mod common;

use common::*;
use llmroute_core::auth::hash_key;

const MASTER: &str = "sk-cli-admin-master-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_spend_through_the_admin_api() {
    let fake = fake_azure().await;
    let db = TestDb::create("admin").await;
    let dir = tempfile::tempdir().expect("tmp");
    let extra = format!(
        "general_settings:\n  master_key: {MASTER}\n  database_url: {}\n",
        db.url
    );
    let cfg = write_config(
        dir.path(),
        &fake,
        "gpt-4o",
        "fake-azure-key",
        "2024-10-21",
        &extra,
    );
    let server = TestServer::start(&cfg, &dir.path().join("srv")).await;
    let env = [
        ("LLMROUTE_SERVER", server.url.as_str()),
        ("LLMROUTE_MASTER_KEY", MASTER),
    ];
    let d = dir.path();

    let r = llmroute(
        d,
        &[
            "keys",
            "create",
            "--alias",
            "svc",
            "--models",
            "gpt-4o",
            "--max-budget",
            "10",
            "--budget-duration",
            "1d",
            "--rpm-limit",
            "5",
            "--expires",
            "30d",
            "--json",
        ],
        &env,
    )
    .await
    .ok();
    let v = r.json();
    let key = v["key"].as_str().expect("key").to_string();
    assert_eq!(v["token"], hash_key(&key));
    assert_eq!(
        (v["key_alias"].as_str(), v["rpm_limit"].as_u64()),
        (Some("svc"), Some(5))
    );
    assert!(
        v["expires"].as_str().is_some_and(|e| e.ends_with('Z')),
        "{v}"
    );

    // The new key works for chat through the server, and its spend shows.
    let r = llmroute(
        d,
        &[
            "chat",
            "--server",
            &server.url,
            "--key",
            &key,
            "--no-stream",
            "hi",
        ],
        &[],
    )
    .await
    .ok();
    assert!(!r.stdout.trim().is_empty());

    let r = llmroute(d, &["keys", "list"], &env).await.ok();
    assert!(
        r.line_with("svc").starts_with(&hash_key(&key)[..12]),
        "{}",
        r.stdout
    );
    let r = llmroute(d, &["keys", "info", &key, "--json"], &env)
        .await
        .ok();
    assert_eq!(r.json()["models"], serde_json::json!(["gpt-4o"]));
    let r = llmroute(
        d,
        &["keys", "update", &key, "--rpm-limit", "7", "--json"],
        &env,
    )
    .await
    .ok();
    assert_eq!(r.json()["rpm_limit"], 7);

    let r = llmroute(d, &["spend", "--by", "key", "--json"], &env)
        .await
        .ok();
    let v = r.json();
    assert_eq!(v["rows"][0]["group"], hash_key(&key), "{v}");
    assert_eq!(v["total"]["requests"], 1);
    let r = llmroute(d, &["spend", "--by", "model"], &env).await.ok();
    assert!(r.line_with("gpt-4o").contains(" 1 "), "{}", r.stdout);

    let r = llmroute(d, &["keys", "revoke", &key], &env).await.ok();
    assert!(r.stdout.contains("revoked 1 of 1"), "{}", r.stdout);
    let r = llmroute(
        d,
        &["chat", "--server", &server.url, "--key", &key, "hi"],
        &[],
    )
    .await;
    assert_eq!(r.code, 1, "a revoked key stops working");
    assert!(r.stderr.contains("401"), "{}", r.stderr);

    // Without the master key the admin API refuses, and the CLI says what to pass.
    let r = llmroute(
        d,
        &[
            "keys",
            "list",
            "--server",
            &server.url,
            "--master-key",
            "sk-not-the-master-000",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("401") && r.stderr.contains("--master-key"),
        "{}",
        r.stderr
    );
}
