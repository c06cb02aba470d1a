//! `llmroute spend` over logs in PostgreSQL, and `llmroute import-litellm` from a
//! database with LiteLLM's own tables (their columns written out below).

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use llmroute_core::auth::hash_key;
use llmroute_core::events::RequestRecord;
use llmroute_core::types::Usage;

fn record(id: &str, key: &str, model: &str, cost: f64, ago_days: u64) -> RequestRecord {
    RequestRecord {
        request_id: id.into(),
        started_at: SystemTime::now() - Duration::from_secs(ago_days * 86_400 + 60),
        key_hash: Some(hash_key(key)),
        key_alias: None,
        model: model.into(),
        deployment: Some(format!("{model}-0")),
        upstream_model: Some(model.into()),
        status: 200,
        error_type: None,
        usage: Some(Usage::new(100, 20)),
        cost,
        latency: Duration::from_millis(300),
        upstream_time: Duration::from_millis(290),
        time_to_first_token: None,
        attempts: 1,
        cache_hit: false,
        stream: false,
        upstream_request_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_table_by_model_day_and_key() {
    let db = TestDb::create("spend").await;
    let dir = tempfile::tempdir().expect("tmp");
    let store = llmroute_store::open(Some(&db.url), dir.path())
        .await
        .expect("store");
    let logs = vec![
        record("r1", "sk-spend-key-aaaaaaaa", "gpt-4o", 0.5, 0),
        record("r2", "sk-spend-key-aaaaaaaa", "gpt-4o", 0.25, 1),
        record("r3", "sk-spend-key-bbbbbbbb", "gpt-4o-mini", 0.125, 2),
        record("r4", "sk-spend-key-bbbbbbbb", "gpt-4o-mini", 9.0, 40),
    ];
    assert_eq!(store.insert_logs(&logs).await.expect("insert"), 4);
    let env = [("DATABASE_URL", db.url.as_str())];

    let r = llmroute(
        dir.path(),
        &["spend", "--by", "model", "--since", "7d"],
        &env,
    )
    .await
    .ok();
    let header = r.stdout.lines().next().expect("header");
    assert!(
        header.starts_with("model") && header.contains("requests") && header.contains("cost"),
        "{header}"
    );
    let row = r.line_with("gpt-4o ");
    assert!(
        row.contains(" 2 ")
            && row.contains("200")
            && row.contains("40")
            && row.ends_with("$0.750000"),
        "{row}"
    );
    assert!(
        r.line_with("total").ends_with("$0.875000"),
        "the 40-day-old log is outside 7d:\n{}",
        r.stdout
    );

    let r = llmroute(
        dir.path(),
        &["spend", "--by", "day", "--since", "30d", "--json"],
        &env,
    )
    .await
    .ok();
    let v = r.json();
    assert_eq!(v["rows"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["total"]["requests"], 3);

    let r = llmroute(
        dir.path(),
        &[
            "spend",
            "--by",
            "key",
            "--key",
            "sk-spend-key-bbbbbbbb",
            "--since",
            "1mo",
            "--json",
        ],
        &env,
    )
    .await
    .ok();
    let v = r.json();
    assert_eq!(v["rows"][0]["group"], hash_key("sk-spend-key-bbbbbbbb"));
    assert_eq!(v["total"]["spend"], 0.125);
}

/// The LiteLLM tables, with the columns LiteLLM's Prisma schema gives them (those the
/// import reads, plus a few it ignores, as a real deployment has).
const LITELLM_SCHEMA: &str = r#"
CREATE TABLE "LiteLLM_VerificationToken" (
    token TEXT PRIMARY KEY,
    key_name TEXT,
    key_alias TEXT,
    soft_budget_cooldown BOOLEAN NOT NULL DEFAULT false,
    spend DOUBLE PRECISION NOT NULL DEFAULT 0.0,
    expires TIMESTAMP(3),
    models TEXT[] DEFAULT ARRAY[]::TEXT[],
    aliases JSONB NOT NULL DEFAULT '{}',
    config JSONB NOT NULL DEFAULT '{}',
    user_id TEXT,
    team_id TEXT,
    permissions JSONB NOT NULL DEFAULT '{}',
    max_parallel_requests INTEGER,
    metadata JSONB NOT NULL DEFAULT '{}',
    blocked BOOLEAN,
    tpm_limit BIGINT,
    rpm_limit BIGINT,
    max_budget DOUBLE PRECISION,
    budget_duration TEXT,
    budget_reset_at TIMESTAMP(3),
    allowed_cache_controls TEXT[] DEFAULT ARRAY[]::TEXT[],
    model_spend JSONB NOT NULL DEFAULT '{}',
    model_max_budget JSONB NOT NULL DEFAULT '{}',
    budget_id TEXT,
    organization_id TEXT,
    created_at TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP,
    created_by TEXT,
    updated_at TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP,
    updated_by TEXT
);
CREATE TABLE "LiteLLM_SpendLogs" (
    request_id TEXT PRIMARY KEY,
    call_type TEXT NOT NULL,
    api_key TEXT NOT NULL DEFAULT '',
    spend DOUBLE PRECISION NOT NULL DEFAULT 0.0,
    total_tokens INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    "startTime" TIMESTAMP(3) NOT NULL,
    "endTime" TIMESTAMP(3) NOT NULL,
    "completionStartTime" TIMESTAMP(3),
    model TEXT NOT NULL DEFAULT '',
    model_id TEXT DEFAULT '',
    model_group TEXT DEFAULT '',
    custom_llm_provider TEXT DEFAULT '',
    api_base TEXT DEFAULT '',
    "user" TEXT DEFAULT '',
    metadata JSONB DEFAULT '{}',
    cache_hit TEXT DEFAULT '',
    cache_key TEXT DEFAULT '',
    request_tags JSONB DEFAULT '[]',
    team_id TEXT,
    end_user TEXT,
    requester_ip_address TEXT,
    messages JSONB DEFAULT '{}',
    response JSONB DEFAULT '{}',
    status TEXT
);
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_litellm_keys_and_spend_logs_idempotently() {
    let litellm = TestDb::create("litellm").await;
    let target = TestDb::create("import").await;
    let dir = tempfile::tempdir().expect("tmp");
    let src = litellm.client().await;
    src.batch_execute(LITELLM_SCHEMA)
        .await
        .expect("litellm schema");
    let (k1, k2) = ("sk-litellm-user-key-one", "sk-litellm-user-key-two");
    src.execute(
        r#"INSERT INTO "LiteLLM_VerificationToken" (token, key_name, key_alias, spend, expires, models, metadata, blocked, tpm_limit, rpm_limit, max_budget, budget_duration, budget_reset_at)
           VALUES ($1, 'sk-...-one', 'team-one', 1.5, '2099-01-01 00:00:00', ARRAY['gpt-4o'], '{"team":"one"}', false, 5000, 10, 25.0, '30d', '2099-01-01 00:00:00')"#,
        &[&hash_key(k1)],
    )
    .await
    .expect("token 1");
    src.execute(
        r#"INSERT INTO "LiteLLM_VerificationToken" (token, key_alias, spend, models, blocked) VALUES ($1, NULL, 0.25, ARRAY['all-proxy-models'], NULL)"#,
        &[&hash_key(k2)],
    )
    .await
    .expect("token 2");
    for (id, key, spend) in [("req-1", k1, 1.0), ("req-2", k1, 0.5), ("req-3", k2, 0.25)] {
        src.execute(
            r#"INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, total_tokens, prompt_tokens, completion_tokens, "startTime", "endTime", model, model_group, cache_hit, status)
               VALUES ($1, 'acompletion', $2, $3, 30, 20, 10, now() - interval '1 hour', now() - interval '1 hour' + interval '2 seconds', 'gpt-4o-2024-08-06', 'gpt-4o', 'False', 'success')"#,
            &[&id, &hash_key(key), &spend],
        )
        .await
        .expect("spend log");
    }
    let env = [("DATABASE_URL", target.url.as_str())];
    let from = litellm.url.as_str();

    let r = llmroute(
        dir.path(),
        &[
            "import-litellm",
            "--from",
            from,
            "--spend-logs",
            "--dry-run",
        ],
        &env,
    )
    .await
    .ok();
    assert!(
        r.stdout.contains("would import 2 of 2 LiteLLM key(s)")
            && r.stdout.contains("dry run: nothing was written"),
        "{}",
        r.stdout
    );
    let store = llmroute_store::open(Some(&target.url), dir.path())
        .await
        .expect("store");
    assert!(
        store.get_key(&hash_key(k1)).await.expect("get").is_none(),
        "dry run wrote nothing"
    );

    let r = llmroute(
        dir.path(),
        &["import-litellm", "--from", from, "--spend-logs", "--json"],
        &env,
    )
    .await
    .ok();
    let v = r.json();
    assert_eq!(
        (v["keys_imported"].as_u64(), v["logs_imported"].as_u64()),
        (Some(2), Some(3)),
        "{v}"
    );

    let one = store
        .get_key(&hash_key(k1))
        .await
        .expect("get")
        .expect("key one imported");
    assert_eq!(one.key_alias.as_deref(), Some("team-one"));
    assert_eq!(one.models, vec!["gpt-4o".to_string()]);
    assert_eq!(
        (one.max_budget, one.rpm_limit, one.tpm_limit),
        (Some(25.0), Some(10), Some(5000))
    );
    assert_eq!(one.budget_duration.as_deref(), Some("30d"));
    assert_eq!(one.expires, Some(4_070_908_800));
    assert_eq!(
        one.spend, 1.5,
        "LiteLLM's spend, not doubled by the imported logs"
    );
    assert_eq!(one.metadata["team"], "one");
    let two = store
        .get_key(&hash_key(k2))
        .await
        .expect("get")
        .expect("key two imported");
    assert!(
        two.models.is_empty() && !two.blocked && two.spend == 0.25,
        "{two:?}"
    );

    // Running it again changes nothing.
    let r = llmroute(
        dir.path(),
        &["import-litellm", "--from", from, "--spend-logs"],
        &env,
    )
    .await
    .ok();
    assert!(
        r.stdout.contains("imported 0 of 2 LiteLLM key(s)")
            && r.stdout.contains("2 already present"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("imported 0 of 3 spend log(s)"),
        "{}",
        r.stdout
    );
    assert_eq!(
        store
            .get_key(&hash_key(k1))
            .await
            .expect("get")
            .map(|k| k.spend),
        Some(1.5)
    );

    // The imported logs show in the spend table.
    let r = llmroute(dir.path(), &["spend", "--by", "model", "--json"], &env)
        .await
        .ok();
    assert_eq!(r.json()["total"]["requests"], 3);
    assert_eq!(r.json()["total"]["spend"], 1.75);

    // A database without LiteLLM's tables is named as such.
    let r = llmroute(dir.path(), &["import-litellm", "--from", &target.url], &env).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("\"LiteLLM_VerificationToken\" not found"),
        "{}",
        r.stderr
    );
}
