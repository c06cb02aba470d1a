//! Budgets hold in one instance: reservations of the estimated cost stop concurrent
//! requests from overshooting, and the real cost settles after.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use llmroute_core::cost::PriceTable;
use llmroute_core::events::RequestSink;
use llmroute_core::keys::VirtualKey;
use llmroute_core::types::{ChatRequest, Message};
use llmroute_store::budget::{BudgetGuard, BudgetReserver, LocalBudgets};
use llmroute_store::estimate::CostEstimator;
use llmroute_store::{check_budget, LogWriter, LogWriterConfig, NewKey};

fn request() -> ChatRequest {
    let mut req = ChatRequest::new(
        "gpt-4o",
        vec![
            Message::system("be brief"),
            Message::user("What is the capital of France?"),
        ],
    );
    req.max_tokens = Some(64);
    req
}

#[tokio::test]
async fn fifty_concurrent_requests_on_a_budget_for_ten_let_ten_through() {
    let est = CostEstimator::new(PriceTable::default(), 4096).estimate("gpt-4o", &request());
    assert!(est.cost > 0.0 && est.prompt_tokens > 10);
    let key = Arc::new(VirtualKey {
        token_hash: "k".into(),
        max_budget: Some(est.cost * 10.0),
        ..Default::default()
    });
    let budgets: Arc<dyn BudgetReserver> = Arc::new(LocalBudgets::new());
    let passed = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (key, budgets, passed) = (key.clone(), budgets.clone(), passed.clone());
            tokio::spawn(async move {
                match BudgetGuard::reserve(budgets, &key, est.cost).await {
                    Ok(guard) => {
                        passed.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await; // the upstream call
                        guard.settle(est.cost).await;
                    }
                    Err(e) => assert_eq!(e.code(), Some("budget_exceeded")),
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(passed.load(Ordering::SeqCst), 10);
    let e = budgets.reserve(&key, est.cost).await.unwrap_err();
    assert_eq!((e.status(), e.code()), (400, Some("budget_exceeded")));
}

#[tokio::test]
async fn cheaper_real_costs_free_budget_and_dropped_guards_release_it() {
    let key = VirtualKey {
        token_hash: "k2".into(),
        max_budget: Some(1.0),
        ..Default::default()
    };
    let local = Arc::new(LocalBudgets::new());
    let budgets: Arc<dyn BudgetReserver> = local.clone();
    let g = BudgetGuard::reserve(budgets.clone(), &key, 0.6)
        .await
        .unwrap();
    assert!(budgets.reserve(&key, 0.6).await.is_err(), "0.6 + 0.6 > 1");
    g.settle(0.1).await;
    let g2 = BudgetGuard::reserve(budgets.clone(), &key, 0.6)
        .await
        .unwrap();
    drop(g2); // the request failed: nothing spent
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(local.reserved("k2"), 0.0);
    let r = budgets.reserve(&key, 0.9).await.unwrap();
    budgets.release(r).await;
    // A key without a budget is never refused.
    let free = VirtualKey {
        token_hash: "free".into(),
        ..Default::default()
    };
    assert_eq!(budgets.reserve(&free, 1e9).await.unwrap().amount, 0.0);
}

#[tokio::test]
async fn logged_spend_reaches_the_key_and_the_budget_check() {
    common::with_sqlite(|store| async move {
        let c = store
            .create_key(NewKey {
                max_budget: Some(0.01),
                ..Default::default()
            })
            .await
            .unwrap();
        let writer = LogWriter::spawn(store.clone(), LogWriterConfig::default());
        for i in 0..4 {
            writer.record(common::record(
                &format!("r{i}"),
                Some(&c.record.token_hash),
                "gpt-4o",
                0.0025,
                1000,
            ));
        }
        writer.flush().await.unwrap();
        let key = store.get_key(&c.record.token_hash).await.unwrap().unwrap();
        assert!((key.spend - 0.01).abs() < 1e-12);
        let e = check_budget(&key, std::time::SystemTime::now()).unwrap_err();
        assert_eq!(e.code(), Some("budget_exceeded"));
        assert!(
            LocalBudgets::new().reserve(&key, 0.0).await.is_err(),
            "reservations start from the stored spend"
        );
    })
    .await;
}

#[tokio::test]
async fn forget_starts_again_from_a_lowered_stored_spend() {
    let key = VirtualKey {
        token_hash: "k-forget".into(),
        max_budget: Some(1.0),
        spend: 1.2,
        ..Default::default()
    };
    let local = Arc::new(LocalBudgets::new());
    let budgets: Arc<dyn BudgetReserver> = local.clone();
    assert!(budgets.reserve(&key, 0.1).await.is_err(), "spent 1.2 of 1");
    // An admin set the spend back to 0 in the store.
    let reset = VirtualKey {
        spend: 0.0,
        ..key.clone()
    };
    assert!(
        budgets.reserve(&reset, 0.1).await.is_err(),
        "without forget the count never follows the stored spend down"
    );
    budgets.forget("k-forget").await;
    let held = budgets.reserve(&reset, 0.6).await.unwrap();
    // A reservation in flight survives a forget.
    budgets.forget("k-forget").await;
    assert!((local.reserved("k-forget") - 0.6).abs() < 1e-12);
    assert!(budgets.reserve(&reset, 0.6).await.is_err(), "0.6 + 0.6 > 1");
    budgets.settle(held, 0.2).await;
    let r = budgets.reserve(&reset, 0.7).await.unwrap();
    budgets.release(r).await;
    budgets.forget("never-seen").await;
}
