//! A request an HTTP/2 server refuses unprocessed (`REFUSED_STREAM`, as while it rotates a
//! connection) is sent again on the direct path, as reqwest did, and answered.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use common::*;
use llmroute_core::Provider;

const ANSWER: &str = r#"{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#;

/// A raw HTTP/2 server (prior knowledge) that refuses its first stream and answers the rest.
async fn refuse_first_stream(streams: Arc<AtomicUsize>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accept");
        let mut conn = h2::server::handshake(socket).await.expect("h2 handshake");
        while let Some(stream) = conn.accept().await {
            let (_request, mut respond) = stream.expect("a stream");
            if streams.fetch_add(1, Ordering::SeqCst) == 0 {
                respond.send_reset(h2::Reason::REFUSED_STREAM);
                continue;
            }
            let head = http::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(())
                .expect("response head");
            let mut body = respond.send_response(head, false).expect("send head");
            body.send_data(Bytes::from_static(ANSWER.as_bytes()), true)
                .expect("send body");
        }
    });
    port
}

#[tokio::test]
async fn a_stream_refused_unprocessed_over_http2_is_sent_again() {
    let streams = Arc::new(AtomicUsize::new(0));
    let port = refuse_first_stream(streams.clone()).await;
    let p = provider_with(
        &deployment(&format!("http://127.0.0.1:{port}"), "d"),
        &llmroute_azure::ClientOptions {
            http2_prior_knowledge: true,
            ..Default::default()
        },
    );
    let done = p.chat(&hello()).await.expect("answered after the refusal");
    assert_eq!(done.model(), "gpt-4o-2024-08-06");
    assert_eq!(
        streams.load(Ordering::SeqCst),
        2,
        "refused once, sent again once"
    );
}
