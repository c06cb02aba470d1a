//! A Redis outage never fails a call. Each test starts its own `redis-server` on a free
//! port: stopped mid-run, every call still answers (in process) without waiting on
//! Redis; restarted on the same port, Redis is used again. A Redis that hangs costs at
//! most the command timeout, once per retry period.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "redis_support/mod.rs"]
mod redis_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use llmroute_core::cache::CachedAnswer;
use llmroute_core::config::CacheSettings;
use llmroute_core::keys::VirtualKey;
use llmroute_core::limits::KeyRateLimiter;
use llmroute_core::types::ChatResponse;
use llmroute_core::Counters;
use llmroute_store::budget::BudgetReserver;
use llmroute_store::redis::{connect_with, RedisHandles, RedisOptions};
use redis_support as rs;

fn options() -> RedisOptions {
    RedisOptions {
        retry_every: Duration::from_millis(200),
        ..RedisOptions::default()
    }
}

fn budget_key() -> VirtualKey {
    VirtualKey {
        token_hash: "kb".into(),
        max_budget: Some(100.0),
        ..Default::default()
    }
}

fn answer(id: &str) -> Arc<CachedAnswer> {
    Arc::new(CachedAnswer::new(ChatResponse {
        id: id.into(),
        ..Default::default()
    }))
}

/// One request's worth of calls on every component; each must answer.
async fn one_request(h: &RedisHandles, i: usize) {
    h.rate_limiter
        .admit("kr", Some(1_000_000), None, 10)
        .await
        .expect("admitted");
    h.counters.snapshot(&["d1"]).await.expect("snapshot");
    h.counters.add_usage("d1", 1, 10).await.expect("usage");
    let r = h
        .budgets
        .reserve(&budget_key(), 0.001)
        .await
        .expect("reserved");
    h.budgets.settle(r, 0.001).await;
    h.cache.lookup(&format!("miss-{i}")).await;
}

async fn own_keys(own: &rs::OwnRedis, prefix: &str) -> Vec<String> {
    let client = redis::Client::open(own.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut c)
        .await
        .unwrap();
    keys.sort();
    keys
}

#[tokio::test]
async fn stopped_mid_run_every_call_answers_and_restarted_redis_is_used_again() {
    let mut own = rs::OwnRedis::start().await;
    let prefix = rs::prefix();
    let h = connect_with(
        &rs::settings(&own.url()),
        &CacheSettings::default(),
        &prefix,
        options(),
    )
    .await
    .unwrap();
    assert!(
        h.describe()
            .starts_with(&format!("Redis at 127.0.0.1:{}", own.port)),
        "{}",
        h.describe()
    );

    one_request(&h, 0).await;
    h.cache
        .store("answer-1", answer("a1"), Duration::from_secs(60))
        .await;
    h.counters
        .cool_down("d1", Duration::from_secs(30))
        .await
        .unwrap();
    let shared = own_keys(&own, &prefix).await;
    let suffixes = |keys: &[String]| {
        let mut s: Vec<String> = keys.iter().map(|k| k[prefix.len()..].to_string()).collect();
        s.sort();
        s
    };
    assert_eq!(
        suffixes(&shared),
        [
            ":budget:kb",
            ":cache:answer-1",
            ":dep:d1:c",
            ":dep:d1:u",
            ":key:kr:rl"
        ],
        "usage, cooldown, rate window, budget (reservations settled), cache"
    );

    // Redis goes away.
    own.stop();
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for i in 0..50 {
        let t = Instant::now();
        one_request(&h, i).await;
        slowest = slowest.max(t.elapsed());
    }
    let total = started.elapsed();
    eprintln!("Redis down: 50 requests in {total:?}, slowest {slowest:?}");
    assert!(
        slowest < Duration::from_millis(700),
        "slowest request {slowest:?}"
    );
    assert!(total < Duration::from_secs(3), "50 requests took {total:?}");
    // Limits still hold, per instance.
    for _ in 0..3 {
        h.rate_limiter.admit("kr2", Some(3), None, 1).await.unwrap();
    }
    assert_eq!(
        h.rate_limiter
            .admit("kr2", Some(3), None, 1)
            .await
            .unwrap_err()
            .status(),
        429
    );
    // The cache still serves its in-process copy, and stores new answers in process.
    assert!(h.cache.lookup("answer-1").await.is_some());
    h.cache
        .store("answer-2", answer("a2"), Duration::from_secs(60))
        .await;
    assert!(h.cache.lookup("answer-2").await.is_some());
    for c in ["counters", "rate_limiter", "budgets", "cache"] {
        let g = h.stats.gate(c).unwrap();
        assert!(g.is_down() && g.fallbacks() > 0 && g.errors() >= 1, "{c}");
        assert!(
            g.errors() <= 15,
            "{c}: Redis tried {} times in {total:?}",
            g.errors()
        );
    }
    let mut text = String::new();
    h.render_prometheus(&mut text);
    assert!(
        text.contains("llmroute_redis_up{component=\"counters\"} 0"),
        "{text}"
    );
    assert!(
        !text.contains("llmroute_redis_fallbacks_total{component=\"budgets\"} 0"),
        "{text}"
    );
    assert!(
        !text.contains("llmroute_cache_redis_errors_total 0"),
        "{text}"
    );

    // Redis is back (empty, on the same port): within a few retry periods it is used again.
    own.restart().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut i = 100;
    while ["counters", "rate_limiter", "budgets", "cache"]
        .iter()
        .any(|c| h.stats.gate(c).unwrap().is_down())
    {
        assert!(
            Instant::now() < deadline,
            "Redis not used again after its restart"
        );
        one_request(&h, i).await;
        i += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    one_request(&h, i).await;
    h.cache
        .store("answer-3", answer("a3"), Duration::from_secs(60))
        .await;
    let keys = own_keys(&own, &prefix).await;
    assert_eq!(
        suffixes(&keys),
        [":budget:kb", ":cache:answer-3", ":dep:d1:u", ":key:kr:rl"],
        "a new, empty Redis is filled again"
    );
    let mut text = String::new();
    h.render_prometheus(&mut text);
    assert!(
        text.contains("llmroute_redis_up{component=\"budgets\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn a_hung_redis_costs_at_most_the_timeout_once_per_retry_period() {
    let own = rs::OwnRedis::start().await;
    let prefix = rs::prefix();
    let h = connect_with(
        &rs::settings(&own.url()),
        &CacheSettings::default(),
        &prefix,
        options(),
    )
    .await
    .unwrap();
    one_request(&h, 0).await;
    own.signal("-STOP");
    let timeout = options().command_timeout;
    let t = Instant::now();
    h.counters.add_usage("d1", 1, 1).await.unwrap();
    let first = t.elapsed();
    eprintln!("Redis hung: first call {first:?}");
    assert!(
        first >= timeout && first < timeout + Duration::from_millis(300),
        "{first:?}"
    );
    // Within the retry period the others do not wait at all.
    let t = Instant::now();
    for _ in 0..20 {
        h.counters.add_usage("d1", 1, 1).await.unwrap();
    }
    assert!(t.elapsed() < Duration::from_millis(50), "{:?}", t.elapsed());
    own.signal("-CONT");
}

#[tokio::test]
async fn a_redis_that_is_down_at_start_up_is_reported_and_served_in_process() {
    let mut own = rs::OwnRedis::start().await;
    let url = own.url();
    own.stop();
    let prefix = rs::prefix();
    let h = connect_with(
        &rs::settings(&url),
        &CacheSettings::default(),
        &prefix,
        options(),
    )
    .await
    .expect("an unreachable Redis is not fatal");
    assert!(
        h.describe().contains("not answering yet"),
        "{}",
        h.describe()
    );
    one_request(&h, 0).await;
    // A URL that cannot work is fatal, with the origin and without the password.
    let e = connect_with(
        &rs::settings("http://:hunter2@cache.internal:6379"),
        &CacheSettings::default(),
        &prefix,
        options(),
    )
    .await
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("LLMROUTE_TEST_REDIS_URL") && msg.contains("rediss://"),
        "{msg}"
    );
    assert!(!msg.contains("hunter2"), "{msg}");
}
