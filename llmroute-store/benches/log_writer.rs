//! Throughput of the batched request log writer into PostgreSQL (and SQLite for
//! comparison): rows recorded through `LogWriter::record` as fast as one task can, until
//! the database has them all (`flush`). 100 real keys, so each batch also updates spend.
//!
//! `cargo bench -p llmroute-store --bench log_writer` (PostgreSQL from
//! `LLMROUTE_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`;
//! a throwaway database `llmroute_bench_<random>` is created and dropped).
//! `LLMROUTE_BENCH_ROWS` sets the rows per run (default 200 000).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use llmroute_core::events::{RequestRecord, RequestSink};
use llmroute_core::types::Usage;
use llmroute_store::{open_with, LogWriter, LogWriterConfig, NewKey, Store, StoreOptions};
use rand::Rng;

fn base_url() -> String {
    std::env::var("LLMROUTE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn row(i: u64, run: u64, keys: &[String]) -> RequestRecord {
    RequestRecord {
        request_id: format!("bench-{run}-{i:08}"),
        started_at: UNIX_EPOCH + Duration::from_millis(1_750_000_000_000 + i),
        key_hash: Some(keys[(i as usize) % keys.len()].clone()),
        key_alias: Some("bench".into()),
        model: "gpt-4o".into(),
        deployment: Some("eastus-gpt-4o".into()),
        upstream_model: Some("gpt-4o-2024-08-06".into()),
        status: 200,
        error_type: None,
        usage: Some(Usage::new(812, 143)),
        cost: 0.00346,
        latency: Duration::from_millis(740),
        upstream_time: Duration::from_millis(738),
        time_to_first_token: Some(Duration::from_millis(210)),
        attempts: 1,
        cache_hit: false,
        stream: true,
        upstream_request_id: Some("5b1c1b0e-0000-4000-8000-000000000000".into()),
    }
}

async fn run(label: &str, store: Arc<dyn Store>, rows: u64, batch_size: usize) -> f64 {
    let mut keys = Vec::new();
    for _ in 0..100 {
        keys.push(
            store
                .create_key(NewKey::default())
                .await
                .unwrap()
                .record
                .token_hash,
        );
    }
    let records: Vec<_> = (0..rows)
        .map(|i| row(i, batch_size as u64, &keys))
        .collect();
    let writer = LogWriter::spawn(
        store.clone(),
        LogWriterConfig {
            capacity: rows as usize + 1,
            batch_size,
            ..Default::default()
        },
    );
    let start = Instant::now();
    for r in records {
        writer.record(r);
    }
    let recorded = start.elapsed();
    writer.flush().await.unwrap();
    let total = start.elapsed();
    let stats = writer.shutdown(Duration::from_secs(5)).await;
    assert_eq!((stats.written, stats.dropped), (rows, 0));
    let rate = rows as f64 / total.as_secs_f64();
    println!(
        "{label:<10} batch {batch_size:>5}: {rows} rows in {:>7.1} ms = {rate:>9.0} rows/s  (record() {:.0} ns/row)",
        total.as_secs_f64() * 1e3,
        recorded.as_nanos() as f64 / rows as f64
    );
    rate
}

async fn admin() -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(&base_url(), tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL for the bench");
    tokio::spawn(conn);
    c
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // nothing to list
    }
    if !std::env::args().any(|a| a == "--bench") {
        // Run by `cargo test --all-targets`: a quick smoke run on SQLite only.
        let dir = tempfile::tempdir().unwrap();
        let sqlite = open_with(StoreOptions::new(None, dir.path()))
            .await
            .unwrap();
        run("sqlite", sqlite, 2_000, 500).await;
        return;
    }
    let rows: u64 = std::env::var("LLMROUTE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap();
    let mut best: f64 = 0.0;
    for batch in [500, 1000, 5000] {
        let name = format!(
            "llmroute_bench_{:012x}",
            rand::thread_rng().gen::<u64>() >> 16
        );
        admin()
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let mut url = url::Url::parse(&base_url()).unwrap();
        url.set_path(&format!("/{name}"));
        let store = open_with(StoreOptions::new(Some(url.as_str()), dir.path()))
            .await
            .unwrap();
        let rate = run("postgres", store, rows, batch).await;
        best = best.max(rate);
        admin()
            .await
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .await
            .unwrap();
    }
    let sqlite = open_with(StoreOptions::new(None, dir.path()))
        .await
        .unwrap();
    run("sqlite", sqlite, rows.min(100_000), 1000).await;
    println!("best PostgreSQL rate: {best:.0} rows/s (target >= 20000)");
}
