//! Retries, cooldowns and timeouts: what is retried, where it goes, for how long a
//! deployment is skipped, and when the router gives up.

mod router_support;

use std::time::Duration;

use llmroute_core::router::{DeploymentLimits, Router};
use llmroute_core::Error;
use router_support::{
    primary_and_backup_builder, rate_limited, request, served_by, tier, unavailable, Scripted, Step,
};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_ms_moves_on_and_cools_the_first_for_exactly_that_long() {
    let east = Scripted::with_script(
        "east",
        vec![Step::Fail(rate_limited(Duration::from_millis(1500)))],
        Step::Answer("east"),
    );
    let west = Scripted::new("west", Step::Answer("west"));
    let router = Router::builder()
        .deployment("gpt-4o", east.clone(), tier("east", 1))
        .deployment("gpt-4o", west.clone(), tier("west", 2))
        .build()
        .expect("router");

    let started = Instant::now();
    let answer = router
        .chat(&request("gpt-4o"))
        .await
        .expect("served by west");
    assert_eq!((answer.deployment.as_str(), answer.attempts), ("west", 2));
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "moving to another deployment does not wait"
    );
    let cooling = router
        .counters()
        .snapshot(&["east", "west"])
        .await
        .expect("snapshot");
    assert_eq!(
        (cooling[0].cooldown, cooling[1].cooldown),
        (Some(Duration::from_millis(1500)), None)
    );

    let usage = router.usage().await;
    assert_eq!(
        (
            usage[0].0.as_str(),
            usage[0].1.cooldown,
            usage[0].1.requests
        ),
        ("east", Some(Duration::from_millis(1500)), 1)
    );
    assert_eq!(
        (
            usage[1].0.as_str(),
            usage[1].1.cooldown,
            usage[1].1.requests
        ),
        ("west", None, 1)
    );

    tokio::time::advance(Duration::from_millis(1499)).await;
    assert_eq!(
        served_by(&router, "gpt-4o").await,
        "west",
        "still cooling at 1499 ms"
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(
        served_by(&router, "gpt-4o").await,
        "east",
        "back at 1500 ms"
    );
    assert_eq!(east.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn all_cooling_answers_429_at_once_with_the_soonest_recovery() {
    let east = Scripted::with_script(
        "east",
        vec![Step::Fail(rate_limited(Duration::from_secs(3)))],
        Step::Answer("east"),
    );
    let west = Scripted::with_script(
        "west",
        vec![Step::Fail(rate_limited(Duration::from_secs(2)))],
        Step::Answer("west"),
    );
    let router = Router::builder()
        .deployment("gpt-4o", east.clone(), tier("east", 1))
        .deployment("gpt-4o", west.clone(), tier("west", 1))
        .num_retries(2)
        .seed(11)
        .build()
        .expect("router");

    let started = Instant::now();
    let err = router
        .chat(&request("gpt-4o"))
        .await
        .expect_err("both rate limited");
    assert_eq!(started.elapsed(), Duration::ZERO, "no hang");
    assert_eq!(err.attempts, 2);
    assert!(
        matches!(
            err.error,
            Error::RateLimited {
                upstream: false,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.error.status(), 429);
    assert_eq!(err.error.retry_after(), Some(Duration::from_secs(2)));

    tokio::time::advance(Duration::from_millis(500)).await;
    let err = router
        .chat(&request("gpt-4o"))
        .await
        .expect_err("still cooling");
    assert_eq!((err.attempts, err.deployment), (0, None));
    assert_eq!(err.error.retry_after(), Some(Duration::from_millis(1500)));
    assert_eq!(
        east.calls() + west.calls(),
        2,
        "no upstream call while everything cools"
    );

    tokio::time::advance(Duration::from_millis(1500)).await;
    assert_eq!(served_by(&router, "gpt-4o").await, "west");
}

#[tokio::test(start_paused = true)]
async fn the_callers_faults_are_returned_as_they_are_without_retry() {
    let faults = [
        Error::invalid("bad temperature", Some("temperature"), "invalid_value"),
        Error::ContentFilter {
            message: "filtered".into(),
            detail: None,
        },
        Error::UpstreamAuth {
            message: "key rejected".into(),
        },
        Error::UpstreamNotFound {
            message: "no such deployment".into(),
            code: "DeploymentNotFound",
        },
        Error::Upstream {
            status: 422,
            message: "unprocessable".into(),
        },
    ];
    for fault in faults {
        let status = fault.status();
        let a = Scripted::new("a", Step::Fail(fault.clone()));
        let b = Scripted::new("b", Step::Answer("b"));
        let router = primary_and_backup_builder(a.clone(), b.clone())
            .num_retries(3)
            .build()
            .expect("router");
        let err = router
            .chat(&request("gpt-4o"))
            .await
            .expect_err("not retried");
        assert_eq!(err.error.status(), status);
        assert_eq!(err.error.to_string(), fault.to_string());
        assert_eq!((err.attempts, err.deployment.as_deref()), (1, Some("a")));
        assert_eq!(
            (a.calls(), b.calls()),
            (1, 0),
            "{status} must not be retried"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_5xx_is_retried_on_another_deployment() {
    let a = Scripted::new("a", Step::Fail(unavailable()));
    let b = Scripted::new("b", Step::Answer("b"));
    let router = Router::builder()
        .deployment("gpt-4o", a.clone(), tier("a", 1))
        .deployment("gpt-4o", b.clone(), tier("b", 1))
        .seed(2)
        .build()
        .expect("router");
    for _ in 0..10 {
        let answer = router.chat(&request("gpt-4o")).await.expect("served by b");
        assert_eq!(answer.deployment, "b");
    }
    assert!(
        (1..=3).contains(&a.calls()),
        "a is tried, then cooled after 3 failures: {}",
        a.calls()
    );
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_on_a_single_deployment_and_stop_at_the_timeout() {
    let only = Scripted::new("only", Step::Fail(unavailable()));
    let router = Router::builder()
        .deployment("gpt-4o", only.clone(), tier("only", 1))
        .num_retries(10)
        .timeout(Duration::from_secs(2))
        .seed(4)
        .build()
        .expect("router");
    let started = Instant::now();
    let err = router
        .chat(&request("gpt-4o"))
        .await
        .expect_err("keeps failing");
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "gave up before the timeout, took {took:?}"
    );
    assert!(
        took >= Duration::from_millis(125 + 250 + 500),
        "backed off exponentially, took {took:?}"
    );
    assert_eq!(err.error.status(), 503);
    assert!(
        err.attempts >= 3 && err.attempts < 11,
        "stopped early: {} attempts",
        err.attempts
    );
    assert_eq!(only.calls(), err.attempts);
    assert_eq!(
        err.upstream_time, took,
        "backoff waits count as upstream time"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hanging_upstream_times_out_at_the_request_timeout() {
    let hang = Scripted::new("hang", Step::Hang);
    let router = Router::builder()
        .deployment("gpt-4o", hang.clone(), tier("hang", 1))
        .num_retries(3)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("router");
    let started = Instant::now();
    let err = router
        .chat(&request("gpt-4o"))
        .await
        .expect_err("times out");
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert!(matches!(err.error, Error::Timeout { .. }), "{err}");
    assert_eq!((err.attempts, hang.calls()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_deployment_timeout_cuts_one_attempt_and_the_retry_moves_on() {
    let slow = Scripted::new("slow", Step::Hang);
    let fast = Scripted::new("fast", Step::Answer("fast"));
    let router = Router::builder()
        .deployment(
            "gpt-4o",
            slow.clone(),
            DeploymentLimits {
                timeout: Some(Duration::from_millis(300)),
                ..tier("slow", 1)
            },
        )
        .deployment("gpt-4o", fast.clone(), tier("fast", 2))
        .build()
        .expect("router");
    let started = Instant::now();
    let answer = router.chat(&request("gpt-4o")).await.expect("fast answers");
    assert_eq!((answer.deployment.as_str(), answer.attempts), ("fast", 2));
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    assert_eq!(answer.upstream_time, Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn allowed_fails_in_a_minute_cool_a_deployment_for_cooldown_time() {
    let flaky = Scripted::with_script(
        "flaky",
        vec![Step::Fail(unavailable()); 3],
        Step::Answer("flaky"),
    );
    let steady = Scripted::new("steady", Step::Answer("steady"));
    let router = Router::builder()
        .deployment("gpt-4o", flaky.clone(), tier("flaky", 1))
        .deployment("gpt-4o", steady.clone(), tier("steady", 2))
        .allowed_fails(3)
        .cooldown_time(Duration::from_secs(10))
        .build()
        .expect("router");
    for _ in 0..3 {
        assert_eq!(served_by(&router, "gpt-4o").await, "steady");
    }
    assert_eq!(flaky.calls(), 3);
    let cooling = router
        .counters()
        .snapshot(&["flaky"])
        .await
        .expect("snapshot");
    assert_eq!(
        cooling[0].cooldown,
        Some(Duration::from_secs(10)),
        "third failure cools it"
    );
    assert_eq!(served_by(&router, "gpt-4o").await, "steady");
    assert_eq!(flaky.calls(), 3, "skipped while cooling");
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(served_by(&router, "gpt-4o").await, "flaky");
}

#[tokio::test(start_paused = true)]
async fn a_single_deployment_waits_out_a_short_retry_after_within_the_budget() {
    let only = Scripted::with_script(
        "only",
        vec![Step::Fail(rate_limited(Duration::from_millis(400)))],
        Step::Answer("ok"),
    );
    let router = Router::builder()
        .deployment("gpt-4o", only.clone(), tier("only", 1))
        .num_retries(2)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("router");
    let started = Instant::now();
    let answer = router
        .chat(&request("gpt-4o"))
        .await
        .expect("answer after the retry-after");
    assert_eq!(started.elapsed(), Duration::from_millis(400));
    assert_eq!((answer.deployment.as_str(), answer.attempts), ("only", 2));
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_longer_than_the_time_left_is_returned_at_once() {
    let limited = Scripted::new("limited", Step::Fail(rate_limited(Duration::from_secs(60))));
    let router = Router::builder()
        .deployment("gpt-4o", limited.clone(), tier("limited", 1))
        .num_retries(2)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("router");
    let started = Instant::now();
    let err = router.chat(&request("gpt-4o")).await.expect_err("429");
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(err.error.status(), 429);
    assert_eq!(err.error.retry_after(), Some(Duration::from_secs(60)));
    assert_eq!(limited.calls(), 1);
}
