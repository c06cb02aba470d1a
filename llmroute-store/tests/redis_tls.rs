//! `rediss://`: TLS with rustls against a `redis-server` of the test's own that speaks
//! only TLS, with a certificate from a throwaway CA (made with the `openssl` command).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "redis_support/mod.rs"]
mod redis_support;

use std::path::Path;

use common::tls;
use llmroute_core::Counters;
use llmroute_store::redis::{RedisCounters, RedisOptions, RedisPool};
use redis_support as rs;

#[tokio::test]
async fn rediss_connects_with_tls_and_verifies_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    tls::certificates(dir.path(), &[("server", tls::LOCAL)]);
    let path = |f: &str| dir.path().join(f).to_string_lossy().into_owned();
    let own = rs::OwnRedis::start_tls(&path("server.pem"), &path("server.key")).await;
    let url = format!("rediss://127.0.0.1:{}", own.port);

    let trusted = RedisOptions::default()
        .with_ca_file(&dir.path().join("ca.pem"))
        .unwrap();
    let pool = RedisPool::new(&rs::settings(&url), trusted).unwrap();
    assert!(pool.describe().contains("over TLS"), "{}", pool.describe());
    pool.ping().await.expect("TLS PING");
    let counters = RedisCounters::new(pool, &rs::prefix());
    counters.add_usage("d1", 1, 5).await.unwrap();
    assert_eq!(counters.snapshot(&["d1"]).await.unwrap()[0].tokens, 5);

    // Mozilla's roots do not include the test CA: the certificate is refused.
    let untrusted = RedisPool::new(&rs::settings(&url), RedisOptions::default()).unwrap();
    let e = untrusted.ping().await.unwrap_err();
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    // A missing CA file is an error that names it.
    let e = RedisOptions::default()
        .with_ca_file(Path::new("/nonexistent/ca.pem"))
        .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
}
