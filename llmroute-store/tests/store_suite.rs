//! One suite for the storage traits, run against SQLite and against real PostgreSQL
//! (each test in its own temp dir or database).

#![allow(clippy::unwrap_used)]

#[path = "store_suite/columns.rs"]
mod columns;
mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use columns::logs_read_back_every_column;
use common::record;
use llmroute_core::auth::hash_key;
use llmroute_core::keys::VirtualKey;
use llmroute_store::{KeyUpdate, LogFilter, NewKey, Page, Store, StoreError};

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::common::with_sqlite(super::$name).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $name() { super::common::with_postgres(super::$name).await } )*
        }
    };
}

suite!(
    keys_are_shown_once_and_stored_by_hash,
    keys_update_block_and_delete,
    keys_list_in_pages,
    spend_adds_and_budget_periods_restart,
    logs_insert_once_and_feed_spend,
    logs_filter_and_page,
    logs_read_back_every_column,
    migrate_again_is_a_no_op,
);

fn ms(t: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(t)
}

async fn keys_are_shown_once_and_stored_by_hash(store: Arc<dyn Store>) {
    let created = store
        .create_key(NewKey {
            key_alias: Some("team-a".into()),
            models: vec!["gpt-4o".into(), "gpt-4o-mini".into()],
            max_budget: Some(12.5),
            budget_duration: Some("30d".into()),
            rpm_limit: Some(60),
            tpm_limit: Some(100_000),
            expires: Some(4_000_000_000),
            metadata: serde_json::json!({"team": "a", "n": 1}),
            ..Default::default()
        })
        .await
        .unwrap();
    let key = created.key.expose();
    assert!(key.starts_with("sk-") && key.len() >= 35, "{key}");
    assert_eq!(created.record.token_hash, hash_key(key));
    let got = store
        .get_key(&hash_key(key))
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(got, created.record);
    assert_eq!(got.budget_reset_at, Some(got.created_at + 30 * 86400));
    assert!(
        store.get_key(key).await.unwrap().is_none(),
        "never stored in plaintext"
    );
    // A chosen key and an imported hash (LiteLLM migration).
    let chosen = store
        .create_key(NewKey {
            key: Some(llmroute_core::Secret::new("sk-chosen-0123456789")),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(chosen.record.token_hash, hash_key("sk-chosen-0123456789"));
    let dup = store
        .create_key(NewKey {
            key: Some(llmroute_core::Secret::new("sk-chosen-0123456789")),
            ..Default::default()
        })
        .await;
    assert!(
        matches!(dup, Err(StoreError::Invalid { field: "key", .. })),
        "{dup:?}"
    );
    let imported = VirtualKey {
        token_hash: hash_key("sk-litellm-old"),
        created_at: 1_700_000_000,
        ..Default::default()
    };
    store.import_key(&imported).await.unwrap();
    assert_eq!(
        store
            .get_key(&imported.token_hash)
            .await
            .unwrap()
            .map(|k| k.created_at),
        Some(1_700_000_000)
    );
}

async fn keys_update_block_and_delete(store: Arc<dyn Store>) {
    let c = store
        .create_key(NewKey {
            key_alias: Some("a".into()),
            max_budget: Some(5.0),
            ..Default::default()
        })
        .await
        .unwrap();
    let h = c.record.token_hash.clone();
    let update = KeyUpdate {
        key_alias: Some(Some("renamed".into())),
        max_budget: Some(None),
        blocked: Some(true),
        models: Some(vec!["gpt-4o".into()]),
        budget_duration: Some(Some("1h".into())),
        ..Default::default()
    };
    let updated = store.update_key(&h, &update).await.unwrap();
    assert_eq!(updated.key_alias.as_deref(), Some("renamed"));
    assert_eq!((updated.max_budget, updated.blocked), (None, true));
    assert_eq!(store.get_key(&h).await.unwrap().as_ref(), Some(&updated));
    let missing = store.update_key("0000", &update).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
    let bad = store
        .update_key(
            &h,
            &KeyUpdate {
                budget_duration: Some(Some("often".into())),
                ..Default::default()
            },
        )
        .await;
    assert!(bad.unwrap_err().to_string().contains("7d"));
    assert_eq!(
        store
            .delete_keys(&[h.clone(), "nope".into()])
            .await
            .unwrap(),
        1
    );
    assert!(store.get_key(&h).await.unwrap().is_none());
    assert_eq!(store.delete_keys(&[h]).await.unwrap(), 0);
}

async fn keys_list_in_pages(store: Arc<dyn Store>) {
    let mut hashes = Vec::new();
    for i in 0..5 {
        let c = store
            .create_key(NewKey {
                key_alias: Some(format!("k{i}")),
                ..Default::default()
            })
            .await
            .unwrap();
        hashes.push(c.record.token_hash);
    }
    let mut seen = Vec::new();
    for page in 1..=3 {
        let p = store.list_keys(Page { page, size: 2 }).await.unwrap();
        assert_eq!(p.total, 5);
        assert_eq!(p.items.len(), if page == 3 { 1 } else { 2 });
        seen.extend(p.items.into_iter().map(|k| k.token_hash));
    }
    seen.sort();
    hashes.sort();
    assert_eq!(seen, hashes);
    assert!(store
        .list_keys(Page { page: 4, size: 2 })
        .await
        .unwrap()
        .items
        .is_empty());
}

async fn spend_adds_and_budget_periods_restart(store: Arc<dyn Store>) {
    let c = store
        .create_key(NewKey {
            max_budget: Some(1.0),
            budget_duration: Some("1h".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let h = c.record.token_hash;
    store.add_spend(&h, 0.25).await.unwrap();
    store.add_spend(&h, 0.5).await.unwrap();
    assert!((store.get_key(&h).await.unwrap().unwrap().spend - 0.75).abs() < 1e-9);
    // A key whose period ended: the next spend starts a new period.
    let now = common_now();
    let old = VirtualKey {
        token_hash: hash_key("sk-period-ended"),
        spend: 9.0,
        max_budget: Some(10.0),
        budget_duration: Some("1d".into()),
        budget_reset_at: Some(now - 10),
        created_at: now - 86_400,
        ..Default::default()
    };
    store.import_key(&old).await.unwrap();
    store.add_spend(&old.token_hash, 0.5).await.unwrap();
    let k = store.get_key(&old.token_hash).await.unwrap().unwrap();
    assert!((k.spend - 0.5).abs() < 1e-9, "{}", k.spend);
    let reset = k.budget_reset_at.unwrap();
    assert!((reset - (now + 86_400)).abs() <= 5, "{reset} vs {now}");
    // reset_budgets zeroes keys whose period has ended by the given time.
    assert_eq!(store.reset_budgets(SystemTime::now()).await.unwrap(), 0);
    let later = SystemTime::now() + Duration::from_secs(2 * 86_400);
    assert_eq!(store.reset_budgets(later).await.unwrap(), 2);
    assert_eq!(store.get_key(&h).await.unwrap().unwrap().spend, 0.0);
}

fn common_now() -> i64 {
    llmroute_core::store::unix_secs(SystemTime::now())
}

async fn logs_insert_once_and_feed_spend(store: Arc<dyn Store>) {
    let a = store
        .create_key(NewKey::default())
        .await
        .unwrap()
        .record
        .token_hash;
    let b = store
        .create_key(NewKey::default())
        .await
        .unwrap()
        .record
        .token_hash;
    let day = 86_400_000;
    let batch = vec![
        record("r1", Some(&a), "gpt-4o", 0.5, day * 20_000 + 1000),
        record("r2", Some(&a), "gpt-4o-mini", 0.25, day * 20_000 + 2000),
        record("r3", Some(&b), "gpt-4o", 1.0, day * 20_001 + 1000),
        record("r4", None, "gpt-4o", 0.125, day * 20_001 + 2000),
    ];
    assert_eq!(store.insert_logs(&batch).await.unwrap(), 4);
    // A retried batch counts once.
    assert_eq!(store.insert_logs(&batch[..2]).await.unwrap(), 0);
    let spend_a = store.get_key(&a).await.unwrap().unwrap().spend;
    assert!(
        (spend_a - 0.75).abs() < 1e-9,
        "ledger = sum of logs: {spend_a}"
    );
    let all = LogFilter::default();
    let by_key = store.spend_by_key(&all).await.unwrap();
    assert_eq!(by_key.len(), 2);
    assert_eq!(
        (by_key[0].group.as_str(), by_key[0].requests),
        (b.as_str(), 1)
    );
    assert!((by_key[1].spend - 0.75).abs() < 1e-9);
    assert_eq!(by_key[1].prompt_tokens, 200);
    let by_day = store.spend_by_day(&all).await.unwrap();
    let days: Vec<_> = by_day
        .iter()
        .map(|r| (r.group.as_str(), r.requests))
        .collect();
    assert_eq!(days, vec![("2024-10-04", 2), ("2024-10-05", 2)]);
    let by_model = store
        .spend_by_model(&LogFilter {
            key_hash: Some(a.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let models: Vec<_> = by_model
        .iter()
        .map(|r| (r.group.as_str(), r.spend))
        .collect();
    assert_eq!(models, vec![("gpt-4o", 0.5), ("gpt-4o-mini", 0.25)]);
}

async fn logs_filter_and_page(store: Arc<dyn Store>) {
    let batch: Vec<_> = (0u64..7)
        .map(|i| {
            record(
                &format!("req-{i}"),
                Some(if i.is_multiple_of(2) { "even" } else { "odd" }),
                "gpt-4o",
                0.01,
                1_000_000 + i * 1000,
            )
        })
        .collect();
    store.insert_logs(&batch).await.unwrap();
    let newest = store
        .recent_logs(&LogFilter::default(), Page { page: 1, size: 3 })
        .await
        .unwrap();
    let ids: Vec<_> = newest.iter().map(|l| l.request_id.as_str()).collect();
    assert_eq!(ids, vec!["req-6", "req-5", "req-4"]);
    let e = &newest[0];
    assert_eq!(
        (
            e.started_at_ms,
            e.status,
            e.prompt_tokens,
            e.completion_tokens
        ),
        (1_006_000, 200, Some(100), Some(20))
    );
    assert_eq!(
        (e.latency_ms, e.ttft_ms, e.stream, e.cache_hit),
        (120.0, Some(40.0), true, false)
    );
    assert_eq!(e.upstream_model.as_deref(), Some("gpt-4o-2024-08-06"));
    let page2 = store
        .recent_logs(&LogFilter::default(), Page { page: 3, size: 3 })
        .await
        .unwrap();
    assert_eq!(page2.len(), 1);
    let f = LogFilter {
        key_hash: Some("even".into()),
        start: Some(ms(1_002_000)),
        end: Some(ms(1_006_000)),
    };
    let ids: Vec<_> = store
        .recent_logs(&f, Page::default())
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.request_id)
        .collect();
    assert_eq!(ids, vec!["req-4", "req-2"]);
    let spend = store.spend_by_key(&f).await.unwrap();
    assert_eq!((spend.len(), spend[0].requests), (1, 2));
}

async fn migrate_again_is_a_no_op(store: Arc<dyn Store>) {
    let v = store.migrate().await.unwrap();
    assert_eq!(store.migrate().await.unwrap(), v);
    assert!(v >= 1);
    store.health().await.unwrap();
    assert!(!store.describe().is_empty());
}
