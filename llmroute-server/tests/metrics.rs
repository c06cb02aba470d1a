//! `/metrics` against the real binary: the Prometheus text is parsed and every series
//! is checked by its sample values, not by its `# HELP` line.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use llmroute_azure::fake::{FakeAzure, FakeConfig, Fault};
use serde_json::Value;

/// One sample line: `name{labels} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed `/metrics` page.
struct Scrape {
    samples: Vec<Sample>,
    text: String,
}

impl Scrape {
    async fn of(server: &Server) -> Scrape {
        let text = metrics_text(server).await;
        let samples = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| parse_sample(l).unwrap_or_else(|| panic!("unparsable sample line {l:?}")))
            .collect();
        Scrape { samples, text }
    }

    /// The value of the sample with exactly these labels.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == want)
            .map(|s| s.value)
    }

    /// Like [`Scrape::get`], failing the test with the whole page when it is missing.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?} in /metrics:\n{}", self.text))
    }

    /// The sum of every sample of `name` whose labels include `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.of_name(name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }

    fn requests(&self, route: &str, model: &str, status: &str) -> f64 {
        let labels = [("route", route), ("model", model), ("status", status)];
        self.value("llmroute_requests_total", &labels)
    }

    /// Upstream calls to `deployment`: the upstream duration histogram's count.
    fn calls(&self, deployment: &str) -> f64 {
        let labels = [("deployment", deployment)];
        self.value("llmroute_upstream_duration_seconds_count", &labels)
    }

    fn errors(&self, deployment: &str, r#type: &str) -> f64 {
        let labels = [("deployment", deployment), ("type", r#type)];
        self.value("llmroute_upstream_errors_total", &labels)
    }

    fn tokens(&self, model: &str, kind: &str) -> f64 {
        self.value("llmroute_tokens_total", &[("model", model), ("kind", kind)])
    }

    fn of_name<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }
}

/// Parses `name{k="v",...} value` (label values may hold escaped `\"`, `\\`, `\n`).
fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_string();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        let mut key = String::new();
        loop {
            let (i, c) = chars.next()?;
            match c {
                '}' => {
                    rest = &inner[i + 1..];
                    break;
                }
                ',' => {}
                '=' => {
                    if chars.next()?.1 != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next()?.1 {
                            '"' => break,
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            other => value.push(other),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                other => key.push(other),
            }
        }
    }
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some(Sample {
        name,
        labels,
        value,
    })
}

async fn fake(deployments: &[&str], latency: Duration) -> FakeAzure {
    FakeAzure::start(FakeConfig {
        deployments: deployments.iter().map(|d| d.to_string()).collect(),
        latency,
        ..FakeConfig::default()
    })
    .await
    .expect("fake azure")
}

/// A `model_list` entry: group `model` on the fake's `deployment`, with id `id`.
fn azure_model(fake: &FakeAzure, model: &str, deployment: &str, id: &str) -> String {
    format!(
        "  - model_name: {model}\n    litellm_params: {{model: azure/{deployment}, api_base: {}, api_key: fake-azure-key}}\n    model_info: {{id: {id}}}\n",
        fake.base_url()
    )
}

fn config(models: &[String], router_settings: &str) -> String {
    format!(
        "model_list:\n{}router_settings: {router_settings}\ngeneral_settings: {{master_key: {MASTER_KEY}}}\n",
        models.concat()
    )
}

/// Group `gpt-4o` on one fake deployment (id `eastus`), no retries; `fault` first.
async fn one_deployment(fault: Option<Fault>, latency: Duration) -> (FakeAzure, Server) {
    let fake = fake(&["gpt4o-eastus"], latency).await;
    if let Some(fault) = fault {
        fake.push_fault_for("gpt4o-eastus", fault);
    }
    let model = azure_model(&fake, "gpt-4o", "gpt4o-eastus", "eastus");
    let server = Server::start(&config(&[model], "{num_retries: 0}"));
    (fake, server)
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

const CHAT: &str = "/v1/chat/completions";

#[tokio::test]
async fn whole_answers_fill_latency_upstream_overhead_tokens_and_cost() {
    let (fake, server) = one_deployment(None, Duration::from_millis(20)).await;
    let (mut prompt, mut completion, mut cost) = (0.0, 0.0, 0.0);
    for i in 0..3 {
        let resp = post_chat(&server, &chat_body("gpt-4o", &format!("hi {i}"), false)).await;
        assert_eq!(resp.status(), 200);
        cost += header(&resp, "x-llmroute-response-cost")
            .parse::<f64>()
            .expect("cost header");
        let body: Value = resp.json().await.expect("json");
        prompt += body["usage"]["prompt_tokens"]
            .as_f64()
            .expect("prompt_tokens");
        completion += body["usage"]["completion_tokens"]
            .as_f64()
            .expect("completion");
    }
    let m = Scrape::of(&server).await;
    let route_model = [("route", CHAT), ("model", "gpt-4o")];
    assert_eq!(m.requests(CHAT, "gpt-4o", "200"), 3.0);
    assert_eq!(
        m.value("llmroute_request_duration_seconds_count", &route_model),
        3.0
    );
    let total = m.value("llmroute_request_duration_seconds_sum", &route_model);
    assert!(total >= 0.06, "3 requests of 20 ms upstream each: {total}");
    assert_eq!(fake.calls(), 3);
    assert_eq!(m.calls("eastus"), 3.0);
    let eastus = [("deployment", "eastus")];
    let upstream = m.value("llmroute_upstream_duration_seconds_sum", &eastus);
    assert!(
        (0.06..total).contains(&upstream),
        "upstream {upstream} s of {total} s"
    );
    assert_eq!(m.value("llmroute_overhead_seconds_count", &[]), 3.0);
    let overhead = m.value("llmroute_overhead_seconds_sum", &[]);
    assert!(
        (overhead - (total - upstream)).abs() < 1e-6,
        "overhead {overhead} s is not total {total} s minus upstream {upstream} s"
    );
    assert_eq!(m.tokens("gpt-4o", "prompt"), prompt);
    assert_eq!(m.tokens("gpt-4o", "completion"), completion);
    assert!(prompt > 0.0 && completion > 0.0);
    let dollars = m.value("llmroute_cost_dollars_total", &[("model", "gpt-4o")]);
    assert!(dollars > 0.0, "gpt-4o has a price");
    assert!(
        (dollars - cost).abs() < 1e-12,
        "cost_dollars_total {dollars} is not the sum of the cost headers {cost}"
    );
    assert_eq!(
        m.sum("llmroute_time_to_first_token_seconds_count", &[]),
        0.0
    );
    assert_eq!(m.sum("llmroute_upstream_errors_total", &[]), 0.0);
}

#[tokio::test]
async fn a_stream_records_time_to_first_token_and_its_usage() {
    let (fake, server) = one_deployment(None, Duration::from_millis(20)).await;
    let mut body = chat_body("gpt-4o", "stream me", true);
    body["stream_options"] = serde_json::json!({"include_usage": true});
    let resp = post_chat(&server, &body).await;
    assert_eq!(resp.status(), 200);
    let events = sse_events(&resp.text().await.expect("body"));
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let usage: Value = serde_json::from_str(&events[events.len() - 2]).expect("usage chunk");
    assert_eq!(fake.calls(), 1);
    let m = Scrape::of(&server).await;
    let model = [("model", "gpt-4o")];
    assert_eq!(
        m.value("llmroute_time_to_first_token_seconds_count", &model),
        1.0
    );
    let ttft = m.value("llmroute_time_to_first_token_seconds_sum", &model);
    let total = m.value(
        "llmroute_request_duration_seconds_sum",
        &[("route", CHAT), ("model", "gpt-4o")],
    );
    assert!(
        ttft >= 0.02 && ttft <= total,
        "first token after {ttft} s, request {total} s"
    );
    assert_eq!(m.calls("eastus"), 1.0);
    for kind in ["prompt", "completion"] {
        assert_eq!(
            m.tokens("gpt-4o", kind),
            usage["usage"][format!("{kind}_tokens")]
                .as_f64()
                .expect("usage"),
            "{kind}"
        );
    }
    assert!(m.value("llmroute_cost_dollars_total", &model) > 0.0);
}

#[tokio::test]
async fn a_429_a_fallback_recovered_from_is_an_upstream_error() {
    let fake = fake(&["gpt4o-eastus", "gpt4o-sweden"], Duration::ZERO).await;
    fake.push_fault_for(
        "gpt4o-eastus",
        Fault::RateLimited {
            retry_after_secs: Some(30),
            retry_after_ms: None,
        },
    );
    let server = Server::start(&config(
        &[
            azure_model(&fake, "gpt-4o", "gpt4o-eastus", "eastus"),
            azure_model(&fake, "gpt-4o-backup", "gpt4o-sweden", "sweden"),
        ],
        "{num_retries: 0, fallbacks: [{gpt-4o: [gpt-4o-backup]}]}",
    ));
    let resp = post_chat(&server, &chat_body("gpt-4o", "hi", false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-llmroute-deployment"), "sweden");
    assert_eq!(header(&resp, "x-llmroute-attempts"), "2");
    assert_eq!(fake.calls(), 2);
    let m = Scrape::of(&server).await;
    assert_eq!(m.errors("eastus", "upstream_rate_limited"), 1.0);
    assert_eq!(m.sum("llmroute_upstream_errors_total", &[]), 1.0);
    for deployment in ["eastus", "sweden"] {
        assert_eq!(m.calls(deployment), 1.0, "one call to {deployment}");
    }
    assert_eq!(m.requests(CHAT, "gpt-4o", "200"), 1.0);
    assert_eq!(m.value("llmroute_retried_requests_total", &[]), 1.0);
}

#[tokio::test]
async fn an_upstream_error_that_fails_the_request_is_counted_once() {
    let (_fake, server) = one_deployment(Some(Fault::ServerError(500)), Duration::ZERO).await;
    let resp = post_chat(&server, &chat_body("gpt-4o", "hi", false)).await;
    let status = resp.status().as_u16().to_string();
    assert!(resp.status().is_server_error(), "{status}");
    let m = Scrape::of(&server).await;
    assert_eq!(m.sum("llmroute_upstream_errors_total", &[]), 1.0);
    assert_eq!(m.errors("eastus", "upstream_status"), 1.0);
    assert_eq!(m.calls("eastus"), 1.0);
    assert_eq!(m.requests(CHAT, "gpt-4o", &status), 1.0);
}

#[tokio::test]
async fn a_stream_that_fails_after_its_first_chunk_is_an_upstream_error() {
    let cut = Fault::MidStreamError { after_events: 3 };
    let (_fake, server) = one_deployment(Some(cut), Duration::ZERO).await;
    let resp = post_chat(&server, &chat_body("gpt-4o", "hi", true)).await;
    assert_eq!(resp.status(), 200);
    let events = sse_events(&resp.text().await.expect("body"));
    assert!(
        events.last().is_some_and(|e| e.contains("\"error\"")),
        "{events:?}"
    );
    let m = Scrape::of(&server).await;
    assert_eq!(m.sum("llmroute_upstream_errors_total", &[]), 1.0);
    assert_eq!(m.errors("eastus", "upstream_status"), 1.0);
    assert_eq!(m.calls("eastus"), 1.0);
    assert_eq!(
        m.value(
            "llmroute_time_to_first_token_seconds_count",
            &[("model", "gpt-4o")]
        ),
        1.0
    );
}

#[tokio::test]
async fn every_route_is_counted_by_its_pattern() {
    let server = Server::start(&mock_config(""));
    let c = client();
    let get = |path: &str| c.get(server.url(path)).bearer_auth(MASTER_KEY).send();
    assert_eq!(get("/health").await.expect("health").status(), 200);
    assert_eq!(get("/v1/models").await.expect("models").status(), 200);
    assert_eq!(get("/v1/models/mock").await.expect("model").status(), 200);
    let raw_id = "no-such-model-7f3a";
    assert_eq!(
        get(&format!("/v1/models/{raw_id}"))
            .await
            .expect("model")
            .status(),
        404
    );
    assert_eq!(get("/no/such/path").await.expect("404").status(), 404);
    let delete = c.delete(server.url("/health")).send().await.expect("405");
    assert_eq!(delete.status(), 405);
    assert_eq!(get(CHAT).await.expect("405").status(), 405);
    let unauthenticated = c
        .post(server.url(CHAT))
        .json(&chat_body("mock", "hi", false))
        .send()
        .await
        .expect("401");
    assert_eq!(unauthenticated.status(), 401);
    let azure = c
        .post(server.url("/openai/deployments/mock/chat/completions"))
        .header("api-key", MASTER_KEY)
        .json(&chat_body("mock", "hi", false))
        .send()
        .await
        .expect("azure route");
    assert_eq!(azure.status(), 200);
    metrics_text(&server).await;

    let m = Scrape::of(&server).await;
    let count = |route, model, status| m.requests(route, model, status);
    assert_eq!(count("/health", "-", "200"), 1.0);
    assert_eq!(count("/health", "-", "405"), 1.0);
    assert_eq!(count("/v1/models", "-", "200"), 1.0);
    assert_eq!(count("/v1/models/{id}", "-", "200"), 1.0);
    assert_eq!(count("/v1/models/{id}", "-", "404"), 1.0);
    assert_eq!(count("unmatched", "-", "404"), 1.0);
    assert_eq!(count(CHAT, "-", "405"), 1.0);
    assert_eq!(count(CHAT, "-", "401"), 1.0);
    assert_eq!(
        count(
            "/openai/deployments/{deployment}/chat/completions",
            "mock",
            "200"
        ),
        1.0
    );
    assert_eq!(count("/metrics", "-", "200"), 1.0, "the first scrape");
    assert_eq!(
        m.value(
            "llmroute_request_duration_seconds_count",
            &[("route", "/health"), ("model", "-")]
        ),
        2.0
    );
    assert_eq!(m.sum("llmroute_requests_total", &[]), 10.0, "{}", m.text);
    assert!(
        !m.text.contains(raw_id) && !m.text.contains("/no/such/path"),
        "a raw path became a label:\n{}",
        m.text
    );
}
