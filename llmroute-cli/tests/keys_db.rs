//! `llmroute keys …` against a real PostgreSQL database (each test its own).

mod common;

use common::*;
use llmroute_core::auth::hash_key;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_info_update_revoke_against_postgres() {
    let db = TestDb::create("keys").await;
    let dir = tempfile::tempdir().expect("tmp");
    let env = [("DATABASE_URL", db.url.as_str())];
    let d = dir.path();

    let r = llmroute(
        d,
        &[
            "keys",
            "create",
            "--alias",
            "team-a",
            "--models",
            "gpt-4o,gpt-4o-mini",
            "--max-budget",
            "50",
            "--budget-duration",
            "30d",
            "--rpm-limit",
            "60",
            "--tpm-limit",
            "10000",
            "--expires",
            "2099-01-01",
            "--metadata",
            "{\"team\":\"a\"}",
            "--json",
        ],
        &env,
    )
    .await
    .ok();
    let created = r.json();
    let key = created["key"]
        .as_str()
        .expect("key printed once")
        .to_string();
    assert!(key.starts_with("sk-") && key.len() == 43);
    assert_eq!(created["token"], hash_key(&key));
    assert_eq!(
        created["models"],
        serde_json::json!(["gpt-4o", "gpt-4o-mini"])
    );
    assert_eq!(created["max_budget"], 50.0);
    assert_eq!(created["expires"], "2099-01-01T00:00:00Z");
    assert_eq!(created["metadata"]["team"], "a");

    // Human output: the key once, with the warning.
    let r = llmroute(d, &["keys", "create", "--alias", "team-b"], &env)
        .await
        .ok();
    assert!(
        r.stdout.starts_with("key: sk-") && r.stdout.contains("shown once"),
        "{}",
        r.stdout
    );

    let r = llmroute(d, &["keys", "list"], &env).await.ok();
    let line = r.line_with("team-a");
    assert!(
        line.starts_with(&hash_key(&key)[..12])
            && line.contains("gpt-4o,gpt-4o-mini")
            && line.contains("$50.000000")
            && line.contains("active"),
        "{line}"
    );
    assert!(r.stdout.contains("2 of 2 key(s)"), "{}", r.stdout);
    assert!(!r.stdout.contains(&key), "list never shows a key");

    let r = llmroute(d, &["keys", "info", &key], &env).await.ok();
    assert!(r.line_with("rpm_limit").ends_with("60"));
    let r = llmroute(d, &["keys", "info", &hash_key(&key), "--json"], &env)
        .await
        .ok();
    assert_eq!(r.json()["key_alias"], "team-a");

    let r = llmroute(
        d,
        &[
            "keys",
            "update",
            &key,
            "--max-budget",
            "100",
            "--block",
            "--json",
        ],
        &env,
    )
    .await
    .ok();
    let v = r.json();
    assert_eq!(
        (v["max_budget"].as_f64(), v["blocked"].as_bool()),
        (Some(100.0), Some(true))
    );
    let r = llmroute(d, &["keys", "update", &key], &env).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("nothing to change"), "{}", r.stderr);

    let r = llmroute(d, &["keys", "revoke", &key], &env).await.ok();
    assert!(r.stdout.contains("revoked 1 of 1"));
    let r = llmroute(d, &["keys", "info", &key], &env).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no key sk-...") && r.stderr.contains("keys list"),
        "{}",
        r.stderr
    );
    let r = llmroute(d, &["keys", "revoke", &key], &env).await;
    assert_eq!(r.code, 1, "revoking a missing key is an error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_before_the_database() {
    let dir = tempfile::tempdir().expect("tmp");
    let r = llmroute(
        dir.path(),
        &["keys", "create", "--budget-duration", "7x"],
        &[],
    )
    .await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("budget_duration '7x' is not a period"),
        "{}",
        r.stderr
    );
    let r = llmroute(dir.path(), &["keys", "create", "--expires", "someday"], &[]).await;
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--expires 'someday'"), "{}", r.stderr);
    // The embedded SQLite store works with no database configured.
    let r = llmroute(
        dir.path(),
        &["keys", "create", "--alias", "local", "--json"],
        &[],
    )
    .await
    .ok();
    assert_eq!(r.json()["key_alias"], "local");
    assert!(dir.path().join(".llmroute/llmroute.db").exists());
}
