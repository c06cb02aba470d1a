//! Virtual keys through the server: the admin API, each refusal, spend logs, budgets,
//! and two server processes sharing one PostgreSQL database.

mod common;

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

fn config(fake: &FakeAzure, database: Option<&str>) -> String {
    let db = database
        .map(|d| format!(", database_url: \"{d}\""))
        .unwrap_or_default();
    format!(
        "model_list:\n  - model_name: gpt-4o\n    litellm_params: {{model: azure/gpt4o-prod, api_base: {}, api_key: fake-azure-key}}\n  \
         - model_name: mock\n    litellm_params: {{model: mock/echo}}\n\
         general_settings: {{master_key: {MASTER_KEY}{db}}}\n",
        fake.base_url()
    )
}

async fn admin(server: &Server, path: &str, body: Value) -> (u16, Value) {
    let resp = post_as(server, MASTER_KEY, path, &body).await;
    (resp.status().as_u16(), resp.json().await.expect("json"))
}

async fn admin_get(server: &Server, path: &str) -> (u16, Value) {
    let resp = get(server, path, Some(MASTER_KEY)).await;
    (resp.status().as_u16(), resp.json().await.expect("json"))
}

async fn chat_with(server: &Server, key: &str, model: &str, stream: bool) -> reqwest::Response {
    let mut body = chat_body(model, "hi", stream);
    body["max_tokens"] = json!(100);
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    client()
        .post(server.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("chat")
}

/// Usage the fake reports in the round trip (whole answers and a stream's final chunk):
/// a prompt no estimate of "hi" comes near (it counts about 8 tokens), and one completion
/// token per stream chunk.
const FAKE_PROMPT_TOKENS: u64 = 4321;
const FAKE_CHUNKS: usize = 13;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_round_trip_generate_use_info_update_delete() {
    let fake = fake_azure(
        &["gpt4o-prod"],
        FakeConfig {
            prompt_tokens: FAKE_PROMPT_TOKENS,
            stream_chunks: FAKE_CHUNKS,
            ..FakeConfig::default()
        },
    )
    .await;
    let server = Server::start(&config(&fake, None));
    let created = generate_key_as(
        &server,
        MASTER_KEY,
        json!({"key_alias": "team-a", "models": ["gpt-4o"], "max_budget": 10.0}),
    )
    .await;
    let key = created["key"].as_str().expect("key shown once").to_string();
    assert!(key.starts_with("sk-") && key.len() >= 40);
    assert_eq!(created["token"].as_str().map(str::len), Some(64));

    let resp = chat_with(&server, &key, "gpt-4o", false).await;
    assert_eq!(resp.status(), 200);
    let header = |name: &str| header(&resp, name).map(str::to_string);
    let cost_text = header("x-litellm-response-cost").expect("cost header");
    let cost: f64 = cost_text.parse().expect("f64");
    assert!(cost > 0.0);
    assert_eq!(
        header("x-llmroute-response-cost").as_ref(),
        Some(&cost_text)
    );
    // The key had spent nothing before: its spend after the call is this call's cost.
    assert_eq!(header("x-llmroute-key-spend").as_ref(), Some(&cost_text));
    assert_eq!(header("x-litellm-key-spend").as_ref(), Some(&cost_text));
    let resp = chat_with(&server, &key, "gpt-4o", true).await;
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.expect("stream body");
    let fake_usage = (Some(FAKE_PROMPT_TOKENS), Some(FAKE_CHUNKS as u64));
    let final_chunk: Value = sse_events(&body)
        .iter()
        .rev()
        .find(|e| e.as_str() != "[DONE]")
        .and_then(|e| serde_json::from_str(e).ok())
        .expect("a final chunk");
    let usage = &final_chunk["usage"];
    assert_eq!(
        (
            usage["prompt_tokens"].as_u64(),
            usage["completion_tokens"].as_u64()
        ),
        fake_usage,
        "the fake's final usage chunk reaches the caller: {final_chunk}"
    );

    let (_, logs) = admin_get(&server, &format!("/spend/logs?api_key={key}")).await;
    let logs = logs.as_array().expect("logs").clone();
    assert_eq!(logs.len(), 2, "{logs:?}");
    let tokens = |l: &Value| (l["prompt_tokens"].as_u64(), l["completion_tokens"].as_u64());
    let streamed = logs
        .iter()
        .find(|l| l["stream"] == true)
        .expect("the streamed call's row");
    assert_eq!(
        tokens(streamed),
        fake_usage,
        "the streamed row holds the usage of the stream's final chunk, not an estimate: {streamed}"
    );
    let whole = logs
        .iter()
        .find(|l| l["stream"] == false)
        .expect("the whole answer's row");
    assert_eq!(tokens(whole), fake_usage, "{whole}");

    // Date filters: YYYY-MM-DD in UTC, the end day inclusive.
    let today = chrono::Utc::now().date_naive();
    let yesterday = today.pred_opt().expect("yesterday");
    let dated = |start: String, end: String| {
        let (server, key) = (&server, &key);
        async move {
            let (s, logs) = admin_get(
                server,
                &format!("/spend/logs?api_key={key}&start_date={start}&end_date={end}"),
            )
            .await;
            assert_eq!(s, 200, "{logs}");
            logs.as_array().expect("logs").len()
        }
    };
    assert_eq!(dated(today.to_string(), today.to_string()).await, 2);
    assert_eq!(dated(yesterday.to_string(), yesterday.to_string()).await, 0);
    assert_eq!(dated(String::new(), yesterday.to_string()).await, 0);
    let (s, err) = admin_get(
        &server,
        &format!("/spend/logs?api_key={key}&start_date=bad"),
    )
    .await;
    assert_eq!(
        (
            s,
            err["error"]["code"].as_str(),
            err["error"]["param"].as_str()
        ),
        (400, Some("invalid_value"), Some("start_date")),
        "{err}"
    );

    let (s, info) = admin_get(&server, &format!("/key/info?key={key}")).await;
    assert_eq!(s, 200);
    let spend = info["info"]["spend"].as_f64().expect("spend");
    assert!(
        spend >= cost * 2.0 - 1e-12,
        "spend {spend} after two calls of {cost}"
    );
    assert_eq!(info["info"]["key_alias"], "team-a");
    assert!(
        info.to_string().find(&key).is_none(),
        "the key itself is never shown again"
    );

    let (s, updated) = admin(
        &server,
        "/key/update",
        json!({"key": key, "models": ["mock"], "rpm_limit": 100}),
    )
    .await;
    assert_eq!((s, updated["rpm_limit"].as_u64()), (200, Some(100)));
    let (s, err) = error_of(chat_with(&server, &key, "gpt-4o", false).await).await;
    assert_eq!((s, err["code"].as_str()), (403, Some("model_not_allowed")));
    assert_eq!(chat_with(&server, &key, "mock", false).await.status(), 200);

    let (s, listed) = admin_get(&server, "/key/list").await;
    assert_eq!((s, listed["total_count"].as_u64()), (200, Some(1)));

    let (s, deleted) = admin(&server, "/key/delete", json!({"keys": [key]})).await;
    assert_eq!((s, deleted["count"].as_u64()), (200, Some(1)));
    let (s, err) = error_of(chat_with(&server, &key, "mock", false).await).await;
    assert_eq!((s, err["code"].as_str()), (401, Some("invalid_api_key")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_virtual_key_refusal_has_its_own_answer() {
    let fake = fake(Duration::ZERO).await;
    let server = Server::start(&config(&fake, None));
    let gen = |body: Value| virtual_key(&server, body);
    let expired = gen(json!({"expires": 1000})).await;
    let (s, e) = error_of(chat_with(&server, &expired, "mock", false).await).await;
    assert_eq!((s, e["code"].as_str()), (401, Some("key_expired")), "{e}");

    let blocked = gen(json!({"blocked": true})).await;
    let (s, e) = error_of(chat_with(&server, &blocked, "mock", false).await).await;
    assert_eq!((s, e["code"].as_str()), (403, Some("key_blocked")), "{e}");

    let broke = gen(json!({"max_budget": 0.0})).await;
    let resp = chat_with(&server, &broke, "gpt-4o", false).await;
    assert_eq!(header(&resp, "x-should-retry"), Some("false"));
    let (s, e) = error_of(resp).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("budget_exceeded")),
        "{e}"
    );

    let limited = gen(json!({"rpm_limit": 2})).await;
    assert_eq!(
        chat_with(&server, &limited, "mock", false).await.status(),
        200
    );
    assert_eq!(
        chat_with(&server, &limited, "mock", false).await.status(),
        200
    );
    let resp = chat_with(&server, &limited, "mock", false).await;
    assert!(resp.headers().contains_key("retry-after"));
    let (s, e) = error_of(resp).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (429, Some("rate_limit_exceeded")),
        "{e}"
    );

    // tpm: the prompt alone (counted before the call) is over a limit of 1 token a minute.
    let tpm = gen(json!({"tpm_limit": 1})).await;
    let resp = chat_with(&server, &tpm, "mock", false).await;
    assert!(
        resp.headers().contains_key("retry-after"),
        "{:?}",
        resp.headers()
    );
    let (s, e) = error_of(resp).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (429, Some("rate_limit_exceeded")),
        "{e}"
    );
    assert!(e["message"].as_str().unwrap_or("").contains("tpm"), "{e}");

    let admin_only = client()
        .get(server.url("/key/list"))
        .bearer_auth(&limited)
        .send()
        .await
        .expect("list");
    assert_eq!(admin_only.status(), 403);

    let metrics = metrics_text(&server).await;
    assert!(
        metrics.contains("llmroute_rejections_total{reason=\"budget_exceeded\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("llmroute_rejections_total{reason=\"key_rate_limited\"} 2"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowering_a_keys_spend_through_the_admin_api_lifts_its_budget_refusal_at_once() {
    let fake = fake(Duration::ZERO).await;
    let server = Server::start(&config(&fake, None));
    let key = virtual_key(&server, json!({"max_budget": 1.0})).await;
    assert_eq!(
        chat_with(&server, &key, "gpt-4o", false).await.status(),
        200
    );
    let (s, updated) = admin(&server, "/key/update", json!({"key": key, "spend": 1.5})).await;
    assert_eq!(
        (s, updated["spend"].as_f64()),
        (200, Some(1.5)),
        "{updated}"
    );
    let (s, e) = error_of(chat_with(&server, &key, "gpt-4o", false).await).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("budget_exceeded")),
        "{e}"
    );
    // An admin resets the spend (a LiteLLM habit): the running server takes it at once.
    let (s, updated) = admin(&server, "/key/update", json!({"key": key, "spend": 0.0})).await;
    assert_eq!(
        (s, updated["spend"].as_f64()),
        (200, Some(0.0)),
        "{updated}"
    );
    let resp = chat_with(&server, &key, "gpt-4o", false).await;
    assert_eq!(
        resp.status(),
        200,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    assert_eq!(
        fake.calls(),
        2,
        "the refused request never reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_for_ten_lets_at_most_ten_of_fifty_concurrent_requests_through() {
    let fake = fake(Duration::from_millis(300)).await;
    let server = Server::start(&config(&fake, None));
    // Each request reserves its estimate (~8 prompt tokens at $2.50/M + 100 max tokens at
    // $10/M ≈ $0.00102); the budget holds ten of them.
    let key = virtual_key(&server, json!({"max_budget": 0.0103})).await;
    let calls = (0..50).map(|_| chat_with(&server, &key, "gpt-4o", false));
    let statuses: Vec<u16> = futures::future::join_all(calls)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 400).count();
    assert!((1..=10).contains(&ok), "{ok} succeeded: {statuses:?}");
    assert_eq!(ok + refused, 50, "{statuses:?}");
    assert_eq!(
        fake.calls() as usize,
        ok,
        "refused requests never reached the upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_database_share_keys_and_logs() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let fake = fake(Duration::ZERO).await;
    let one = Server::start(&config(&fake, Some(&db.url)));
    let two = Server::start(&config(&fake, Some(&db.url)));
    let key = virtual_key(&one, json!({"key_alias": "shared"})).await;
    assert_eq!(
        chat_with(&two, &key, "gpt-4o", false).await.status(),
        200,
        "a key made on one works on the other"
    );
    assert_eq!(chat_with(&one, &key, "gpt-4o", false).await.status(), 200);
    // Each server writes its own logs in batches; asking flushes that server's queue.
    let path = format!("/spend/logs?api_key={key}");
    admin_get(&one, &path).await;
    let (_, logs_two) = admin_get(&two, &path).await;
    let (_, logs_one) = admin_get(&one, &path).await;
    assert_eq!(logs_one.as_array().map(Vec::len), Some(2), "{logs_one}");
    assert_eq!(logs_two.as_array().map(Vec::len), Some(2), "{logs_two}");
    let ready = get_json(&one, "/health/readiness", None).await;
    assert_eq!(ready["db"], "connected");
    drop((one, two));
    db.drop_database().await;
}
