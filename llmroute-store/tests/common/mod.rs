//! Test harness: a store per test, on SQLite (a temp dir) or PostgreSQL (a database of
//! its own, `llmroute_test_<random>`, dropped at the end even when the test fails).
//!
//! PostgreSQL comes from `LLMROUTE_TEST_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`).

#![allow(dead_code, clippy::unwrap_used)]

pub mod proxy;
pub mod tls;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use llmroute_store::{open_with, Store, StoreOptions};
use rand::Rng;

/// The admin URL of the test PostgreSQL.
pub fn base_url() -> String {
    std::env::var("LLMROUTE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `base` with its database replaced by `db`.
pub fn url_for(base: &str, db: &str) -> String {
    let mut u = url::Url::parse(base).expect("LLMROUTE_TEST_DATABASE_URL is a URL");
    u.set_path(&format!("/{db}"));
    u.to_string()
}

async fn admin() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&base_url(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL for tests is not reachable at {} (set LLMROUTE_TEST_DATABASE_URL): {e}",
                base_url()
            )
        });
    tokio::spawn(conn);
    client
}

/// Creates an empty database; returns its name.
pub async fn create_db() -> String {
    let name = format!("llmroute_test_{:016x}", rand::thread_rng().gen::<u64>());
    admin()
        .await
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("CREATE DATABASE");
    name
}

/// Drops a database made by [`create_db`].
pub async fn drop_db(name: &str) {
    let r = admin()
        .await
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
    if let Err(e) = r {
        eprintln!("could not drop test database {name}: {e}");
    }
}

/// Options for a test store: short timeouts, a small pool.
pub fn options(url: Option<String>, dir: &Path) -> StoreOptions {
    let mut o = StoreOptions::new(url.as_deref(), dir);
    o.origin = "the test".into();
    o.connect_timeout = Duration::from_secs(2);
    o.pool_size = 4;
    o
}

/// Runs `f` on a fresh SQLite store in a temp dir.
pub async fn with_sqlite<F, Fut>(f: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_with(options(None, dir.path()))
        .await
        .expect("open sqlite");
    f(store).await;
}

/// Runs `f` with a fresh PostgreSQL database's name, dropping the database afterwards.
pub async fn with_pg_db<F, Fut>(f: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let name = create_db().await;
    let outcome = AssertUnwindSafe(f(name.clone())).catch_unwind().await;
    drop_db(&name).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Runs `f` on a fresh, migrated PostgreSQL store.
pub async fn with_postgres<F, Fut>(f: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    with_pg_db(|name| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open_with(options(Some(url_for(&base_url(), &name)), dir.path()))
            .await
            .expect("open postgres");
        f(store).await;
    })
    .await;
}

/// A finished request for tests.
pub fn record(
    id: &str,
    key_hash: Option<&str>,
    model: &str,
    cost: f64,
    started_ms: u64,
) -> llmroute_core::events::RequestRecord {
    llmroute_core::events::RequestRecord {
        request_id: id.to_string(),
        started_at: std::time::UNIX_EPOCH + Duration::from_millis(started_ms),
        key_hash: key_hash.map(str::to_string),
        key_alias: Some("alias".into()),
        model: model.to_string(),
        deployment: Some("dep-1".into()),
        upstream_model: Some(format!("{model}-2024-08-06")),
        status: 200,
        error_type: None,
        usage: Some(llmroute_core::types::Usage::new(100, 20)),
        cost,
        latency: Duration::from_millis(120),
        upstream_time: Duration::from_millis(110),
        time_to_first_token: Some(Duration::from_millis(40)),
        attempts: 1,
        cache_hit: false,
        stream: true,
        upstream_request_id: Some("apim-1".into()),
    }
}
