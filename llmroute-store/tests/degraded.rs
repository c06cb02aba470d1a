//! Degraded mode against real PostgreSQL behind a TCP proxy the test cuts and restores:
//! cached keys keep passing, unknown keys get a clear 503, logs queue up to the bound
//! and are all written when the database is back. A connection that goes silent costs
//! one timeout and is then closed, never reused. Also: a closed port at start-up.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::{base_url, options, record, url_for, with_pg_db};
use llmroute_core::auth::Authenticator;
use llmroute_core::events::RequestSink;
use llmroute_core::Secret;
use llmroute_store::postgres::PgStore;
use llmroute_store::{
    open_with, KeyAuth, KeyAuthConfig, KeyStore, KeyUpdate, LogFilter, LogStore, LogWriter,
    LogWriterConfig, NewKey, Page, Store,
};

fn pg_addr() -> SocketAddr {
    let u = url::Url::parse(&base_url()).unwrap();
    let host = u.host_str().unwrap_or("127.0.0.1").to_string();
    (host.as_str(), u.port().unwrap_or(5432))
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap()
}

fn via(proxy: &Proxy, db: &str) -> String {
    let mut u = url::Url::parse(&url_for(&base_url(), db)).unwrap();
    u.set_host(Some("127.0.0.1")).unwrap();
    u.set_port(Some(proxy.addr.port())).unwrap();
    u.to_string()
}

#[tokio::test]
async fn outage_keeps_cached_keys_and_queues_logs_until_recovery() {
    with_pg_db(|db| async move {
        let proxy = Proxy::start(pg_addr()).await;
        let dir = tempfile::tempdir().unwrap();
        let mut opts = options(Some(via(&proxy, &db)), dir.path());
        opts.connect_timeout = Duration::from_millis(500);
        let store = open_with(opts).await.unwrap();
        let direct = open_with(options(Some(url_for(&base_url(), &db)), dir.path()))
            .await
            .unwrap();

        let auth = KeyAuth::new(
            Some(Secret::new("sk-master-key-for-tests")),
            store.clone(),
            KeyAuthConfig {
                fresh_ttl: Duration::from_millis(50),
                stale_ttl: Duration::from_secs(60),
                db_timeout: Duration::from_millis(300),
                capacity: 100,
            },
        );
        let seen = store.create_key(NewKey::default()).await.unwrap();
        let unseen = store.create_key(NewKey::default()).await.unwrap();
        let seen_hash = auth.authenticate(seen.key.expose()).await.unwrap().key_hash;

        let cap = 500;
        let writer = LogWriter::spawn(
            store.clone(),
            LogWriterConfig {
                capacity: cap,
                batch_size: 50,
                flush_interval: Duration::from_millis(20),
                min_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(200),
                ..Default::default()
            },
        );
        for i in 0..100 {
            writer.record(record(
                &format!("before-{i}"),
                Some(&seen_hash),
                "gpt-4o",
                0.001,
                1_000 + i,
            ));
        }
        writer.flush().await.unwrap();
        assert_eq!(writer.stats().written, 100);

        proxy.cut();
        tokio::time::sleep(Duration::from_millis(60)).await; // past fresh_ttl
        let p = auth
            .authenticate(seen.key.expose())
            .await
            .expect("a recently verified key passes while the database is down");
        assert_eq!(p.key_hash, seen_hash);
        assert!(auth.stats().served_stale >= 1);
        let started = Instant::now();
        let err = auth.authenticate(unseen.key.expose()).await.unwrap_err();
        assert_eq!(err.status(), 503, "{err}");
        assert!(
            err.to_string()
                .contains("database unreachable: key could not be verified"),
            "{err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "bounded by the short DB timeout"
        );
        assert!(auth
            .authenticate("sk-master-key-for-tests")
            .await
            .unwrap()
            .is_master());

        // record() never blocks; beyond the bound rows are dropped and counted.
        let t = Instant::now();
        for i in 0..(cap as u64 + 100) {
            writer.record(record(
                &format!("during-{i}"),
                Some(&seen_hash),
                "gpt-4o",
                0.001,
                2_000 + i,
            ));
        }
        assert!(t.elapsed() < Duration::from_millis(500));
        let s = writer.stats();
        assert_eq!((s.queued, s.dropped), (cap as u64, 100), "{s:?}");
        assert!(writer.flush().await.unwrap_err().is_unavailable());
        assert!(writer.stats().failed_writes >= 1);

        proxy.restore();
        let deadline = Instant::now() + Duration::from_secs(15);
        while writer.flush().await.is_err() {
            assert!(
                Instant::now() < deadline,
                "logs were not written after recovery: {:?}",
                writer.stats()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let s = writer.stats();
        assert_eq!(
            (s.queued, s.written, s.dropped),
            (0, 100 + cap as u64, 100),
            "{s:?}"
        );
        let logged = direct.spend_by_key(&LogFilter::default()).await.unwrap();
        assert_eq!(
            logged[0].requests,
            100 + cap as u64,
            "none lost up to the bound"
        );
        let spend = direct.get_key(&seen_hash).await.unwrap().unwrap().spend;
        assert!(
            (spend - 0.6).abs() < 1e-9,
            "ledger follows the logs: {spend}"
        );
        // Fresh lookups work again.
        auth.authenticate(unseen.key.expose()).await.unwrap();
        assert_eq!(writer.shutdown(Duration::from_secs(5)).await.queued, 0);
    })
    .await;
}

/// A migrated store on `db` through `proxy` with a pool of one connection, so every
/// operation uses the connection the test silences.
async fn one_connection(proxy: &Proxy, db: &str, dir: &Path) -> Arc<PgStore> {
    let mut opts = options(Some(via(proxy, db)), dir);
    opts.pool_size = 1;
    let url = opts.url.clone().unwrap();
    let store = PgStore::connect(&url, &opts).await.unwrap();
    store.migrate().await.unwrap();
    Arc::new(store)
}

#[tokio::test]
async fn a_silent_connection_costs_one_timeout_then_a_new_one_is_used() {
    const TIMEOUT: Duration = Duration::from_millis(300);
    with_pg_db(|db| async move {
        let proxy = Proxy::start(pg_addr()).await;
        let dir = tempfile::tempdir().unwrap();
        let store = one_connection(&proxy, &db, dir.path()).await;
        let direct = open_with(options(Some(url_for(&base_url(), &db)), dir.path()))
            .await
            .unwrap();
        let key = store.create_key(NewKey::default()).await.unwrap();
        let key = key.key.expose();
        // Never fresh: every lookup asks the database.
        let auth = KeyAuth::new(
            None,
            store.clone(),
            KeyAuthConfig {
                fresh_ttl: Duration::ZERO,
                stale_ttl: Duration::from_secs(60),
                db_timeout: TIMEOUT,
                capacity: 100,
            },
        );
        auth.authenticate(key).await.unwrap();

        // The pool's one connection stops answering (no reset, no reply).
        proxy.stall_open();
        let t = Instant::now();
        auth.authenticate(key).await.expect("served stale");
        assert!(t.elapsed() >= TIMEOUT, "{:?}", t.elapsed());
        assert_eq!(auth.stats().served_stale, 1);
        assert_eq!(store.connections_closed(), 1, "the silent one is closed");
        let t = Instant::now();
        auth.authenticate(key).await.unwrap();
        assert!(
            t.elapsed() < TIMEOUT,
            "the next lookup waits on the silent connection again: {:?}",
            t.elapsed()
        );
        assert_eq!(auth.stats().served_stale, 1, "verified by the database");

        // The writer's write goes to a connection that then goes silent: it is given up
        // after write_timeout and written once on a new connection.
        let writer = LogWriter::spawn(
            store.clone(),
            LogWriterConfig {
                flush_interval: Duration::from_millis(20),
                min_backoff: Duration::from_millis(20),
                write_timeout: TIMEOUT,
                ..Default::default()
            },
        );
        proxy.stall_open();
        let hash = llmroute_core::auth::hash_key(key);
        for i in 0..3 {
            writer.record(record(
                &format!("silent-{i}"),
                Some(&hash),
                "gpt-4o",
                0.5,
                i,
            ));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while writer.stats().written < 3 {
            assert!(Instant::now() < deadline, "{:?}", writer.stats());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let s = writer.stats();
        assert_eq!((s.written, s.queued, s.dropped), (3, 0, 0), "{s:?}");
        assert!(s.failed_writes >= 1, "the unanswered write failed: {s:?}");
        assert_eq!(store.connections_closed(), 2);
        let rows = direct
            .recent_logs(&LogFilter::default(), Page::default())
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
        let spend = direct.get_key(&hash).await.unwrap().unwrap().spend;
        assert!((spend - 1.5).abs() < 1e-9, "each row counted once: {spend}");
    })
    .await;
}

#[tokio::test]
async fn every_operation_that_gets_its_answer_returns_its_connection() {
    with_pg_db(|db| async move {
        let dir = tempfile::tempdir().unwrap();
        let opts = options(Some(url_for(&base_url(), &db)), dir.path());
        let store = PgStore::connect(opts.url.as_deref().unwrap(), &opts)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store.migrate().await.unwrap();
        store.health().await.unwrap();
        let created = store.create_key(NewKey::default()).await.unwrap();
        let hash = created.record.token_hash.clone();
        let dup = NewKey {
            key: Some(created.key.clone()),
            ..Default::default()
        };
        assert!(store.create_key(dup).await.is_err(), "already exists");
        store
            .import_key(&llmroute_core::keys::VirtualKey {
                token_hash: "imported".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        store.get_key(&hash).await.unwrap().unwrap();
        let rename = KeyUpdate {
            key_alias: Some(Some("renamed".into())),
            ..Default::default()
        };
        store.update_key(&hash, &rename).await.unwrap();
        store.list_keys(Page::default()).await.unwrap();
        store.add_spend(&hash, 0.25).await.unwrap();
        store
            .reset_budgets(std::time::SystemTime::now())
            .await
            .unwrap();
        let batch = [record("r1", Some(&hash), "gpt-4o", 0.5, 1)];
        assert_eq!(store.insert_logs(&batch).await.unwrap(), 1);
        assert_eq!(store.insert_logs(&batch).await.unwrap(), 0);
        let all = LogFilter::default();
        store.spend_by_key(&all).await.unwrap();
        store.spend_by_day(&all).await.unwrap();
        store.spend_by_model(&all).await.unwrap();
        store.recent_logs(&all, Page::default()).await.unwrap();
        store.delete_keys(&[hash]).await.unwrap();
        assert_eq!(store.connections_closed(), 0);
    })
    .await;
}

#[tokio::test]
async fn closed_port_at_start_up_says_where_and_what_to_check() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(
        Some(format!("postgres://app:hunter2@127.0.0.1:{port}/llm")),
        dir.path(),
    );
    opts.connect_timeout = Duration::from_millis(500);
    let err = open_with(opts)
        .await
        .err()
        .expect("nothing listens there")
        .to_string();
    assert!(err.contains(&format!("127.0.0.1:{port}/llm")), "{err}");
    assert!(
        err.contains("PostgreSQL") && err.contains("nothing listens there"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[tokio::test]
async fn unknown_database_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let err = open_with(options(
        Some(url_for(&base_url(), "llmroute_test_does_not_exist")),
        dir.path(),
    ))
    .await
    .err()
    .expect("no such database")
    .to_string();
    assert!(err.contains("CREATE DATABASE"), "{err}");
}

#[tokio::test]
async fn key_auth_refuses_unknown_expired_and_blocked_keys_with_their_codes() {
    common::with_sqlite(|store| async move {
        let auth = Arc::new(KeyAuth::new(None, store.clone(), KeyAuthConfig::default()));
        let e = auth.authenticate("sk-not-a-key-0000000").await.unwrap_err();
        assert_eq!((e.status(), e.code()), (401, Some("invalid_api_key")));
        assert!(!e.to_string().contains("sk-not-a-key-0000000"));
        let expired = store
            .create_key(NewKey {
                expires: Some(1),
                ..Default::default()
            })
            .await
            .unwrap();
        let e = auth.authenticate(expired.key.expose()).await.unwrap_err();
        assert_eq!((e.status(), e.code()), (401, Some("key_expired")));
        let blocked = store
            .create_key(NewKey {
                blocked: true,
                ..Default::default()
            })
            .await
            .unwrap();
        let e = auth.authenticate(blocked.key.expose()).await.unwrap_err();
        assert_eq!((e.status(), e.code()), (403, Some("key_blocked")));
        let ok = store.create_key(NewKey::default()).await.unwrap();
        let p = auth.authenticate(ok.key.expose()).await.unwrap();
        assert!(!p.is_master());
        store
            .delete_keys(std::slice::from_ref(&p.key_hash))
            .await
            .unwrap();
        auth.invalidate(&p.key_hash).await;
        assert_eq!(
            auth.authenticate(ok.key.expose()).await.unwrap_err().code(),
            Some("invalid_api_key")
        );
    })
    .await;
}

#[tokio::test]
async fn sslmode_require_negotiates_tls_and_verifies_the_certificate() {
    let (client, conn) = tokio_postgres::connect(&base_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let ssl: String = client.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    if ssl != "on" {
        eprintln!("skipped: the test PostgreSQL has ssl=off, so TLS cannot be exercised");
        return;
    }
    // The local server's certificate is self-signed: TLS is attempted, and refused on
    // verification, with the fix in the message.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}?sslmode=require", base_url());
    let err = open_with(options(Some(url), dir.path()))
        .await
        .err()
        .expect("untrusted certificate")
        .to_string();
    assert!(
        err.contains("sslrootcert") && err.to_lowercase().contains("certificate"),
        "{err}"
    );
}
