//! Helpers of `store_outage`: a database per test, a proxy in front of it, the config,
//! and reading `/metrics` and the database.

use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures::FutureExt;
use serde_json::{json, Value};

use crate::common::*;
use crate::proxy::Proxy;

/// Runs `test` with a fresh database (its URL) and drops the database afterwards, also
/// when the test panics.
pub async fn with_database<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = TestDatabase::create().await.expect("test database");
    let outcome = AssertUnwindSafe(test(db.url.clone())).catch_unwind().await;
    db.drop_database().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// A proxy to the database of `url`, and the same URL pointing at the proxy.
pub async fn proxied(url: &str) -> (Proxy, String) {
    let mut u = url::Url::parse(url).expect("database URL");
    let target: SocketAddr = (
        u.host_str().expect("host"),
        u.port_or_known_default().expect("port"),
    )
        .to_socket_addrs()
        .expect("resolve the database host")
        .next()
        .expect("an address");
    let proxy = Proxy::start(target).await;
    u.set_port(Some(proxy.addr.port())).expect("port");
    u.set_host(Some("127.0.0.1")).expect("host");
    (proxy, u.to_string())
}

/// The mock model, the test master key, the database and `extra` general settings.
pub fn config(database_url: &str, extra: &str) -> String {
    format!(
        "model_list:\n  - model_name: mock\n    litellm_params: {{model: mock/echo}}\n\
         general_settings: {{master_key: {MASTER_KEY}, database_url: \"{database_url}\"{extra}}}\n"
    )
}

pub async fn readiness(server: &Server) -> (u16, Value) {
    let resp = client()
        .get(server.url("/health/readiness"))
        .send()
        .await
        .expect("GET /health/readiness");
    (
        resp.status().as_u16(),
        resp.json().await.expect("readiness JSON"),
    )
}

/// A new virtual key (made with the master key while the database is up).
pub async fn generate_key(server: &Server, alias: &str) -> String {
    let resp = client()
        .post(server.url("/key/generate"))
        .bearer_auth(MASTER_KEY)
        .json(&json!({"key_alias": alias}))
        .send()
        .await
        .expect("POST /key/generate");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    body["key"].as_str().expect("key").to_string()
}

pub async fn chat(server: &Server, key: &str) -> reqwest::Response {
    client()
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&chat_body("mock", "hi", false))
        .send()
        .await
        .expect("POST /v1/chat/completions")
}

/// The value of the sample `series` on a `/metrics` page.
pub fn metric(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

pub async fn metric_now(server: &Server, series: &str) -> f64 {
    let page = metrics_text(server).await;
    metric(&page, series).unwrap_or_else(|| panic!("{series} is not on /metrics:\n{page}"))
}

/// Polls `/metrics` until `series` has `value`, for at most `within`.
pub async fn wait_metric(server: &Server, series: &str, value: f64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let now = metric_now(server, series).await;
        if now == value {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{series} is {now}, not {value}, after {within:?}:\n{}",
            metrics_text(server).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Request-log rows of the key with `alias`, read straight from the database.
pub async fn log_rows(database_url: &str, alias: &str) -> i64 {
    let (db, conn) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(conn);
    db.query_one(
        "select count(*) from llmroute_request_logs where key_alias = $1",
        &[&alias],
    )
    .await
    .expect("count request logs")
    .get(0)
}
