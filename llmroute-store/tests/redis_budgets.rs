//! Budgets across instances against real Redis, with an SQLite store as the ledger:
//! three reservers over one Redis let at most the budget through, the ledger and Redis
//! agree afterwards, and after a Redis flush the spend is re-seeded from the ledger.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "redis_support/mod.rs"]
mod redis_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use llmroute_core::events::RequestSink;
use llmroute_core::keys::VirtualKey;
use llmroute_store::budget::{BudgetGuard, BudgetReserver};
use llmroute_store::redis::{FallbackBudgets, Gate, RedisBudgets};
use llmroute_store::{LogWriter, LogWriterConfig, NewKey};
use redis_support as rs;

/// Three reservers ("three servers"), each with its own connection.
fn three(prefix: &str) -> Vec<Arc<dyn BudgetReserver>> {
    let gate = Arc::new(Gate::new(
        "budgets",
        "in-process budgets",
        Duration::from_secs(1),
    ));
    vec![
        Arc::new(RedisBudgets::new(rs::pool(), prefix)),
        Arc::new(RedisBudgets::new(rs::pool(), prefix)),
        Arc::new(FallbackBudgets::new(
            RedisBudgets::new(rs::pool(), prefix),
            gate,
        )),
    ]
}

async fn redis_spend(prefix: &str, key_hash: &str) -> Option<i64> {
    let mut c = rs::raw().await;
    redis::cmd("HGET")
        .arg(format!("{prefix}:budget:{key_hash}"))
        .arg("spend")
        .query_async(&mut c)
        .await
        .unwrap()
}

#[tokio::test]
async fn fifty_concurrent_requests_over_three_instances_on_a_budget_for_ten() {
    let prefix = rs::prefix();
    common::with_sqlite(|store| {
        let prefix = prefix.clone();
        async move {
            let cost = 0.0123;
            let created = store
                .create_key(NewKey {
                    max_budget: Some(cost * 10.0),
                    ..Default::default()
                })
                .await
                .unwrap();
            let hash = created.record.token_hash.clone();
            let key = Arc::new(store.get_key(&hash).await.unwrap().unwrap());
            let writer = Arc::new(LogWriter::spawn(store.clone(), LogWriterConfig::default()));
            let reservers = three(&prefix);
            let passed = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..50)
                .map(|i| {
                    let reserver = reservers[i % 3].clone();
                    let (key, passed, writer) = (key.clone(), passed.clone(), writer.clone());
                    tokio::spawn(async move {
                        match BudgetGuard::reserve(reserver, &key, cost).await {
                            Ok(guard) => {
                                passed.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(20)).await; // the upstream call
                                guard.settle(cost).await;
                                writer.record(common::record(
                                    &format!("r{i}"),
                                    Some(&key.token_hash),
                                    "gpt-4o",
                                    cost,
                                    1000 + i as u64,
                                ));
                            }
                            Err(e) => assert_eq!(e.code(), Some("budget_exceeded"), "{e}"),
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(
                passed.load(Ordering::SeqCst),
                10,
                "at most (and here exactly) the budget"
            );
            writer.flush().await.unwrap();

            // The ledger and Redis agree with the sum of the logs.
            let ledger = store.get_key(&hash).await.unwrap().unwrap();
            assert!(
                (ledger.spend - cost * 10.0).abs() < 1e-9,
                "{}",
                ledger.spend
            );
            let in_redis = redis_spend(&prefix, &hash).await.expect("spend in Redis");
            assert_eq!(in_redis, 10 * (cost * 1e9).round() as i64);
            for r in &reservers {
                let e = r.reserve(&ledger, cost).await.unwrap_err();
                assert!(e.to_string().contains("every instance"), "{e}");
            }

            // Redis flushed: the spend is rebuilt from the ledger, the budget still holds.
            rs::cleanup(&prefix).await;
            assert_eq!(redis_spend(&prefix, &hash).await, None);
            let fresh = RedisBudgets::new(rs::pool(), &prefix);
            assert!(fresh.reserve(&ledger, cost).await.is_err());
            assert_eq!(
                redis_spend(&prefix, &hash).await,
                Some(in_redis),
                "re-seeded from the ledger"
            );
        }
    })
    .await;
    rs::cleanup(&prefix).await;
}

#[tokio::test]
async fn after_a_flush_the_spend_is_seeded_from_the_ledger() {
    let prefix = rs::prefix();
    let key = VirtualKey {
        token_hash: "k-seed".into(),
        max_budget: Some(1.0),
        spend: 0.7, // what PostgreSQL says
        ..Default::default()
    };
    let a = RedisBudgets::new(rs::pool(), &prefix);
    let b = RedisBudgets::new(rs::pool(), &prefix);
    let r = a.reserve(&key, 0.2).await.unwrap();
    assert!(b.reserve(&key, 0.2).await.is_err(), "0.7 + 0.2 + 0.2 > 1");
    b.release(r).await;
    let r = b.reserve(&key, 0.25).await.unwrap();
    a.settle(r, 0.1).await; // settled on another instance than it was made
    assert_eq!(redis_spend(&prefix, "k-seed").await, Some(800_000_000));
    // The ledger catching up never lowers Redis's spend; a higher ledger raises it.
    let caught_up = VirtualKey {
        spend: 0.95,
        ..key.clone()
    };
    assert!(a.reserve(&caught_up, 0.1).await.is_err());
    assert_eq!(redis_spend(&prefix, "k-seed").await, Some(950_000_000));

    rs::cleanup(&prefix).await;
    let r = b.reserve(&key, 0.3).await.unwrap();
    assert_eq!(redis_spend(&prefix, "k-seed").await, Some(700_000_000));
    b.release(r).await;

    // A new budget period (the store reset the spend) starts from the ledger again.
    let next_period = VirtualKey {
        spend: 0.0,
        budget_reset_at: Some(i64::MAX / 2),
        ..key.clone()
    };
    let r = a.reserve(&next_period, 0.9).await.unwrap();
    a.release(r).await;
    // A period that ended resets the spend without waiting for the store.
    let ended = VirtualKey {
        token_hash: "k-ended".into(),
        spend: 5.0,
        budget_duration: Some("30d".into()),
        budget_reset_at: Some(1),
        ..key.clone()
    };
    let r = a.reserve(&ended, 0.5).await.unwrap();
    a.settle(r, 0.5).await;
    // Keys without a budget never touch Redis.
    let free = VirtualKey {
        token_hash: "k-free".into(),
        ..Default::default()
    };
    assert_eq!(a.reserve(&free, 1e9).await.unwrap().amount, 0.0);
    assert!(rs::keys(&prefix)
        .await
        .iter()
        .all(|k| !k.contains("k-free")));
    rs::cleanup(&prefix).await;
}

#[tokio::test]
async fn forget_reseeds_a_lowered_spend_from_the_ledger_on_every_instance() {
    let prefix = rs::prefix();
    let key = VirtualKey {
        token_hash: "k-forget".into(),
        max_budget: Some(1.0),
        spend: 1.2,
        ..Default::default()
    };
    let reservers = three(&prefix);
    assert!(reservers[0].reserve(&key, 0.1).await.is_err());
    assert_eq!(redis_spend(&prefix, "k-forget").await, Some(1_200_000_000));
    let reset = VirtualKey {
        spend: 0.0,
        ..key.clone()
    };
    assert!(
        reservers[1].reserve(&reset, 0.1).await.is_err(),
        "Redis never follows the ledger down by itself"
    );
    // The admin API forgets through one instance (here the one with a fallback).
    reservers[2].forget("k-forget").await;
    assert_eq!(redis_spend(&prefix, "k-forget").await, None);
    let held = reservers[0].reserve(&reset, 0.6).await.unwrap();
    assert_eq!(redis_spend(&prefix, "k-forget").await, Some(0));
    // Reservations in flight survive a forget.
    reservers[1].forget("k-forget").await;
    assert!(
        reservers[1].reserve(&reset, 0.6).await.is_err(),
        "0.6 + 0.6 > 1"
    );
    reservers[0].settle(held, 0.2).await;
    let r = reservers[1].reserve(&reset, 0.7).await.unwrap();
    reservers[1].release(r).await;
    rs::cleanup(&prefix).await;
}
