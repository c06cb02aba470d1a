//! Shared counters against real Redis: two instances (two connections) see one rpm
//! window per key and per deployment, one instance's cooldown is seen by the other, and
//! two routers over one Redis route on the same numbers — over bare `RedisCounters` and
//! over the stack the server runs (`BatchedCounters` over the in-process fallback over
//! `RedisCounters`, as `redis::connect_with` builds it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "redis_support/mod.rs"]
mod redis_support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use llmroute_core::config::CacheSettings;
use llmroute_core::limits::{KeyRateLimiter, RATE_WINDOW};
use llmroute_core::mock::MockProvider;
use llmroute_core::router::DeploymentLimits;
use llmroute_core::types::{ChatRequest, Message};
use llmroute_core::{ChatStream, Completion, Counters, Error, Provider, Router};
use llmroute_store::redis::{
    connect_with, BatchedCounters, RedisCounters, RedisOptions, RedisRateLimiter, SNAPSHOT_REUSE,
    STALE_LIMIT,
};
use redis_support as rs;

#[tokio::test]
async fn a_keys_rpm_and_tpm_are_shared_by_two_instances() {
    let prefix = rs::prefix();
    let a = RedisRateLimiter::new(rs::pool(), &prefix);
    let b = RedisRateLimiter::new(rs::pool(), &prefix);
    for i in 0..5 {
        let l = if i % 2 == 0 { &a } else { &b };
        l.admit("key1", Some(5), None, 10)
            .await
            .expect("under the limit");
    }
    for l in [&a, &b] {
        let e = l.admit("key1", Some(5), None, 10).await.unwrap_err();
        assert_eq!(e.status(), 429);
        let wait = e.retry_after().expect("retry-after");
        assert!(
            wait <= RATE_WINDOW && wait > RATE_WINDOW - Duration::from_secs(5),
            "{wait:?}"
        );
        assert!(e.to_string().contains("rpm limit of 5"), "{e}");
    }
    // Other keys, and keys without limits, are not affected.
    a.admit("key2", Some(5), None, 10).await.unwrap();
    a.admit("key1", None, None, 10).await.unwrap();

    // tpm: estimates count, corrections apply on every instance.
    a.admit("key3", None, Some(100), 80).await.unwrap();
    assert!(b.admit("key3", None, Some(100), 30).await.is_err());
    b.adjust_tokens("key3", -60).await.unwrap();
    a.admit("key3", None, Some(100), 30).await.unwrap();

    // Concurrent admissions never overshoot.
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let l = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { l.admit("key4", Some(10), None, 1).await.is_ok() })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        admitted += usize::from(t.await.unwrap());
    }
    assert_eq!(admitted, 10);
    rs::cleanup(&prefix).await;
}

#[tokio::test]
async fn deployment_usage_failures_and_cooldowns_are_shared() {
    let prefix = rs::prefix();
    let a = RedisCounters::new(rs::pool(), &prefix);
    let b = RedisCounters::new(rs::pool(), &prefix);
    a.add_usage("d1", 1, 100).await.unwrap();
    b.add_usage("d1", 2, 50).await.unwrap();
    let s = b.snapshot(&["d1", "d2"]).await.unwrap();
    assert_eq!((s[0].requests, s[0].tokens, s[0].cooldown), (3, 150, None));
    assert_eq!((s[1].requests, s[1].tokens, s[1].cooldown), (0, 0, None));
    assert!(a.snapshot(&[]).await.unwrap().is_empty());

    let w = Duration::from_secs(60);
    assert_eq!(a.add_failure("d1", w).await.unwrap(), 1);
    assert_eq!(b.add_failure("d1", w).await.unwrap(), 2);

    a.cool_down("d1", Duration::from_secs(30)).await.unwrap();
    b.cool_down("d1", Duration::from_secs(2)).await.unwrap(); // a longer one is kept
    let cd = b.snapshot(&["d1"]).await.unwrap()[0]
        .cooldown
        .expect("cooling down");
    assert!(
        cd > Duration::from_secs(29) && cd <= Duration::from_secs(30),
        "{cd:?}"
    );

    // A short cooldown ends for everyone.
    a.cool_down("d2", Duration::from_millis(200)).await.unwrap();
    assert!(b.snapshot(&["d2"]).await.unwrap()[0].cooldown.is_some());
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(b.snapshot(&["d2"]).await.unwrap()[0].cooldown, None);
    rs::cleanup(&prefix).await;
}

/// An upstream that answers every request with a 429.
struct AlwaysThrottled;

#[async_trait]
impl Provider for AlwaysThrottled {
    fn name(&self) -> &str {
        "throttled"
    }
    async fn chat(&self, _: &ChatRequest) -> llmroute_core::Result<Completion> {
        Err(Error::RateLimited {
            message: "upstream 429".into(),
            retry_after: Some(Duration::from_secs(30)),
            upstream: true,
        })
    }
    async fn chat_stream(&self, _: &ChatRequest) -> llmroute_core::Result<ChatStream> {
        Err(Error::RateLimited {
            message: "upstream 429".into(),
            retry_after: Some(Duration::from_secs(30)),
            upstream: true,
        })
    }
    async fn health(&self) -> llmroute_core::Result<Duration> {
        Ok(Duration::ZERO)
    }
}

fn limits(id: &str, order: u32, rpm: Option<u64>) -> DeploymentLimits {
    DeploymentLimits {
        id: Some(id.into()),
        order: Some(order),
        rpm,
        ..Default::default()
    }
}

/// A router ("a server") with deployment `a` (preferred) and `b`, over bare
/// `RedisCounters`.
fn router(prefix: &str, a: Arc<dyn Provider>, a_rpm: Option<u64>) -> Router {
    let counters: Arc<dyn Counters> = Arc::new(RedisCounters::new(rs::pool(), prefix));
    router_over(counters, a, a_rpm)
}

/// A router as the server builds it: its own connection to Redis, counters
/// `BatchedCounters(FallbackCounters(RedisCounters))`.
async fn server_router(prefix: &str, a: Arc<dyn Provider>, a_rpm: Option<u64>) -> Router {
    let handles = connect_with(
        &rs::settings(&rs::url()),
        &CacheSettings::default(),
        prefix,
        RedisOptions::default(),
    )
    .await
    .expect("connect");
    assert!(
        handles.describe().starts_with("Redis at"),
        "{}",
        handles.describe()
    );
    let counters: Arc<dyn Counters> = Arc::new(BatchedCounters::new(handles.counters.clone()));
    router_over(counters, a, a_rpm)
}

fn router_over(counters: Arc<dyn Counters>, a: Arc<dyn Provider>, a_rpm: Option<u64>) -> Router {
    Router::builder()
        .deployment("m", a, limits("a", 1, a_rpm))
        .deployment(
            "m",
            Arc::new(MockProvider::fixed("b", "from b")),
            limits("b", 2, None),
        )
        .allowed_fails(1)
        .cooldown_time(Duration::from_secs(30))
        .counters(counters)
        .build()
        .unwrap()
}

async fn ask(r: &Router) -> String {
    let req = ChatRequest::new("m", vec![Message::user("hi")]);
    let done = r.chat(&req).await.unwrap();
    done.value.response().first_text().unwrap().to_string()
}

#[tokio::test]
async fn two_routers_share_a_deployments_rpm() {
    let prefix = rs::prefix();
    let a: Arc<dyn Provider> = Arc::new(MockProvider::fixed("a", "from a"));
    let (one, two) = (
        router(&prefix, a.clone(), Some(3)),
        router(&prefix, a, Some(3)),
    );
    assert_eq!(ask(&one).await, "from a");
    assert_eq!(ask(&two).await, "from a");
    assert_eq!(ask(&one).await, "from a");
    // `a` took its 3 requests this minute, across both routers.
    assert_eq!(ask(&two).await, "from b");
    assert_eq!(ask(&one).await, "from b");
    rs::cleanup(&prefix).await;
}

/// Asserts that `router` sees deployment `a` cooling down for more than 20 s.
async fn assert_a_cooling_down(router: &Router) {
    let usage = router.usage().await;
    let a_cd = usage
        .iter()
        .find(|(id, _)| id == "a")
        .and_then(|(_, u)| u.cooldown);
    assert!(
        a_cd.is_some_and(|cd| cd > Duration::from_secs(20)),
        "{usage:?}"
    );
}

#[tokio::test]
async fn one_routers_429_cools_the_deployment_down_for_the_other() {
    let prefix = rs::prefix();
    let throttled = router(&prefix, Arc::new(AlwaysThrottled), None);
    let healthy = router(&prefix, Arc::new(MockProvider::fixed("a", "from a")), None);
    assert_eq!(ask(&healthy).await, "from a");
    // On the first router `a` answers 429: it cools down and `b` answers.
    assert_eq!(ask(&throttled).await, "from b");
    // The second router sees the cooldown and does not use `a`.
    assert_eq!(ask(&healthy).await, "from b");
    assert_a_cooling_down(&healthy).await;
    rs::cleanup(&prefix).await;
}

/// Long enough for another instance's batched usage to reach Redis (one flush) and for
/// this instance's snapshot to be past `STALE_LIMIT`, so its next request asks Redis (a
/// snapshot only stale is used while a fresh one is fetched: on a quiet instance the
/// other's change shows within `STALE_LIMIT`).
const SHARED_LAG: Duration =
    Duration::from_millis((STALE_LIMIT.as_millis() + 2 * SNAPSHOT_REUSE.as_millis()) as u64);

#[tokio::test]
async fn on_the_servers_stack_two_routers_share_a_deployments_rpm() {
    let prefix = rs::prefix();
    let a: Arc<dyn Provider> = Arc::new(MockProvider::fixed("a", "from a"));
    let one = server_router(&prefix, a.clone(), Some(3)).await;
    let two = server_router(&prefix, a, Some(3)).await;

    // A quick burst on one instance: its own unsent requests count at once.
    for _ in 0..3 {
        assert_eq!(ask(&one).await, "from a");
    }
    assert_eq!(
        ask(&one).await,
        "from b",
        "a's rpm of 3 held inside one instance"
    );
    // The other instance sees them once sent.
    tokio::time::sleep(SHARED_LAG).await;
    assert_eq!(ask(&two).await, "from b");
    assert_eq!(ask(&one).await, "from b");

    // Split across the two: 2 on one, then 1 on two, and `a` is full for both.
    let prefix2 = rs::prefix();
    let a: Arc<dyn Provider> = Arc::new(MockProvider::fixed("a", "from a"));
    let one = server_router(&prefix2, a.clone(), Some(3)).await;
    let two = server_router(&prefix2, a, Some(3)).await;
    assert_eq!(ask(&one).await, "from a");
    assert_eq!(ask(&one).await, "from a");
    tokio::time::sleep(SHARED_LAG).await;
    assert_eq!(ask(&two).await, "from a");
    assert_eq!(ask(&two).await, "from b");
    tokio::time::sleep(SHARED_LAG).await;
    assert_eq!(ask(&one).await, "from b");
    let s = RedisCounters::new(rs::pool(), &prefix2)
        .snapshot(&["a"])
        .await
        .unwrap();
    assert_eq!(s[0].requests, 3, "Redis holds every request, counted once");

    tokio::time::sleep(SHARED_LAG).await;
    rs::cleanup(&prefix).await;
    rs::cleanup(&prefix2).await;
}

#[tokio::test]
async fn on_the_servers_stack_one_routers_429_cools_the_deployment_down_for_the_other() {
    let prefix = rs::prefix();
    let throttled = server_router(&prefix, Arc::new(AlwaysThrottled), None).await;
    let healthy = server_router(&prefix, Arc::new(MockProvider::fixed("a", "from a")), None).await;
    assert_eq!(ask(&healthy).await, "from a");
    // On the first router `a` answers 429: it cools down and `b` answers.
    assert_eq!(ask(&throttled).await, "from b");
    let own = throttled.usage().await;
    assert!(
        own.iter().any(|(id, u)| id == "a" && u.cooldown.is_some()),
        "the instance that saw the 429 knows at once: {own:?}"
    );
    // The second router sees the cooldown within the snapshot reuse and avoids `a`.
    tokio::time::sleep(SHARED_LAG).await;
    assert_eq!(ask(&healthy).await, "from b");
    assert_a_cooling_down(&healthy).await;
    tokio::time::sleep(SHARED_LAG).await;
    rs::cleanup(&prefix).await;
}
