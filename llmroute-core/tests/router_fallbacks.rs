//! Fallback model groups: after retries run out, on context_length_exceeded, and when
//! a group is cooling down; unknown models.

mod router_support;

use std::time::Duration;

use llmroute_core::router::Router;
use llmroute_core::Error;
use router_support::{limits, rate_limited, request, unavailable, Scripted, Step};

fn too_long() -> Error {
    Error::ContextLengthExceeded {
        message: "maximum context length is 128000 tokens".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn the_fallback_group_answers_after_the_retries_run_out() {
    let big = Scripted::new("big", Step::Fail(unavailable()));
    let mini = Scripted::new("mini", Step::Answer("mini"));
    let router = Router::builder()
        .deployment("gpt-4o", big.clone(), limits("big"))
        .deployment("gpt-4o-mini", mini.clone(), limits("mini"))
        .num_retries(2)
        .fallback("gpt-4o", vec!["gpt-4o-mini".into()])
        .seed(1)
        .build()
        .expect("router");
    let answer = router
        .chat(&request("gpt-4o"))
        .await
        .expect("fallback answers");
    assert_eq!(
        (answer.model_group.as_str(), answer.deployment.as_str()),
        ("gpt-4o-mini", "mini")
    );
    assert_eq!(big.calls(), 3, "first attempt and two retries");
    assert_eq!(answer.attempts, 4);
    assert_eq!(
        mini.models(),
        ["gpt-4o-mini"],
        "the fallback is asked for its own group"
    );
    assert_eq!(big.models(), ["gpt-4o"; 3]);
}

#[tokio::test(start_paused = true)]
async fn fallbacks_are_tried_in_order_and_the_last_error_is_returned() {
    let a = Scripted::new("a", Step::Fail(unavailable()));
    let b = Scripted::new(
        "b",
        Step::Fail(Error::Timeout {
            message: "b timed out".into(),
        }),
    );
    let c = Scripted::new("c", Step::Fail(unavailable()));
    let router = Router::builder()
        .deployment("gpt-4o", a.clone(), limits("a"))
        .deployment("gpt-4o-mini", b.clone(), limits("b"))
        .deployment("gpt-35", c.clone(), limits("c"))
        .num_retries(0)
        .fallback("gpt-4o", vec!["gpt-4o-mini".into(), "gpt-35".into()])
        .build()
        .expect("router");
    let err = router
        .chat(&request("gpt-4o"))
        .await
        .expect_err("everything fails");
    assert_eq!((a.calls(), b.calls(), c.calls()), (1, 1, 1));
    assert_eq!((err.attempts, err.deployment.as_deref()), (3, Some("c")));
    assert_eq!(err.error.status(), 503);
}

#[tokio::test(start_paused = true)]
async fn a_cooling_group_goes_straight_to_its_fallback() {
    let big = Scripted::with_script(
        "big",
        vec![Step::Fail(rate_limited(Duration::from_secs(30)))],
        Step::Answer("big"),
    );
    let mini = Scripted::new("mini", Step::Answer("mini"));
    let router = Router::builder()
        .deployment("gpt-4o", big.clone(), limits("big"))
        .deployment("gpt-4o-mini", mini.clone(), limits("mini"))
        .fallback("gpt-4o", vec!["gpt-4o-mini".into()])
        .build()
        .expect("router");
    let first = router.chat(&request("gpt-4o")).await.expect("fallback");
    assert_eq!(
        (first.model_group.as_str(), first.attempts),
        ("gpt-4o-mini", 2)
    );
    let second = router.chat(&request("gpt-4o")).await.expect("fallback");
    assert_eq!(
        (second.model_group.as_str(), second.attempts),
        ("gpt-4o-mini", 1)
    );
    assert_eq!(big.calls(), 1, "the cooling group is not called");
}

#[tokio::test(start_paused = true)]
async fn context_length_exceeded_uses_the_context_window_fallbacks_only() {
    let small = Scripted::new("small", Step::Fail(too_long()));
    let mini = Scripted::new("mini", Step::Answer("mini"));
    let large = Scripted::new("large", Step::Answer("large"));
    let router = Router::builder()
        .deployment("gpt-4o", small.clone(), limits("small"))
        .deployment("gpt-4o-mini", mini.clone(), limits("mini"))
        .deployment("gpt-4o-1m", large.clone(), limits("large"))
        .fallback("gpt-4o", vec!["gpt-4o-mini".into()])
        .context_window_fallback("gpt-4o", vec!["gpt-4o-1m".into()])
        .build()
        .expect("router");
    let answer = router
        .chat(&request("gpt-4o"))
        .await
        .expect("the larger window answers");
    assert_eq!(
        (answer.model_group.as_str(), answer.attempts),
        ("gpt-4o-1m", 2)
    );
    assert_eq!(
        (small.calls(), mini.calls()),
        (1, 0),
        "not retried, and not the general fallback"
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_context_window_fallback_the_400_is_returned() {
    let small = Scripted::new("small", Step::Fail(too_long()));
    let mini = Scripted::new("mini", Step::Answer("mini"));
    let router = Router::builder()
        .deployment("gpt-4o", small.clone(), limits("small"))
        .deployment("gpt-4o-mini", mini.clone(), limits("mini"))
        .fallback("gpt-4o", vec!["gpt-4o-mini".into()])
        .build()
        .expect("router");
    let err = router.chat(&request("gpt-4o")).await.expect_err("400");
    assert_eq!(
        (err.error.status(), err.error.code()),
        (400, Some("context_length_exceeded"))
    );
    assert_eq!((small.calls(), mini.calls()), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_callers_fault_is_never_sent_to_a_fallback() {
    let a = Scripted::new(
        "a",
        Step::Fail(Error::invalid("bad", Some("messages"), "invalid_value")),
    );
    let b = Scripted::new("b", Step::Answer("b"));
    let router = Router::builder()
        .deployment("gpt-4o", a.clone(), limits("a"))
        .deployment("gpt-4o-mini", b.clone(), limits("b"))
        .fallback("gpt-4o", vec!["gpt-4o-mini".into()])
        .build()
        .expect("router");
    let err = router.chat(&request("gpt-4o")).await.expect_err("400");
    assert_eq!(err.error.status(), 400);
    assert_eq!((a.calls(), b.calls()), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn an_unknown_model_is_a_404_without_any_upstream_call() {
    let a = Scripted::new("a", Step::Answer("a"));
    let router = Router::builder()
        .deployment("gpt-4o", a.clone(), limits("a"))
        .build()
        .expect("router");
    let err = router.chat(&request("gpt-5")).await.expect_err("unknown");
    assert!(
        matches!(err.error, Error::ModelNotFound { ref model } if model == "gpt-5"),
        "{err}"
    );
    assert_eq!((err.error.status(), err.attempts, a.calls()), (404, 0, 0));
    let err = router
        .chat_stream(&request("gpt-5"))
        .await
        .expect_err("unknown");
    assert_eq!(err.error.status(), 404);
}

#[test]
fn fallbacks_must_name_configured_groups() {
    let a = Scripted::new("a", Step::Answer("a"));
    let err = Router::builder()
        .deployment("gpt-4o", a, limits("a"))
        .fallback("gpt-4o", vec!["gpt-4o-mini".into()])
        .build()
        .expect_err("unknown fallback group");
    assert_eq!(err.path, "router_settings.fallbacks");
    assert!(err.message.contains("\"gpt-4o-mini\""), "{err}");
}
