//! `llmroute chat` against the fake Azure: embedded (straight to the provider) and
//! through an in-process server, streamed and not.

mod common;

use common::*;

const ANSWER: &str = "Hello! How can I help you today?";
const MASTER: &str = "sk-cli-test-master-0123456789";

/// The stats line shows a cost, and not a zero one.
fn assert_priced(stderr: &str) {
    assert!(
        stderr.contains(" · $0.0") && !stderr.contains("$0.000000"),
        "{stderr}"
    );
}

/// Prices for the deployment that no built-in table has: $0.001 in, $0.002 out per token.
const CUSTOM_PRICES: &str =
    "    model_info:\n      input_cost_per_token: 0.001\n      output_cost_per_token: 0.002\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_streamed_and_not() {
    let Setup { fake, dir, cfg } = setup("gpt-4o", "fake-azure-key", "2024-10-21", "").await;
    let cfg = cfg.to_str().expect("utf8");

    let r = llmroute(dir.path(), &["chat", "--config", cfg, "Say hi"], &[])
        .await
        .ok();
    assert_eq!(r.stdout.trim(), ANSWER);
    assert!(
        r.stderr.contains("12 in +")
            && r.stderr.contains("tokens")
            && r.stderr.contains("first token"),
        "{}",
        r.stderr
    );
    assert_priced(&r.stderr);
    let body = fake.last_request().expect("request").json();
    assert_eq!(body["stream"], true);

    let r = llmroute(
        dir.path(),
        &[
            "chat",
            "--config",
            cfg,
            "--no-stream",
            "-s",
            "be brief",
            "Say hi",
        ],
        &[],
    )
    .await
    .ok();
    assert_eq!(r.stdout.trim(), ANSWER);
    assert!(r.stderr.contains("deployment gpt-4o-0"), "{}", r.stderr);
    assert_priced(&r.stderr);
    let body = fake.last_request().expect("request").json();
    assert_eq!(body["messages"][0]["role"], "system");
    assert!(body.get("stream").is_none_or(|s| s == false));

    let r = llmroute_stdin(
        dir.path(),
        &["chat", "--config", cfg, "--json", "-"],
        &[],
        Some("from stdin\n"),
    )
    .await
    .ok();
    assert_eq!(r.json()["choices"][0]["message"]["content"], ANSWER);
    assert_eq!(
        fake.last_request().expect("request").json()["messages"][0]["content"],
        "from stdin"
    );
    assert_eq!(fake.calls(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_server_streamed_and_not() {
    let Setup { fake, dir, cfg } = setup(
        "gpt-4o",
        "fake-azure-key",
        "2024-10-21",
        &format!("{CUSTOM_PRICES}general_settings:\n  master_key: {MASTER}\n"),
    )
    .await;
    let server = TestServer::start(&cfg, &dir.path().join("srv")).await;

    let r = llmroute(
        dir.path(),
        &["chat", "--server", &server.url, "--key", MASTER, "hi"],
        &[],
    )
    .await
    .ok();
    assert_eq!(r.stdout.trim(), ANSWER);
    assert!(
        r.stderr.contains("via http://127.0.0.1") && r.stderr.contains("12 in +"),
        "{}",
        r.stderr
    );
    // A stream carries no cost header: the built-in price of the model is shown.
    assert_priced(&r.stderr);

    let r = llmroute(
        dir.path(),
        &["chat", "--no-stream", "-m", "gpt-4o", "hi"],
        &[
            ("LLMROUTE_SERVER", &server.url),
            ("LLMROUTE_API_KEY", MASTER),
        ],
    )
    .await
    .ok();
    assert_eq!(r.stdout.trim(), ANSWER);
    // What the server charged with the config's prices (its x-llmroute-response-cost):
    // 12 in × $0.001 + 7 out × $0.002, not the built-in gpt-4o price.
    assert!(
        r.stderr.contains("12 in + 7 out tokens · $0.026000 · "),
        "{}",
        r.stderr
    );
    assert_eq!(fake.calls(), 2);

    let r = llmroute(
        dir.path(),
        &[
            "chat",
            "--server",
            &server.url,
            "--key",
            "sk-not-the-master-key",
            "hi",
        ],
        &[],
    )
    .await;
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("error:") && r.stderr.contains("401"),
        "{}",
        r.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_errors_go_to_stderr_with_exit_1() {
    let Setup {
        fake: _fake,
        dir,
        cfg,
    } = setup(
        "gpt-4o",
        "wrong-key",
        "2024-10-21",
        "router_settings:\n  num_retries: 0\n",
    )
    .await;
    let r = llmroute(
        dir.path(),
        &["chat", "--config", cfg.to_str().expect("utf8"), "hi"],
        &[],
    )
    .await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("error: ") && r.stderr.contains("api-key"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains('\x1b'),
        "no colour when stderr is not a terminal"
    );
}
