//! Bounded property tests, the in-`cargo test` twin of the fuzz targets in `fuzz/`:
//! random and mutated inputs for a couple of seconds; the parsers must never panic, and
//! SSE events must not depend on how the bytes were split into reads.

use std::time::{Duration, Instant};

use llmroute_azure::errors::{
    map_status, map_stream_error, retry_after, AzureErrorBody, ErrorContext,
};
use llmroute_azure::sse::{SseEvent, SseParser};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const BUDGET: Duration = Duration::from_millis(1500);

const STREAM: &[u8] = b"data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",\"prompt_filter_results\":[{\"prompt_index\":0}]}\n\ndata: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Ol\xc3\xa1 \xe2\x9c\x93\"}}]}\r\n\r\n: keep-alive\r\rdata: line one\ndata: line two\nevent: error\n\ndata: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\ndata: [DONE]\n\n";

const ERRORS: &[&[u8]] = &[
    br#"{"error":{"code":"401","message":"Access denied due to invalid subscription key"}}"#,
    br#"{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}}"#,
    br#"{"error":{"message":"filtered","type":null,"param":"prompt","code":"content_filter","innererror":{"code":"ResponsibleAIPolicyViolation","content_filter_result":{"hate":{"filtered":true,"severity":"high"}}}}}"#,
    br#"{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
    br#"{"error":{"code":"429","message":"Please retry after 45 seconds."}}"#,
];

fn events(reads: &[&[u8]]) -> Vec<SseEvent> {
    let mut parser = SseParser::with_max_event_bytes(1 << 20);
    let mut out = Vec::new();
    for read in reads {
        parser.feed(read).expect("under the limit");
        out.extend(std::iter::from_fn(|| parser.next_event()));
    }
    out.extend(std::iter::from_fn(|| parser.finish()));
    out
}

fn mutate(rng: &mut StdRng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..rng.gen_range(1..8) {
        let at = rng.gen_range(0..=v.len());
        match rng.gen_range(0..5) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] = rng.gen();
            }
            1 => v.insert(
                at,
                *[b'\n', b'\r', b':', b' ', b'{', b'"', 0xff, 0xc3]
                    .get(rng.gen_range(0..8))
                    .unwrap_or(&b'x'),
            ),
            2 if at < v.len() => {
                v.remove(at);
            }
            3 => v.truncate(at),
            _ => {
                let from = rng.gen_range(0..=v.len());
                let to = rng.gen_range(from..=v.len());
                let piece = v[from..to].to_vec();
                v.splice(at..at, piece);
            }
        }
    }
    v
}

#[test]
fn sse_parser_split_invariance_on_random_and_mutated_streams() {
    let mut rng = StdRng::seed_from_u64(0x05ee_da2e);
    let started = Instant::now();
    let mut cases = 0u64;
    while started.elapsed() < BUDGET {
        let input: Vec<u8> = if cases.is_multiple_of(3) {
            (0..rng.gen_range(0..300))
                .map(|_| {
                    *[b'd', b'a', b't', b':', b' ', b'\n', b'\r', b'x', 0xe2, 0x9c]
                        .get(rng.gen_range(0..10))
                        .unwrap_or(&0)
                })
                .collect()
        } else {
            mutate(&mut rng, STREAM)
        };
        let whole = events(&[&input]);
        let size = rng.gen_range(1..=16);
        let reads: Vec<&[u8]> = input.chunks(size).collect();
        assert_eq!(
            whole,
            events(&reads),
            "split every {size} bytes changed the events of {input:?}"
        );
        for ev in &whole {
            let _ = serde_json::from_str::<llmroute_core::types::ChatChunk>(&ev.data);
        }
        cases += 1;
    }
    assert!(cases > 100, "only {cases} cases ran");
    eprintln!(
        "sse property test: {cases} cases in {:?}",
        started.elapsed()
    );
}

#[test]
fn error_parser_never_panics_on_random_or_mutated_bodies() {
    let mut rng = StdRng::seed_from_u64(0xe220);
    let ctx = ErrorContext {
        deployment: "d",
        api_base: "https://r.openai.azure.com",
        api_version: "2024-10-21",
        entra: false,
        request_id: None,
    };
    let started = Instant::now();
    let mut cases = 0u64;
    while started.elapsed() < BUDGET {
        let seed = ERRORS[rng.gen_range(0..ERRORS.len())];
        let body = if cases.is_multiple_of(4) {
            (0..rng.gen_range(0..64)).map(|_| rng.gen()).collect()
        } else {
            mutate(&mut rng, seed)
        };
        let _ = AzureErrorBody::parse(&body);
        let text = String::from_utf8_lossy(&body);
        let retry = retry_after(Some(&text), Some(&text));
        for status in [400u16, 401, 403, 404, 408, 429, 500, 503, 418] {
            let e = map_status(status, &body, retry, &ctx);
            assert!(!e.to_json().is_empty());
        }
        let _ = map_stream_error(&body, &ctx);
        cases += 1;
    }
    assert!(cases > 100, "only {cases} cases ran");
    eprintln!(
        "error property test: {cases} cases in {:?}",
        started.elapsed()
    );
}
