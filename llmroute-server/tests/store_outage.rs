//! A database outage seen through the real server: PostgreSQL is reached through a TCP
//! proxy on 127.0.0.1 that the test cuts (every connection closed, new ones refused) and
//! restores; the real database is never stopped. Each test has a database of its own,
//! dropped at the end even when the test fails.
//!
//! Checked: readiness goes 503 and back; cached virtual keys keep working and
//! uncached ones get "database unreachable: key could not be verified"; request logs wait
//! in a queue bounded by `request_log_queue_size`, the overflow is counted on `/metrics`
//! and the rest reach the database; `key_cache_stale_seconds` bounds the stale window.

mod common;
#[path = "../../llmroute-store/tests/common/proxy.rs"]
mod proxy;

use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use common::*;
use futures::FutureExt;
use proxy::Proxy;
use serde_json::{json, Value};

/// Runs `test` with a fresh database (its URL) and drops the database afterwards, also
/// when the test panics.
async fn with_database<F, Fut>(test: F)
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
async fn proxied(url: &str) -> (Proxy, String) {
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
fn config(database_url: &str, extra: &str) -> String {
    format!(
        "model_list:\n  - model_name: mock\n    litellm_params: {{model: mock/echo}}\n\
         general_settings: {{master_key: {MASTER_KEY}, database_url: \"{database_url}\"{extra}}}\n"
    )
}

async fn readiness(server: &Server) -> (u16, Value) {
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
async fn generate_key(server: &Server, alias: &str) -> String {
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

async fn chat(server: &Server, key: &str) -> reqwest::Response {
    client()
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&chat_body("mock", "hi", false))
        .send()
        .await
        .expect("POST /v1/chat/completions")
}

/// The value of the sample `series` on a `/metrics` page.
fn metric(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

async fn metric_now(server: &Server, series: &str) -> f64 {
    let page = metrics_text(server).await;
    metric(&page, series).unwrap_or_else(|| panic!("{series} is not on /metrics:\n{page}"))
}

/// Polls `/metrics` until `series` has `value`, for at most `within`.
async fn wait_metric(server: &Server, series: &str, value: f64, within: Duration) {
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
async fn log_rows(database_url: &str, alias: &str) -> i64 {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_503_naming_the_database_while_it_is_cut_and_200_after() {
    with_database(|url| async move {
        let (proxy, via_proxy) = proxied(&url).await;
        let server = Server::start(&config(&via_proxy, ""));

        let (status, body) = readiness(&server).await;
        assert_eq!((status, &body["db"]), (200, &json!("connected")), "{body}");

        proxy.cut();
        let (status, body) = readiness(&server).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["status"], "unhealthy", "{body}");
        assert_eq!(
            body["db"], "unreachable",
            "the body says the database is at fault: {body}"
        );

        proxy.restore();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (status, body) = readiness(&server).await;
            if status == 200 {
                assert_eq!(body["db"], "connected", "{body}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "still {status} after the restore: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_past_the_queue_bound_are_dropped_and_counted_the_rest_reach_the_database() {
    const BOUND: usize = 5;
    const DURING_CUT: usize = 12;
    with_database(|url| async move {
        let (proxy, via_proxy) = proxied(&url).await;
        // user_api_key_cache_ttl 0: every key check asks the database, so during the cut
        // the cached key is accepted through the stale path, not as a fresh entry.
        let server = Server::start(&config(
            &via_proxy,
            &format!(", request_log_queue_size: {BOUND}, user_api_key_cache_ttl: 0"),
        ));
        assert_eq!(
            metric_now(&server, "llmroute_log_queue_capacity").await,
            BOUND as f64,
            "the configured bound reached the log writer"
        );
        let cached = generate_key(&server, "outage-cached").await;
        let uncached = generate_key(&server, "outage-uncached").await;
        assert_eq!(chat(&server, &cached).await.status(), 200, "verified once");
        wait_metric(
            &server,
            "llmroute_logs_written_total",
            1.0,
            Duration::from_secs(10),
        )
        .await;
        wait_metric(
            &server,
            "llmroute_log_queue_depth",
            0.0,
            Duration::from_secs(10),
        )
        .await;

        proxy.cut();
        let resp = chat(&server, &uncached).await;
        let (status, error) = error_of(resp).await;
        assert_eq!(status, 503, "{error}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("database unreachable: key could not be verified"),
            "{error}"
        );
        for i in 0..DURING_CUT {
            let resp = chat(&server, &cached).await;
            assert_eq!(
                resp.status(),
                200,
                "request {i} on the cached key during the cut"
            );
        }
        // The writer has tried the database (and failed) at least twice, and the rows it
        // tried are still held, not lost.
        let deadline = Instant::now() + Duration::from_secs(10);
        while metric_now(&server, "llmroute_log_write_failures_total").await < 2.0 {
            assert!(
                Instant::now() < deadline,
                "no failed log write during the cut"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let page = metrics_text(&server).await;
        assert_eq!(
            metric(&page, "llmroute_log_queue_depth"),
            Some(BOUND as f64),
            "{page}"
        );
        assert_eq!(
            metric(&page, "llmroute_logs_dropped_total"),
            Some((DURING_CUT - BOUND) as f64),
            "{page}"
        );
        assert_eq!(
            metric(&page, "llmroute_keys_unverifiable_total"),
            Some(1.0),
            "{page}"
        );
        assert!(
            metric(&page, "llmroute_keys_served_stale_total") >= Some(DURING_CUT as f64),
            "the cached key went through the stale path: {page}"
        );

        proxy.restore();
        wait_metric(
            &server,
            "llmroute_log_queue_depth",
            0.0,
            Duration::from_secs(30),
        )
        .await;
        let page = metrics_text(&server).await;
        assert_eq!(
            metric(&page, "llmroute_logs_dropped_total"),
            Some((DURING_CUT - BOUND) as f64),
            "nothing more was dropped: {page}"
        );
        assert_eq!(
            metric(&page, "llmroute_logs_written_total"),
            Some((1 + BOUND) as f64),
            "{page}"
        );
        assert_eq!(
            log_rows(&url, "outage-cached").await,
            1 + BOUND as i64,
            "the row from before the cut and every queued row are in the database"
        );
        assert_eq!(log_rows(&url, "outage-uncached").await, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_cache_stale_seconds_bounds_how_long_a_cached_key_outlives_the_database() {
    const STALE: Duration = Duration::from_secs(3);
    with_database(|url| async move {
        let (proxy, via_proxy) = proxied(&url).await;
        let server = Server::start(&config(
            &via_proxy,
            &format!(
                ", user_api_key_cache_ttl: 0, key_cache_stale_seconds: {}",
                STALE.as_secs()
            ),
        ));
        let key = generate_key(&server, "stale-window").await;
        let verifying = Instant::now();
        assert_eq!(chat(&server, &key).await.status(), 200);

        proxy.cut();
        // Accepted from the cache for STALE after it was verified, then refused; the
        // default window (10 min) would keep it working through this whole test.
        let deadline = verifying + STALE + Duration::from_secs(10);
        let mut accepted_stale = 0;
        let refused_after = loop {
            let resp = chat(&server, &key).await;
            let at = verifying.elapsed();
            if resp.status() == 200 {
                accepted_stale += 1;
                assert!(
                    Instant::now() < deadline,
                    "still accepted {at:?} after verification"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            let (status, error) = error_of(resp).await;
            assert_eq!(status, 503, "{error}");
            assert!(
                error["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("database unreachable: key could not be verified"),
                "{error}"
            );
            break at;
        };
        assert!(
            refused_after >= STALE,
            "refused {refused_after:?} after verification, before the {STALE:?} window ended"
        );
        assert!(
            accepted_stale > 0,
            "the key was served stale during the window first"
        );
        assert_eq!(
            metric_now(&server, "llmroute_keys_served_stale_total").await,
            accepted_stale as f64
        );
        proxy.restore();
    })
    .await;
}
