//! Streams fail over until their first chunk arrives, and never after.

mod router_support;

use std::time::Duration;

use llmroute_core::router::{DeploymentLimits, Router};
use llmroute_core::Error;
use router_support::{
    collect_text, primary_and_backup, primary_and_backup_builder, request, tier, unavailable,
    Scripted, Step,
};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn a_stream_that_fails_to_open_fails_over() {
    let a = Scripted::new("a", Step::Fail(unavailable()));
    let b = Scripted::new("b", Step::Answer("from b"));
    let router = primary_and_backup(a.clone(), b.clone());
    let routed = router
        .chat_stream(&request("gpt-4o"))
        .await
        .expect("b streams");
    assert_eq!((routed.deployment.as_str(), routed.attempts), ("b", 2));
    let (text, error) = collect_text(routed.value).await;
    assert_eq!((text.as_str(), error.is_none()), ("from b", true));
}

#[tokio::test(start_paused = true)]
async fn a_stream_whose_first_item_is_an_error_fails_over() {
    let a = Scripted::new("a", Step::FirstChunkFails(unavailable()));
    let b = Scripted::new("b", Step::Answer("from b"));
    let router = primary_and_backup(a.clone(), b.clone());
    let routed = router
        .chat_stream(&request("gpt-4o"))
        .await
        .expect("b streams");
    assert_eq!((routed.deployment.as_str(), routed.attempts), ("b", 2));
    assert_eq!(collect_text(routed.value).await.0, "from b");
    assert_eq!(a.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn no_first_chunk_within_stream_timeout_fails_over() {
    let a = Scripted::new("a", Step::SlowFirstChunk(Duration::from_secs(10), "late a"));
    let b = Scripted::new(
        "b",
        Step::SlowFirstChunk(Duration::from_millis(200), "from b"),
    );
    let router = primary_and_backup_builder(a.clone(), b.clone())
        .stream_timeout(Duration::from_secs(1))
        .build()
        .expect("router");
    let started = Instant::now();
    let routed = router
        .chat_stream(&request("gpt-4o"))
        .await
        .expect("b streams");
    assert_eq!(
        started.elapsed(),
        Duration::from_millis(1200),
        "1 s waiting on a, 200 ms for b's first chunk"
    );
    assert_eq!(routed.upstream_time, Duration::from_millis(1200));
    assert_eq!((routed.deployment.as_str(), routed.attempts), ("b", 2));
    assert_eq!(collect_text(routed.value).await.0, "from b");
}

#[tokio::test(start_paused = true)]
async fn a_deployment_stream_timeout_overrides_the_routers() {
    let a = Scripted::new("a", Step::SlowFirstChunk(Duration::from_secs(2), "a"));
    let b = Scripted::new("b", Step::Answer("b"));
    let router = Router::builder()
        .deployment(
            "gpt-4o",
            a.clone(),
            DeploymentLimits {
                stream_timeout: Some(Duration::from_millis(500)),
                ..tier("a", 1)
            },
        )
        .deployment("gpt-4o", b.clone(), tier("b", 2))
        .stream_timeout(Duration::from_secs(5))
        .build()
        .expect("router");
    let started = Instant::now();
    let routed = router
        .chat_stream(&request("gpt-4o"))
        .await
        .expect("b streams");
    assert_eq!(
        (routed.deployment.as_str(), started.elapsed()),
        ("b", Duration::from_millis(500))
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_first_chunk_without_stream_timeout_is_waited_for() {
    let a = Scripted::new(
        "a",
        Step::SlowFirstChunk(Duration::from_secs(3), "slow but fine"),
    );
    let router = Router::builder()
        .deployment("gpt-4o", a.clone(), tier("a", 1))
        .build()
        .expect("router");
    let routed = router
        .chat_stream(&request("gpt-4o"))
        .await
        .expect("a streams");
    assert_eq!(routed.upstream_time, Duration::from_secs(3));
    assert_eq!(collect_text(routed.value).await.0, "slow but fine");
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_breaks_after_its_first_chunk_is_never_retried() {
    let a = Scripted::new(
        "a",
        Step::BreaksAfterFirst(Error::UpstreamConnection {
            message: "connection reset".into(),
        }),
    );
    let b = Scripted::new("b", Step::Answer("from b"));
    let router = primary_and_backup_builder(a.clone(), b.clone())
        .num_retries(3)
        .build()
        .expect("router");
    let routed = router
        .chat_stream(&request("gpt-4o"))
        .await
        .expect("a streamed its first chunk");
    assert_eq!((routed.deployment.as_str(), routed.attempts), ("a", 1));
    let (text, error) = collect_text(routed.value).await;
    assert_eq!(text, "partial ");
    assert!(
        matches!(error, Some(Error::UpstreamConnection { .. })),
        "{error:?}"
    );
    assert_eq!(
        (a.calls(), b.calls()),
        (1, 0),
        "the caller already has a's first chunk"
    );
}

#[tokio::test(start_paused = true)]
async fn a_streams_usage_is_counted_when_its_usage_chunk_passes() {
    let a = Scripted::new("a", Step::Answer("one two three"));
    let router = Router::builder()
        .deployment("gpt-4o", a.clone(), tier("a", 1))
        .build()
        .expect("router");
    let routed = router
        .chat_stream(&request("gpt-4o"))
        .await
        .expect("stream");
    assert_eq!(collect_text(routed.value).await.0, "one two three");
    tokio::task::yield_now().await;
    let usage = router.counters().snapshot(&["a"]).await.expect("snapshot");
    assert_eq!(
        (usage[0].requests, usage[0].tokens),
        (1, 4),
        "one request, 1 prompt + 3 completion tokens"
    );
}
