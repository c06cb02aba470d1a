//! Each strategy picks as specified, and priority tiers spill over.

mod router_support;

use std::time::Duration;

use llmroute_core::router::{Counters, DeploymentLimits, InMemoryCounters, Router, Strategy};
use llmroute_core::UpstreamMeta;
use router_support::{collect_text, limits, rate_limited, request, served_by, Scripted, Step};
use std::sync::Arc;

async fn serve(router: &Router, n: usize) -> Vec<String> {
    let mut served = Vec::new();
    for _ in 0..n {
        served.push(served_by(router, "gpt-4o").await);
    }
    served
}

fn count(served: &[String], id: &str) -> usize {
    served.iter().filter(|d| *d == id).count()
}

#[tokio::test(start_paused = true)]
async fn simple_shuffle_follows_the_weights() {
    let (a, b) = (
        Scripted::new("a", Step::Answer("a")),
        Scripted::new("b", Step::Answer("b")),
    );
    let router = Router::builder()
        .deployment(
            "gpt-4o",
            a.clone(),
            DeploymentLimits {
                weight: 1.0,
                ..limits("a")
            },
        )
        .deployment(
            "gpt-4o",
            b.clone(),
            DeploymentLimits {
                weight: 3.0,
                ..limits("b")
            },
        )
        .seed(42)
        .build()
        .expect("router");
    let served = serve(&router, 4000).await;
    let share_b = count(&served, "b") as f64 / 4000.0;
    assert!(
        (0.72..0.78).contains(&share_b),
        "b should take about 75%, took {share_b}"
    );
    assert_eq!(a.calls() + b.calls(), 4000);
}

#[tokio::test(start_paused = true)]
async fn least_busy_takes_the_deployment_with_fewest_in_flight() {
    let (a, b) = (
        Scripted::new("a", Step::Answer("a b c")),
        Scripted::new("b", Step::Answer("a b c")),
    );
    let router = Router::builder()
        .deployment("gpt-4o", a.clone(), limits("a"))
        .deployment("gpt-4o", b.clone(), limits("b"))
        .strategy(Strategy::LeastBusy)
        .seed(1)
        .build()
        .expect("router");
    // Three open streams: in flight until dropped, so they split 2 / 1.
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(
            router
                .chat_stream(&request("gpt-4o"))
                .await
                .expect("stream"),
        );
    }
    let busy = if count(
        &open
            .iter()
            .map(|s| s.deployment.clone())
            .collect::<Vec<_>>(),
        "a",
    ) == 2
    {
        "a"
    } else {
        "b"
    };
    let idle = if busy == "a" { "b" } else { "a" };
    let served = serve(&router, 20).await;
    assert_eq!(
        count(&served, idle),
        20,
        "every request goes to the less busy deployment {idle}"
    );

    // Finishing (or dropping) the streams frees their slots: back to an even split.
    for s in open.drain(..) {
        let (text, err) = collect_text(s.value).await;
        assert_eq!((text.as_str(), err.is_none()), ("a b c", true));
    }
    let served = serve(&router, 200).await;
    assert!(
        count(&served, "a") > 50 && count(&served, "b") > 50,
        "ties break at random: {}",
        count(&served, "a")
    );
}

#[tokio::test(start_paused = true)]
async fn latency_based_prefers_the_fastest_and_still_explores() {
    let slow = Scripted::new(
        "slow",
        Step::After(Duration::from_millis(200), Box::new(Step::Answer("s"))),
    );
    let fast = Scripted::new(
        "fast",
        Step::After(Duration::from_millis(20), Box::new(Step::Answer("f"))),
    );
    let router = Router::builder()
        .deployment("gpt-4o", slow.clone(), limits("slow"))
        .deployment("gpt-4o", fast.clone(), limits("fast"))
        .strategy(Strategy::LatencyBased)
        .seed(7)
        .build()
        .expect("router");
    let served = serve(&router, 400).await;
    // Both are measured first, then the fast one wins except for ~5% exploration.
    assert!(served[..2].contains(&"slow".to_string()) && served[..2].contains(&"fast".to_string()));
    let slow_share = count(&served[2..], "slow") as f64 / 398.0;
    assert!(
        slow_share > 0.0 && slow_share < 0.06,
        "slow deployment share {slow_share}"
    );
}

#[tokio::test(start_paused = true)]
async fn usage_based_balances_by_headroom_from_counters() {
    let (a, b) = (
        Scripted::new("a", Step::Answer("x")),
        Scripted::new("b", Step::Answer("x")),
    );
    let counters = Arc::new(InMemoryCounters::new());
    counters.add_usage("a", 6, 0).await.expect("prefill");
    let router = Router::builder()
        .deployment(
            "gpt-4o",
            a.clone(),
            DeploymentLimits {
                rpm: Some(10),
                ..limits("a")
            },
        )
        .deployment(
            "gpt-4o",
            b.clone(),
            DeploymentLimits {
                rpm: Some(10),
                ..limits("b")
            },
        )
        .strategy(Strategy::UsageBased)
        .counters(counters.clone())
        .seed(3)
        .build()
        .expect("router");
    // a has 4 requests left, b 10: b takes the next 6, then they alternate.
    let served = serve(&router, 6).await;
    assert_eq!(count(&served, "b"), 6, "{served:?}");
    let served = serve(&router, 8).await;
    assert_eq!(
        (count(&served, "a"), count(&served, "b")),
        (4, 4),
        "{served:?}"
    );
    let usage = counters.snapshot(&["a", "b"]).await.expect("snapshot");
    assert_eq!((usage[0].requests, usage[1].requests), (10, 10));
}

#[tokio::test(start_paused = true)]
async fn usage_based_reads_azure_remaining_headers() {
    let meta = |tokens| UpstreamMeta {
        remaining_tokens: Some(tokens),
        remaining_requests: Some(100),
        ..Default::default()
    };
    let a = Scripted::new("a", Step::AnswerWith("x", meta(2_000)));
    let b = Scripted::new("b", Step::AnswerWith("x", meta(90_000)));
    let router = Router::builder()
        .deployment("gpt-4o", a.clone(), limits("a"))
        .deployment("gpt-4o", b.clone(), limits("b"))
        .strategy(Strategy::UsageBased)
        .seed(5)
        .build()
        .expect("router");
    // Until both have reported, the one with fewer tokens used goes first.
    let first = serve(&router, 2).await;
    assert_eq!(count(&first, "a") + count(&first, "b"), 2);
    assert!(count(&first, "a") == 1, "both get measured: {first:?}");
    let served = serve(&router, 20).await;
    assert_eq!(
        count(&served, "b"),
        20,
        "b reports far more token headroom: {served:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn priority_tiers_spill_over_when_tier_one_is_out_of_headroom_or_cooling() {
    let ptu = Scripted::with_script("ptu", vec![], Step::Answer("ptu"));
    let paygo = Scripted::new("paygo", Step::Answer("paygo"));
    let router = Router::builder()
        .deployment(
            "gpt-4o",
            ptu.clone(),
            DeploymentLimits {
                order: Some(1),
                rpm: Some(5),
                ..limits("ptu")
            },
        )
        .deployment(
            "gpt-4o",
            paygo.clone(),
            DeploymentLimits {
                order: Some(2),
                ..limits("paygo")
            },
        )
        .seed(9)
        .build()
        .expect("router");
    let served = serve(&router, 8).await;
    assert_eq!(
        served,
        ["ptu"; 5]
            .iter()
            .chain(["paygo"; 3].iter())
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );

    // A new minute: tier 1 has headroom again.
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(serve(&router, 1).await, ["ptu"]);
}

#[tokio::test(start_paused = true)]
async fn a_cooling_tier_one_spills_to_tier_two_until_it_recovers() {
    let ptu = Scripted::with_script(
        "ptu",
        vec![Step::Fail(rate_limited(Duration::from_secs(2)))],
        Step::Answer("ptu"),
    );
    let paygo = Scripted::new("paygo", Step::Answer("paygo"));
    let router = Router::builder()
        .deployment(
            "gpt-4o",
            ptu.clone(),
            DeploymentLimits {
                order: Some(1),
                ..limits("ptu")
            },
        )
        .deployment(
            "gpt-4o",
            paygo.clone(),
            DeploymentLimits {
                order: Some(2),
                ..limits("paygo")
            },
        )
        .seed(9)
        .build()
        .expect("router");
    let first = router.chat(&request("gpt-4o")).await.expect("answer");
    assert_eq!((first.deployment.as_str(), first.attempts), ("paygo", 2));
    assert_eq!(serve(&router, 3).await, ["paygo"; 3]);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(serve(&router, 3).await, ["ptu"; 3]);
}
