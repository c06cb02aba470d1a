//! The pieces every proxied chat request goes through, one by one, with criterion:
//! request parse and re-serialize (the upstream body), auth lookup (master key, and a
//! virtual key already in the cache), cache key hash, SSE chunk parse and re-emit, and
//! cost computation.
//!
//! `cargo bench -p llmroute-server --bench hot_path` (add `-- --quick` for a fast pass).
//! The end-to-end figures are in `bench/` (`scripts/bench`); these say where the time of
//! one request goes.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use llmroute_azure::request::{prepare, Target};
use llmroute_azure::sse::SseParser;
use llmroute_azure::ApiVersion;
use llmroute_core::auth::Authenticator;
use llmroute_core::config::Config;
use llmroute_core::store::NewKey;
use llmroute_core::types::{ChatChunk, ChatRequest, Usage};
use llmroute_core::Secret;
use llmroute_server::prices::Prices;
use llmroute_store::{KeyAuth, KeyAuthConfig};

/// A typical SDK request: system + user message and a few parameters.
const REQUEST: &[u8] = br#"{"model":"gpt-4o","messages":[{"role":"system","content":"You are a helpful assistant. Answer briefly and cite sources when you can."},{"role":"user","content":"What is the capital of France, and what is it known for?"}],"temperature":0.2,"max_tokens":256,"top_p":1,"stream":false,"user":"user-1234"}"#;

/// One Azure content chunk as it arrives on the wire.
const CHUNK_EVENT: &[u8] = br#"data: {"choices":[{"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}},"delta":{"content":"Hello "},"finish_reason":null,"index":0,"logprobs":null}],"created":1750000000,"id":"chatcmpl-FakeAzure0000000000000000001","model":"gpt-4o-2024-08-06","object":"chat.completion.chunk","system_fingerprint":"fp_fake","usage":null}

"#;

fn request_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("request");
    g.throughput(Throughput::Bytes(REQUEST.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            let req: ChatRequest = serde_json::from_slice(black_box(REQUEST)).unwrap();
            req
        })
    });
    let req: ChatRequest = serde_json::from_slice(REQUEST).unwrap();
    let version = ApiVersion::parse(Some("2024-10-21"));
    let target = Target {
        deployment: "gpt-4o",
        version: &version,
        drop_params: false,
    };
    g.bench_function("azure_body", |b| {
        b.iter(|| prepare(black_box(&req), &target, false).unwrap())
    });
    g.bench_function("parse_and_azure_body", |b| {
        b.iter(|| {
            let req: ChatRequest = serde_json::from_slice(black_box(REQUEST)).unwrap();
            prepare(&req, &target, false).unwrap()
        })
    });
    g.finish();
}

fn auth(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (auth, virtual_key) = rt.block_on(async {
        let store = llmroute_store::open(None, dir.path()).await.unwrap();
        let created = store
            .create_key(NewKey {
                key_alias: Some("bench".into()),
                models: vec!["gpt-4o".into()],
                ..NewKey::default()
            })
            .await
            .unwrap();
        let auth = KeyAuth::new(
            Some(Secret::new("sk-bench-master-key".to_string())),
            store,
            KeyAuthConfig::default(),
        );
        // The first lookup reads the database; the benchmark measures the cached path.
        auth.authenticate(created.key.expose()).await.unwrap();
        (Arc::new(auth), created.key.expose().to_string())
    });
    let mut g = c.benchmark_group("auth");
    g.bench_function("master_key", |b| {
        b.iter(|| {
            rt.block_on(auth.authenticate(black_box("sk-bench-master-key")))
                .unwrap()
        })
    });
    g.bench_function("virtual_key_cached", |b| {
        b.iter(|| {
            rt.block_on(auth.authenticate(black_box(&virtual_key)))
                .unwrap()
        })
    });
    g.finish();
}

fn cache_key(c: &mut Criterion) {
    let req: ChatRequest = serde_json::from_slice(REQUEST).unwrap();
    c.bench_function("cache_key", |b| {
        b.iter(|| llmroute_core::cache::cache_key("gpt-4o", black_box(&req), "prod"))
    });
}

fn sse(c: &mut Criterion) {
    let mut g = c.benchmark_group("sse");
    g.throughput(Throughput::Bytes(CHUNK_EVENT.len() as u64));
    g.bench_function("parse_event", |b| {
        b.iter_batched_ref(
            SseParser::new,
            |p| {
                p.feed(black_box(CHUNK_EVENT)).unwrap();
                p.next_event().unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("parse_event_and_chunk", |b| {
        b.iter_batched_ref(
            SseParser::new,
            |p| {
                p.feed(black_box(CHUNK_EVENT)).unwrap();
                let event = p.next_event().unwrap();
                serde_json::from_str::<ChatChunk>(&event.data).unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    let mut p = SseParser::new();
    p.feed(CHUNK_EVENT).unwrap();
    let chunk: ChatChunk = serde_json::from_str(&p.next_event().unwrap().data).unwrap();
    g.bench_function("emit_event", |b| {
        b.iter(|| llmroute_server::http::sse::event(black_box(&chunk)))
    });
    // 100 events fed as one buffer, as a fast upstream delivers them.
    let many: Vec<u8> = CHUNK_EVENT.repeat(100);
    g.throughput(Throughput::Bytes(many.len() as u64));
    g.bench_function("parse_100_events_one_buffer", |b| {
        b.iter_batched_ref(
            SseParser::new,
            |p| {
                p.feed(black_box(&many)).unwrap();
                let mut n = 0;
                while let Some(e) = p.next_event() {
                    n += e.data.len();
                }
                n
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn cost(c: &mut Criterion) {
    let yaml = "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: azure/gpt-4o\n      api_base: http://127.0.0.1:1\n      api_key: k\n";
    let config = Config::from_yaml(yaml, "bench", &|_| None).unwrap();
    let prices = Prices::from_config(&config);
    let usage = Usage::new(812, 143);
    c.bench_function("cost", |b| {
        b.iter(|| {
            prices.cost(
                black_box(Some("gpt-4o")),
                black_box("gpt-4o-2024-08-06"),
                &usage,
            )
        })
    });
}

criterion_group!(benches, request_parse, auth, cache_key, sse, cost);
criterion_main!(benches);
