//! The response cache and the limits that Redis shares, through real server processes.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use llmroute_azure::fake::{FakeAzure, FakeConfig};
use serde_json::{json, Value};

async fn fake(latency: Duration) -> FakeAzure {
    fake_azure(
        &["gpt4o-prod"],
        FakeConfig {
            latency,
            ..FakeConfig::default()
        },
    )
    .await
}

fn redis_url() -> String {
    std::env::var("LLMROUTE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

/// A config with the cache on; with `redis`, everything shared goes through it under a
/// namespace of this test's own.
fn config(
    fake: &FakeAzure,
    redis: Option<&str>,
    namespace: &str,
    database: Option<&str>,
) -> String {
    let redis = redis
        .map(|r| format!("  redis_url: \"{r}\"\n"))
        .unwrap_or_default();
    let db = database
        .map(|d| format!(", database_url: \"{d}\""))
        .unwrap_or_default();
    format!(
        "model_list:\n  - model_name: gpt-4o\n    litellm_params: {{model: azure/gpt4o-prod, api_base: {}, api_key: fake-azure-key}}\n\
         litellm_settings:\n  cache: true\n  cache_params: {{type: redis, ttl: 60, namespace: {namespace}}}\n\
         router_settings:\n  num_retries: 0\n{redis}general_settings: {{master_key: {MASTER_KEY}{db}}}\n",
        fake.base_url()
    )
}

fn namespace() -> String {
    format!("lrtest{:012x}", rand::random::<u64>())
}

async fn ask(
    server: &Server,
    text: &str,
    stream: bool,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = client()
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(MASTER_KEY)
        .json(&chat_body("gpt-4o", text, stream));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("send")
}

/// The start-up log line on counters, rate limits and budgets; panics with the whole log
/// when there is none.
fn backend_line(server: &Server) -> &str {
    server
        .startup_line("counters, rate limits and budgets:")
        .unwrap_or_else(|| panic!("no backend line: {:#?}", server.startup_log))
}

/// The start-up log line on the response cache; panics with the whole log when there is
/// none.
fn cache_line(server: &Server) -> &str {
    server
        .startup_line("response cache:")
        .unwrap_or_else(|| panic!("no cache line: {:#?}", server.startup_log))
}

fn cache_header(resp: &reqwest::Response) -> Option<String> {
    header(resp, "x-llmroute-cache").map(str::to_string)
}

/// The streamed text of an SSE body.
fn streamed_text(body: &str) -> String {
    sse_events(body)
        .iter()
        .filter(|e| *e != "[DONE]")
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_answer_is_served_without_calling_upstream_whole_and_streamed() {
    let fake = fake(Duration::ZERO).await;
    let server = Server::start(&config(&fake, None, &namespace(), None));
    // Without Redis the start-up log says everything is kept in this process (and,
    // since `cache_params.type` is redis, warns that the cache is in process only).
    let counters = backend_line(&server);
    assert!(counters.contains("in this process"), "{counters}");
    let cache = cache_line(&server);
    assert!(
        cache.contains("WARN") && cache.contains("caching in this process only"),
        "{cache}"
    );
    let first = ask(&server, "what is 2+2?", false, &[]).await;
    assert_eq!(cache_header(&first).as_deref(), Some("miss"));
    let first: Value = first.json().await.expect("json");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = ask(&server, "what is 2+2?", false, &[]).await;
    assert_eq!(cache_header(&second).as_deref(), Some("hit"));
    assert_eq!(second.headers()["x-llmroute-response-cost"], "0");
    let second: Value = second.json().await.expect("json");
    assert_eq!(second["choices"], first["choices"]);
    assert_eq!(fake.calls(), 1, "served from the cache");

    let streamed = ask(&server, "what is 2+2?", true, &[]).await;
    assert_eq!(cache_header(&streamed).as_deref(), Some("hit"));
    let text = streamed_text(&streamed.text().await.expect("body"));
    assert_eq!(
        text,
        first["choices"][0]["message"]["content"]
            .as_str()
            .expect("content")
    );
    assert_eq!(fake.calls(), 1, "the stream was replayed from the cache");

    let logs = get_json(&server, "/spend/logs", Some(MASTER_KEY)).await;
    let hits: Vec<&Value> = logs
        .as_array()
        .expect("logs")
        .iter()
        .filter(|l| l["cache_hit"] == true)
        .collect();
    assert_eq!(hits.len(), 2, "{logs}");
    assert!(
        hits.iter().all(|l| l["cost"].as_f64() == Some(0.0)),
        "{logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_up_log_names_the_backends_in_use() {
    let fake = fake(Duration::ZERO).await;
    let ns = namespace();
    let local = config(&fake, None, &ns, None).replace("type: redis", "type: local");
    let server = Server::start(&local);
    let cache = cache_line(&server);
    assert!(
        cache.contains("INFO") && cache.contains("response cache: in this process"),
        "{cache}"
    );
    assert!(server
        .startup_line("counters, rate limits and budgets: in this process")
        .is_some());
    drop(server);

    let shared = Server::start(&config(&fake, Some(&redis_url()), &ns, None));
    let counters = backend_line(&shared);
    assert!(
        counters.contains("shared through Redis") && counters.contains("Redis at 127.0.0.1"),
        "{counters}"
    );
    assert!(!counters.contains("not answering yet"), "{counters}");
    let cache = cache_line(&shared);
    assert!(cache.contains("in process, in front of Redis"), "{cache}");
    drop(shared);

    // Cache off: said so, and no cache line claims otherwise.
    let off = config(&fake, Some(&redis_url()), &ns, None).replace("cache: true", "cache: false");
    let off = Server::start(&off);
    let cache = cache_line(&off);
    assert!(cache.contains("response cache: off"), "{cache}");
    clean_redis(&ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_answer_is_cached_once_complete_and_opt_outs_are_honoured() {
    let fake = fake(Duration::ZERO).await;
    let server = Server::start(&config(&fake, None, &namespace(), None));
    let text = streamed_text(
        &ask(&server, "stream me", true, &[])
            .await
            .text()
            .await
            .expect("body"),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let hit = ask(&server, "stream me", false, &[]).await;
    assert_eq!(cache_header(&hit).as_deref(), Some("hit"));
    let hit: Value = hit.json().await.expect("json");
    assert_eq!(
        hit["choices"][0]["message"]["content"].as_str(),
        Some(text.as_str())
    );
    assert_eq!(fake.calls(), 1);

    let no_cache = ask(
        &server,
        "stream me",
        false,
        &[("cache-control", "no-cache")],
    )
    .await;
    assert_eq!(cache_header(&no_cache).as_deref(), Some("miss"));
    assert_eq!(fake.calls(), 2, "no-cache goes upstream");

    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "never stored"}], "cache": {"no-store": true}});
    let resp = client()
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(MASTER_KEY)
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    let sent = fake.last_request().expect("request").json();
    assert!(
        sent.get("cache").is_none(),
        "LiteLLM's cache field never goes upstream: {sent}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    ask(&server, "never stored", false, &[]).await;
    assert_eq!(fake.calls(), 4, "no-store kept it out of the cache");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_share_the_cache_through_redis() {
    let fake = fake(Duration::ZERO).await;
    let ns = namespace();
    let one = Server::start(&config(&fake, Some(&redis_url()), &ns, None));
    let two = Server::start(&config(&fake, Some(&redis_url()), &ns, None));
    ask(&one, "shared question", false, &[])
        .await
        .text()
        .await
        .expect("body");
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The keys are `<namespace>:cache:…` and `<namespace>:dep:…` (one colon).
    let keys = redis_keys(&format!("{ns}:*")).await;
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("{ns}:cache:"))
                && k.len() > format!("{ns}:cache:").len()),
        "{keys:?}"
    );
    assert!(
        keys.iter().any(|k| k.starts_with(&format!("{ns}:dep:"))),
        "{keys:?}"
    );
    assert!(
        keys.iter().all(|k| !k.starts_with(&format!("{ns}::"))),
        "{keys:?}"
    );
    let resp = ask(&two, "shared question", false, &[]).await;
    assert_eq!(cache_header(&resp).as_deref(), Some("hit"));
    assert_eq!(fake.calls(), 1);
    let metrics = metrics_text(&two).await;
    assert!(
        metrics.contains("llmroute_cache_hits_total{layer=\"redis\"} 1"),
        "{metrics}"
    );
    clean_redis(&ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_on_one_redis_and_postgres_hold_a_budget_for_ten() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let fake = fake(Duration::from_millis(300)).await;
    let ns = namespace();
    let servers: Vec<Server> = (0..3)
        .map(|_| Server::start(&config(&fake, Some(&redis_url()), &ns, Some(&db.url))))
        .collect();
    // Each server loads its o200k tokenizer on its first budgeted request (a few hundred
    // ms of CPU). Three cold servers doing that at once on two cores starve their Redis
    // calls past the 300 ms command timeout, and a timed-out call falls back to the
    // in-process budget (the documented degraded mode), which is not what this test is
    // about: warm each one with another budgeted key first.
    let warm = virtual_key(&servers[0], json!({"max_budget": 100.0})).await;
    for server in &servers {
        let body = json!({"model": "gpt-4o", "max_tokens": 5, "messages": [{"role": "user", "content": "warm up"}]});
        let resp = client()
            .post(server.url("/v1/chat/completions"))
            .bearer_auth(&warm)
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status(), 200, "warm-up");
    }
    let key = virtual_key(&servers[0], json!({"max_budget": 0.0103})).await;
    let calls = (0..50).map(|i| {
        let server = &servers[i % 3];
        let key = key.clone();
        async move {
            let body = json!({"model": "gpt-4o", "max_tokens": 100, "messages": [{"role": "user", "content": format!("q{i}")}]});
            client().post(server.url("/v1/chat/completions")).bearer_auth(key).json(&body).send().await.expect("send").status().as_u16()
        }
    });
    let statuses = futures::future::join_all(calls).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    if !(1..=10).contains(&ok) {
        let mut fallbacks = String::new();
        for s in &servers {
            let m = metrics_text(s).await;
            fallbacks.extend(
                m.lines()
                    .filter(|l| l.starts_with("llmroute_redis_"))
                    .map(|l| format!("{l}\n")),
            );
        }
        panic!("{ok} succeeded across three servers: {statuses:?}\n{fallbacks}");
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        50 - ok,
        "{statuses:?}"
    );

    let path = format!("/spend/logs?api_key={key}");
    let mut logged = 0.0;
    for s in &servers {
        let logs = get_json(s, &path, Some(MASTER_KEY)).await;
        logged = logs
            .as_array()
            .expect("logs")
            .iter()
            .filter_map(|l| l["cost"].as_f64())
            .sum::<f64>();
    }
    let info_path = format!("/key/info?key={key}");
    let info = get_json(&servers[0], &info_path, Some(MASTER_KEY)).await;
    let ledger = info["info"]["spend"].as_f64().expect("spend");
    assert!(
        (ledger - logged).abs() < 1e-9,
        "ledger {ledger} vs logs {logged}"
    );
    assert!(ledger <= 0.0103, "spend {ledger} within the budget");
    drop(servers);
    clean_redis(&ns).await;
    db.drop_database().await;
}

/// A redis-server of this test's own on a free port.
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    fn start(port: u16) -> OwnRedis {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/test installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        OwnRedis { child, port }
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_never_fails_a_request_and_redis_is_used_again_after() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let redis = OwnRedis::start(port);
    let fake = fake(Duration::ZERO).await;
    let server = Server::start(&config(
        &fake,
        Some(&format!("redis://127.0.0.1:{}", redis.port)),
        &namespace(),
        None,
    ));
    // A key with a budget and an rpm limit, so budgets and rate limits use Redis too.
    let key = virtual_key(&server, json!({"max_budget": 100.0, "rpm_limit": 1000})).await;
    let ask_as = |text: String, stream: bool| {
        let req = client()
            .post(server.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&chat_body("gpt-4o", &text, stream));
        async move { req.send().await.expect("send") }
    };
    assert_eq!(ask_as("before".into(), false).await.status(), 200);
    redis.stop();
    for i in 0..20 {
        let resp = ask_as(format!("during {i}"), i % 2 == 0).await;
        assert_eq!(resp.status(), 200, "request {i} during the outage");
        resp.text().await.expect("body");
    }
    let during = metrics_text(&server).await;
    for component in ["counters", "rate_limiter", "budgets", "cache"] {
        let series = format!("llmroute_redis_fallbacks_total{{component=\"{component}\"}}");
        assert!(
            metric(&during, &series).is_some_and(|n| n > 0.0),
            "{series} counts the calls served in process: {during}"
        );
        let up = format!("llmroute_redis_up{{component=\"{component}\"}}");
        assert_eq!(metric(&during, &up), Some(0.0), "{up}: {during}");
    }
    let redis = OwnRedis::start(port);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = ask_as("after".into(), false).await;
    assert_eq!(after.status(), 200);
    after.text().await.expect("body");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let metrics = metrics_text(&server).await;
    for component in ["counters", "rate_limiter", "budgets", "cache"] {
        let up = format!("llmroute_redis_up{{component=\"{component}\"}}");
        assert_eq!(
            metric(&metrics, &up),
            Some(1.0),
            "Redis used again: {up}: {metrics}"
        );
    }
    redis.stop();
}

/// The keys of the test Redis matching `pattern`.
async fn redis_keys(pattern: &str) -> Vec<String> {
    let client = redis::Client::open(redis_url()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("the test Redis (LLMROUTE_TEST_REDIS_URL)");
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut conn)
        .await
        .expect("KEYS")
}

/// The value of the sample `series` (name and labels) on a `/metrics` page.
fn metric(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

async fn clean_redis(namespace: &str) {
    let Ok(client) = redis::Client::open(redis_url()) else {
        return;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{namespace}:*"))
        .query_async(&mut conn)
        .await
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
    }
}
