//! A database outage seen through the real server: PostgreSQL is reached through a TCP
//! proxy on 127.0.0.1 that the test cuts (every connection closed, new ones refused) or
//! stalls (connections open, no bytes pass); the real database is never stopped. Each
//! test has a database of its own, dropped at the end even when the test fails.
//!
//! Checked: readiness goes 503 and back; cached virtual keys keep working and
//! uncached ones get "database unreachable: key could not be verified"; request logs wait
//! in a queue bounded by `request_log_queue_size`, the overflow is counted on `/metrics`
//! and the rest reach the database; `key_cache_stale_seconds` bounds the stale window; a
//! database that hangs costs a request no more than the key lookup's timeout.

mod common;
#[path = "../../llmroute-store/tests/common/proxy.rs"]
mod proxy;
#[path = "store_outage/support.rs"]
mod support;

use std::time::{Duration, Instant};

use common::*;
use proxy::Proxy;
use serde_json::json;
use support::*;

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
        verify_once(&server, &cached).await;
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

/// The server's key lookup timeout (`KeyAuthConfig::db_timeout`, fixed at 500 ms).
const DB_TIMEOUT: Duration = Duration::from_millis(500);
/// Readiness waits this long for the database.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);
/// How long an admin call waits on the database (`ADMIN_STORE_TIMEOUT` in http/admin/mod.rs).
const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Slack for the machine (two cores shared by parallel tests).
const MARGIN: Duration = Duration::from_secs(1);

/// A server on `url` through a proxy, with `user_api_key_cache_ttl: 0` (every request asks
/// the database for its key, so a used key goes through the lookup and its timeout, not
/// the fresh cache), and two keys: `<prefix>-used`, verified by one request whose log
/// is written, and `<prefix>-unseen`, never used.
async fn two_keys_one_verified(url: &str, prefix: &str) -> (Proxy, Server, String, String) {
    let (proxy, via_proxy) = proxied(url).await;
    let server = Server::start(&config(&via_proxy, ", user_api_key_cache_ttl: 0"));
    let used = generate_key(&server, &format!("{prefix}-used")).await;
    let unseen = generate_key(&server, &format!("{prefix}-unseen")).await;
    verify_once(&server, &used).await;
    (proxy, server, used, unseen)
}

/// One request on `key` (200: the key is verified and cached), then a wait until its log
/// row is written (the first one the server writes).
async fn verify_once(server: &Server, key: &str) {
    assert_eq!(chat(server, key).await.status(), 200, "verified once");
    wait_metric(
        server,
        "llmroute_logs_written_total",
        1.0,
        Duration::from_secs(10),
    )
    .await;
}

/// `GET /key/list` while the database does not answer: how long the 503 took, and its
/// message.
async fn admin_call_refused(server: &Server) -> (Duration, String) {
    let asked = Instant::now();
    let listed = client()
        .get(server.url("/key/list"))
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .expect("key list");
    let took = asked.elapsed();
    let (status, error) = error_of(listed).await;
    assert_eq!(status, 503, "{error}");
    (
        took,
        error["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_database_costs_a_request_no_more_than_the_lookup_timeout() {
    with_database(|url| async move {
        let (proxy, server, used, unseen) = two_keys_one_verified(&url, "stall").await;

        proxy.stall();
        let asked = Instant::now();
        let (status, error) = error_of(chat(&server, &unseen).await).await;
        let took = asked.elapsed();
        assert_eq!(status, 503, "{error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap_or_default()
                .contains("database unreachable: key could not be verified"),
            "{error}"
        );
        assert!(
            took >= DB_TIMEOUT && took < DB_TIMEOUT + MARGIN,
            "an unverifiable key is refused after the lookup timeout ({DB_TIMEOUT:?}), not at once and not later: {took:?}"
        );
        const USED_DURING_STALL: usize = 3;
        for i in 0..USED_DURING_STALL {
            let asked = Instant::now();
            let resp = chat(&server, &used).await;
            let took = asked.elapsed();
            assert_eq!(resp.status(), 200, "request {i} on the used key");
            assert!(
                took < Duration::from_secs(1),
                "request {i} on the used key took {took:?} with the database stalled"
            );
        }
        let asked = Instant::now();
        let (status, body) = readiness(&server).await;
        let took = asked.elapsed();
        assert_eq!((status, &body["db"]), (503, &json!("unreachable")), "{body}");
        assert!(
            took >= READINESS_TIMEOUT && took < READINESS_TIMEOUT + MARGIN,
            "readiness answers after its own timeout: {took:?}"
        );
        // An admin call waits on the database no longer than its own timeout (the pool's
        // connect timeout usually answers first; the admin timeout bounds the rest).
        let (took, message) = admin_call_refused(&server).await;
        assert!(
            message.contains("PostgreSQL unreachable") || message.contains("did not answer within"),
            "{message}"
        );
        assert!(
            took < ADMIN_TIMEOUT + MARGIN,
            "the admin call gives up within its timeout ({ADMIN_TIMEOUT:?}): {took:?}"
        );
        // The requests' logs wait in the queue; nothing reached the database.
        wait_metric(
            &server,
            "llmroute_log_queue_depth",
            USED_DURING_STALL as f64,
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(metric_now(&server, "llmroute_logs_written_total").await, 1.0);
        assert_eq!(metric_now(&server, "llmroute_logs_dropped_total").await, 0.0);
        assert_eq!(log_rows(&url, "stall-used").await, 1, "read around the proxy");

        proxy.resume();
        wait_metric(&server, "llmroute_log_queue_depth", 0.0, Duration::from_secs(15)).await;
        assert_eq!(
            log_rows(&url, "stall-used").await,
            1 + USED_DURING_STALL as i64,
            "every request made during the stall was written after it"
        );
        let (status, body) = readiness(&server).await;
        assert_eq!((status, &body["db"]), (200, &json!("connected")), "{body}");
        assert_eq!(
            chat(&server, &unseen).await.status(),
            200,
            "the unseen key is verified once the database answers"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_went_silent_cost_one_timeout_each_then_new_ones_are_used() {
    with_database(|url| async move {
        let (proxy, server, used, unseen) = two_keys_one_verified(&url, "silent").await;

        // The connections open now never answer again (a failover whose old primary
        // vanished: no reset, no reply); new connections reach the database.
        proxy.stall_open();
        let stalled = Instant::now();
        // An admin call drawn onto a silent connection gives up after its own timeout.
        let (took, message) = admin_call_refused(&server).await;
        assert!(message.contains("did not answer within 5 s"), "{message}");
        assert!(
            took >= ADMIN_TIMEOUT && took < ADMIN_TIMEOUT + MARGIN,
            "the admin call gives up after its timeout ({ADMIN_TIMEOUT:?}): {took:?}"
        );
        assert_eq!(chat(&server, &used).await.status(), 200, "served stale at worst");
        // Each silent connection costs one lookup its timeout (503 for a key never
        // verified) and is closed; then a new connection verifies the key.
        loop {
            let resp = chat(&server, &unseen).await;
            if resp.status() == 200 {
                break;
            }
            let (status, error) = error_of(resp).await;
            assert_eq!(status, 503, "{error}");
            assert!(
                stalled.elapsed() < Duration::from_secs(20),
                "the unseen key is still refused {:?} after the old connections went silent: {error}",
                stalled.elapsed()
            );
        }
        // From then on no lookup waits on a silent connection (each used to cost
        // DB_TIMEOUT, for as long as the operating system kept the socket).
        const AFTER: usize = 5;
        for i in 0..AFTER {
            let asked = Instant::now();
            let resp = chat(&server, &unseen).await;
            let took = asked.elapsed();
            assert_eq!(resp.status(), 200, "request {i}");
            assert!(took < DB_TIMEOUT, "request {i} took {took:?}");
        }
        let (status, body) = readiness(&server).await;
        assert_eq!((status, &body["db"]), (200, &json!("connected")), "{body}");
        // A log write stuck on a silent connection is given up after 5 s and retried.
        wait_metric(&server, "llmroute_log_queue_depth", 0.0, Duration::from_secs(15)).await;
        assert_eq!(log_rows(&url, "silent-used").await, 2);
        assert_eq!(log_rows(&url, "silent-unseen").await, 1 + AFTER as i64);
    })
    .await;
}
