//! Streaming: Azure's annotation chunks, the usage chunk, `[DONE]`, truncation, resets,
//! and the parser fed one byte at a time.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use futures::StreamExt;
use llmroute_azure::fake::{FakeConfig, Fault};
use llmroute_azure::stream::{chunk_stream, StreamLabels};
use llmroute_core::types::{ChatChunk, StreamOptions};
use llmroute_core::{Error, Provider};

fn labels() -> Arc<StreamLabels> {
    Arc::new(StreamLabels {
        deployment: "d".into(),
        api_base: "http://x".into(),
        api_version: "2024-10-21".into(),
    })
}

#[tokio::test]
async fn stream_drops_annotations_asks_for_usage_and_ends_with_the_usage_chunk() {
    let fake = fake(&["d"]).await;
    let p = provider(&deployment(&fake.base_url(), "d"), false);
    let chunks: Vec<ChatChunk> = collect(&p, &hello())
        .await
        .into_iter()
        .map(|c| c.expect("chunk"))
        .collect();
    let body = fake.last_request().expect("recorded").json();
    assert_eq!(body["stream"], true);
    assert_eq!(
        body["stream_options"]["include_usage"], true,
        "usage is always asked upstream"
    );
    assert!(
        chunks.iter().all(|c| !c.id.is_empty()),
        "annotation chunk passed on"
    );
    assert_eq!(
        chunks[0].choices[0].delta.role.as_deref(),
        Some("assistant")
    );
    assert_eq!(text_of(&chunks), "Hello! How can I help you today?");
    let last = chunks.last().expect("chunks");
    assert!(last.is_usage_only());
    assert_eq!(
        last.usage
            .as_ref()
            .map(|u| (u.prompt_tokens, u.completion_tokens)),
        Some((12, 7))
    );
    assert_eq!(chunks.iter().filter(|c| c.is_annotation_only()).count(), 0);
}

#[tokio::test]
async fn a_hundred_chunk_stream_arrives_whole() {
    let fake = fake_with(FakeConfig {
        deployments: vec!["d".into()],
        stream_chunks: 100,
        response_text: "tok ".into(),
        ..FakeConfig::default()
    })
    .await;
    let p = provider(&deployment(&fake.base_url(), "d"), false);
    let mut req = hello();
    req.stream_options = Some(StreamOptions {
        include_usage: Some(true),
        ..Default::default()
    });
    let chunks: Vec<ChatChunk> = collect(&p, &req)
        .await
        .into_iter()
        .map(|c| c.expect("chunk"))
        .collect();
    assert_eq!(text_of(&chunks), "tok ".repeat(100));
    assert_eq!(
        chunks.len(),
        1 + 100 + 1 + 1,
        "role, content, finish, usage"
    );
}

#[tokio::test]
async fn stream_cut_before_done_is_a_truncation_error() {
    let fake = fake(&["d"]).await;
    fake.push_fault(Fault::CutStream { after_events: 4 });
    let p = provider(&deployment(&fake.base_url(), "d"), false);
    let items = collect(&p, &hello()).await;
    let (last, firsts) = items.split_last().expect("items");
    assert!(firsts.iter().all(|c| c.is_ok()));
    match last {
        Err(e @ Error::UpstreamProtocol { message }) => {
            assert!(message.contains("stream truncated"), "{message}");
            assert!(e.is_retryable());
        }
        other => panic!("expected truncation, got {other:?}"),
    }
}

#[tokio::test]
async fn error_event_mid_stream_ends_the_stream_with_that_error() {
    let fake = fake(&["d"]).await;
    fake.push_fault(Fault::MidStreamError { after_events: 3 });
    let p = provider(&deployment(&fake.base_url(), "d"), false);
    let items = collect(&p, &hello()).await;
    match items.last() {
        Some(Err(Error::Upstream { message, .. })) => {
            assert!(message.contains("middle of the stream"), "{message}")
        }
        other => panic!("expected mid-stream error, got {other:?}"),
    }
}

#[tokio::test]
async fn connection_reset_is_a_retryable_connection_error() {
    let fake = fake(&["d"]).await;
    fake.push_fault(Fault::ConnectionReset);
    fake.push_fault(Fault::ConnectionReset);
    let p = provider(&deployment(&fake.base_url(), "d"), false);
    for result in [
        p.chat(&hello()).await.map(|_| ()),
        p.chat_stream(&hello()).await.map(|_| ()),
    ] {
        match result {
            Err(e @ Error::UpstreamConnection { .. }) => {
                assert!(e.is_retryable() && e.status() == 502)
            }
            other => panic!("expected a connection error, got {other:?}"),
        }
    }
    assert!(
        p.chat(&hello()).await.is_ok(),
        "the next request works again"
    );
}

#[tokio::test]
async fn slow_stream_and_delayed_first_byte_still_complete() {
    let fake = fake(&["d"]).await;
    fake.push_fault(Fault::SlowStream(Duration::from_millis(5)));
    fake.push_fault(Fault::DelayFirstByte(Duration::from_millis(50)));
    let p = provider(&deployment(&fake.base_url(), "d"), false);
    let started = std::time::Instant::now();
    let chunks = collect(&p, &hello()).await;
    assert!(chunks.iter().all(|c| c.is_ok()));
    assert!(started.elapsed() >= Duration::from_millis(5 * 10));
    let started = std::time::Instant::now();
    assert!(p.chat(&hello()).await.is_ok());
    assert!(started.elapsed() >= Duration::from_millis(50));
}

#[tokio::test]
async fn stream_timeout_bounds_the_wait_for_the_first_byte() {
    let fake = fake(&["d"]).await;
    fake.push_fault(Fault::DelayFirstByte(Duration::from_secs(5)));
    let mut cfg = deployment(&fake.base_url(), "d");
    cfg.stream_timeout = Some(Duration::from_millis(100));
    let p = provider(&cfg, false);
    match p.chat_stream(&hello()).await {
        Err(e @ Error::Timeout { .. }) => assert_eq!(e.status(), 408),
        other => panic!("expected a timeout, got {other:?}"),
    }
    let mut cfg = deployment(&fake.base_url(), "d");
    cfg.timeout = Some(Duration::from_millis(100));
    fake.push_fault(Fault::DelayFirstByte(Duration::from_secs(5)));
    assert!(matches!(
        provider(&cfg, false).chat(&hello()).await,
        Err(Error::Timeout { .. })
    ));
}

/// Records the fake's raw stream (with `\r\n` line ends mixed in and a multi-byte
/// character), then feeds it one byte per read: the chunks must be the same.
#[tokio::test]
async fn rechunking_a_recorded_stream_byte_by_byte_changes_nothing() {
    let fake = fake_with(FakeConfig {
        deployments: vec!["d".into()],
        response_text: "Olá — ✓ done ".into(),
        ..FakeConfig::default()
    })
    .await;
    let raw = reqwest::Client::new()
        .post(format!("{}/openai/deployments/d/chat/completions?api-version=2024-10-21", fake.base_url()))
        .header("api-key", KEY)
        .body(r#"{"messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}"#)
        .send()
        .await
        .expect("send")
        .bytes()
        .await
        .expect("body");
    let text = String::from_utf8(raw.to_vec()).expect("utf8");
    let crlf =
        text.replacen("\n\n", "\r\n\r\n", 3)
            .replacen("data: {", ": keep-alive\n\ndata: {", 1);
    for recorded in [raw.to_vec(), crlf.into_bytes()] {
        let whole: Vec<_> = chunk_stream(
            futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(recorded.clone()))]),
            labels(),
        )
        .collect()
        .await;
        let bytes = recorded
            .iter()
            .map(|b| Ok::<_, std::io::Error>(Bytes::copy_from_slice(&[*b])))
            .collect::<Vec<_>>();
        let split: Vec<_> = chunk_stream(futures::stream::iter(bytes), labels())
            .collect()
            .await;
        let whole: Vec<ChatChunk> = whole.into_iter().map(|c| c.expect("chunk")).collect();
        let split: Vec<ChatChunk> = split.into_iter().map(|c| c.expect("chunk")).collect();
        assert_eq!(whole, split);
        assert_eq!(text_of(&split), "Olá — ✓ done ");
        assert!(split.last().is_some_and(|c| c.is_usage_only()));
        // And split at every single boundary into two reads.
        for cut in 1..recorded.len() {
            let two = [
                Bytes::copy_from_slice(&recorded[..cut]),
                Bytes::copy_from_slice(&recorded[cut..]),
            ];
            let got: Vec<_> = chunk_stream(
                futures::stream::iter(two.map(Ok::<_, std::io::Error>)),
                labels(),
            )
            .collect()
            .await;
            let got: Vec<ChatChunk> = got.into_iter().map(|c| c.expect("chunk")).collect();
            assert_eq!(got, whole, "split at byte {cut}");
        }
    }
}

#[tokio::test]
async fn eof_without_done_on_recorded_bytes_is_truncation() {
    let items: Vec<_> = chunk_stream(
        futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(
            b"data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
        ))]),
        labels(),
    )
    .collect()
    .await;
    assert_eq!(items.len(), 2);
    assert!(
        matches!(&items[1], Err(Error::UpstreamProtocol { message }) if message.contains("stream truncated"))
    );
}

#[tokio::test]
async fn finished_streams_give_their_connection_back_to_the_pool() {
    let fake = fake_with(FakeConfig {
        deployments: vec!["d".into()],
        chunk_delay: Duration::from_millis(1),
        ..FakeConfig::default()
    })
    .await;
    let p = provider(&deployment(&fake.base_url(), "d"), false);
    for _ in 0..5 {
        let chunks = collect(&p, &hello()).await;
        assert!(chunks.iter().all(|c| c.is_ok()));
        assert!(p.chat(&hello()).await.is_ok());
    }
    assert_eq!(fake.calls(), 10);
    assert_eq!(
        fake.connections(),
        1,
        "every request reused one pooled connection"
    );
}

#[tokio::test]
async fn a_late_annotation_chunk_after_the_answer_is_not_passed_on() {
    // Azure's asynchronous content filter sends an annotation (empty id and object,
    // content_filter_offsets) after the finish_reason chunk; it is not an OpenAI chunk.
    let recorded = concat!(
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n",
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"id\":\"\",\"object\":\"\",\"created\":0,\"model\":\"\",\"choices\":[{\"index\":0,\"finish_reason\":null,\"content_filter_results\":{\"hate\":{\"filtered\":false,\"severity\":\"safe\"}},\"content_filter_offsets\":{\"check_offset\":0,\"start_offset\":0,\"end_offset\":2}}]}\n\n",
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}\n\n",
        "data: [DONE]\n\n",
    );
    let items: Vec<_> = chunk_stream(
        futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(
            recorded.as_bytes(),
        ))]),
        labels(),
    )
    .collect()
    .await;
    let chunks: Vec<_> = items.into_iter().map(|c| c.expect("no error")).collect();
    assert_eq!(chunks.len(), 3, "{chunks:?}");
    assert!(chunks.iter().all(|c| c.id == "c1"), "{chunks:?}");
    assert_eq!(chunks[2].usage.as_ref().map(|u| u.total_tokens), Some(6));
}

#[tokio::test]
async fn the_clients_read_timeout_ends_a_stalled_stream_with_a_timeout() {
    let fake = fake(&["d"]).await;
    fake.push_fault(Fault::SlowStream(Duration::from_millis(500)));
    let p = provider_with(
        &deployment(&fake.base_url(), "d"),
        &llmroute_azure::ClientOptions {
            read_timeout: Duration::from_millis(100),
            ..Default::default()
        },
    );
    let started = std::time::Instant::now();
    let items = collect(&p, &hello()).await;
    let last = items.last().expect("an item");
    assert!(matches!(last, Err(Error::Timeout { .. })), "{last:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "ended by the 100 ms read timeout, not by the 100 × 500 ms stream"
    );
}
