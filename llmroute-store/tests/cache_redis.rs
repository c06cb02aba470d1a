//! The response cache against real Redis: a hit is served with no second computation
//! (also by another instance), a stream is cached whole and served again as a stream,
//! the opt-outs are honoured, and answers expire with their TTL in both layers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "redis_support/mod.rs"]
mod redis_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use llmroute_core::cache::{
    assemble_stream, cache_control, cache_key, replay_as_chunks, CachedAnswer,
};
use llmroute_core::mock::MockProvider;
use llmroute_core::types::{ChatRequest, ChatResponse, Message};
use llmroute_core::Provider;
use llmroute_store::cache::{Layer, RedisCache, TieredCache};
use llmroute_store::redis::Gate;
use redis_support as rs;

fn instance(prefix: &str) -> TieredCache {
    let gate = Arc::new(Gate::new("cache", "moka alone", Duration::from_secs(1)));
    TieredCache::new(100, RedisCache::new(rs::pool(), prefix), gate, None)
}

fn request(text: &str) -> ChatRequest {
    ChatRequest::new("gpt-4o", vec![Message::user(text)])
}

/// What the server does: look up, else call the upstream and store.
async fn answer(
    cache: &TieredCache,
    upstream: &MockProvider,
    calls: &AtomicUsize,
    req: &ChatRequest,
    header: Option<&str>,
) -> (ChatResponse, bool) {
    let cc = cache_control(header, req);
    let key = cache_key("gpt-4o", req, "");
    if cc.read {
        if let Some(hit) = cache.lookup(&key).await.filter(|a| cc.accepts_age(a.age())) {
            return (hit.response.clone(), true);
        }
    }
    calls.fetch_add(1, Ordering::SeqCst);
    let response = upstream.chat(req).await.unwrap().into_response();
    if cc.write {
        let ttl = cache.ttl_for(&cc);
        cache
            .store(&key, Arc::new(CachedAnswer::new(response.clone())), ttl)
            .await;
    }
    (response, false)
}

#[tokio::test]
async fn a_hit_is_served_without_calling_the_upstream_again_by_any_instance() {
    let prefix = rs::prefix();
    let (a, b) = (instance(&prefix), instance(&prefix));
    let upstream = MockProvider::fixed("gpt-4o", "Paris.");
    let calls = AtomicUsize::new(0);
    let req = request("capital of France?");

    let (first, hit) = answer(&a, &upstream, &calls, &req, None).await;
    assert!(!hit);
    let (again, hit) = answer(&a, &upstream, &calls, &req, None).await;
    assert!(hit);
    assert_eq!(again, first);
    assert_eq!(a.stats().hits(Layer::Moka), 1);

    // Another instance finds it in Redis, then in its own moka.
    let (from_b, hit) = answer(&b, &upstream, &calls, &req, None).await;
    assert!(hit);
    assert_eq!(from_b, first);
    assert_eq!(
        (b.stats().hits(Layer::Redis), b.stats().hits(Layer::Moka)),
        (1, 0)
    );
    let (_, hit) = answer(&b, &upstream, &calls, &req, None).await;
    assert!(hit);
    assert_eq!(b.stats().hits(Layer::Moka), 1);

    // `user` and `stream` do not change the key; the prompt does.
    let mut other_user = req.clone();
    other_user.user = Some("bob".into());
    assert!(answer(&b, &upstream, &calls, &other_user, None).await.1);
    assert!(
        !answer(&b, &upstream, &calls, &request("capital of Spain?"), None)
            .await
            .1
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    let mut text = String::new();
    b.render_prometheus(&mut text);
    assert!(
        text.contains("llmroute_cache_hits_total{layer=\"redis\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("llmroute_cache_hits_total{layer=\"moka\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("llmroute_cache_misses_total{layer=\"redis\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("llmroute_cache_redis_errors_total 0"),
        "{text}"
    );
    rs::cleanup(&prefix).await;
}

#[tokio::test]
async fn a_stream_is_cached_whole_and_served_again_as_a_stream() {
    let prefix = rs::prefix();
    let (a, b) = (instance(&prefix), instance(&prefix));
    let upstream = MockProvider::fixed("gpt-4o", "one two three four");
    let mut req = request("count to four");
    req.stream = Some(true);
    let key = cache_key("gpt-4o", &req, "");

    let mut stream = upstream.chat_stream(&req).await.unwrap().chunks;
    let mut chunks = Vec::new();
    while let Some(c) = stream.next().await {
        chunks.push(c.unwrap());
    }
    assert!(chunks.len() > 2, "the mock streams word by word");
    let whole = assemble_stream(&chunks);
    assert_eq!(whole.first_text(), Some("one two three four"));
    a.store(
        &key,
        Arc::new(CachedAnswer::new(whole.clone())),
        Duration::from_secs(60),
    )
    .await;

    // A non-streaming caller of another instance gets the whole answer ...
    let mut plain = req.clone();
    plain.stream = None;
    let hit = b
        .lookup(&cache_key("gpt-4o", &plain, ""))
        .await
        .expect("cached");
    assert_eq!(hit.response, whole);
    // ... and a streaming caller gets chunks that add up to it.
    let replay = replay_as_chunks(&hit.response, true);
    assert!(replay.iter().all(|c| c.object == "chat.completion.chunk"));
    assert_eq!(replay.last().and_then(|c| c.usage.clone()), whole.usage);
    assert_eq!(assemble_stream(&replay), whole);
    rs::cleanup(&prefix).await;
}

#[tokio::test]
async fn opt_outs_are_honoured() {
    let prefix = rs::prefix();
    let (a, b) = (instance(&prefix), instance(&prefix));
    let upstream = MockProvider::echo("gpt-4o");
    let calls = AtomicUsize::new(0);
    let req = request("hello");

    // no-store: answered, nothing stored anywhere.
    assert!(
        !answer(&a, &upstream, &calls, &req, Some("no-store"))
            .await
            .1
    );
    assert!(rs::keys(&prefix).await.is_empty());
    assert!(!answer(&a, &upstream, &calls, &req, None).await.1);
    assert_eq!(rs::keys(&prefix).await.len(), 1);
    // no-cache: the upstream is asked although the answer is cached (and it is stored again).
    assert!(
        !answer(&b, &upstream, &calls, &req, Some("no-cache"))
            .await
            .1
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // LiteLLM's body field works the same.
    let mut body_opt_out = req.clone();
    body_opt_out
        .extra
        .insert("cache".into(), serde_json::json!({"no-cache": true}));
    assert!(!answer(&b, &upstream, &calls, &body_opt_out, None).await.1);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    // And without an opt-out it is a hit.
    assert!(answer(&b, &upstream, &calls, &req, None).await.1);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    rs::cleanup(&prefix).await;
}

#[tokio::test]
async fn answers_expire_with_their_ttl_in_both_layers() {
    let prefix = rs::prefix();
    let (a, b) = (instance(&prefix), instance(&prefix));
    let answer = Arc::new(CachedAnswer::new(ChatResponse {
        id: "c1".into(),
        ..Default::default()
    }));
    a.store("k", answer.clone(), Duration::from_millis(400))
        .await;
    // b copies it into its moka with the remaining lifetime.
    assert!(b.lookup("k").await.is_some());
    assert!(a.lookup("k").await.is_some());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(a.lookup("k").await.is_none(), "expired in a's moka");
    assert!(
        b.lookup("k").await.is_none(),
        "expired in b's moka and in Redis"
    );
    assert!(rs::keys(&prefix).await.is_empty(), "Redis expired it");
    // A request's own ttl is used when it is shorter than the configured one, and capped
    // at the configured one when it is longer.
    let ttl_of = |secs: f64| {
        let req = serde_json::json!({"messages": [], "cache": {"ttl": secs}});
        a.ttl_for(&cache_control(None, &serde_json::from_value(req).unwrap()))
    };
    let default = a.default_ttl();
    assert_eq!(ttl_of(default.as_secs_f64() / 2.0), default / 2);
    assert_eq!(ttl_of(default.as_secs_f64() * 1000.0), default);
    assert_eq!(a.ttl_for(&Default::default()), default);
    rs::cleanup(&prefix).await;
}
