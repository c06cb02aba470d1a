//! The streamed response body: chunks out as server-sent events as they arrive.
//!
//! Each upstream chunk becomes one `data: {json}\n\n` frame, written as soon as it is
//! made (hyper flushes whenever the upstream has nothing more ready, so chunks that came
//! in one upstream read leave in one write; docs/performance.md has the measurement of
//! flushing each on its own, which cost more than it gave). Two frames are flushed on
//! their own, so a burst never holds them back: the first, and the first with content
//! (the first token the user sees); the
//! final usage chunk is sent only when the caller asked for it; `data: [DONE]` ends a
//! good stream, and an `error` event ends one that failed after the 200. Dropping the
//! body (the caller went away) drops the upstream stream, which cancels the upstream
//! call, and closes the ledger with the usage known so far.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use futures::Stream;
use hyper::body::Frame;
use llmroute_core::types::{ChatChunk, Usage};
use llmroute_core::{ChunkStream, Error};

use crate::accounting::{Ledger, Outcome};
use crate::response_cache::StreamCapture;

/// The body stream of an SSE response.
pub struct SseBody {
    upstream: ChunkStream,
    capture: Option<StreamCapture>,
    content_chunks: u64,
    include_usage: bool,
    done: bool,
    ledger: Option<Ledger>,
    outcome: Outcome,
    upstream_started: Instant,
    /// Return `Pending` once before the next frame, so hyper writes out what it holds.
    flush_before_next: bool,
}

impl SseBody {
    /// Wraps an open upstream stream; `outcome` holds what is known so far (deployment,
    /// attempts, upstream time until the stream opened); `capture` assembles the answer
    /// for the response cache.
    pub fn new(
        upstream: ChunkStream,
        include_usage: bool,
        ledger: Ledger,
        outcome: Outcome,
        capture: Option<StreamCapture>,
    ) -> Self {
        SseBody {
            upstream,
            capture,
            content_chunks: 0,
            include_usage,
            done: false,
            ledger: Some(ledger),
            outcome,
            upstream_started: Instant::now(),
            flush_before_next: false,
        }
    }

    fn close(&mut self, client_gone: bool) {
        if let Some(ledger) = self.ledger.take() {
            let mut outcome = std::mem::take(&mut self.outcome);
            outcome.client_gone = client_gone;
            if client_gone && outcome.error.is_none() {
                // The status sent was 200; the log and the request record say the stream
                // did not reach its end (a caller who left, or a cut at shutdown).
                outcome.error = Some("client_disconnected");
            }
            if outcome.usage.is_none() && (client_gone || outcome.error.is_some()) {
                // Cut before the usage chunk: charge what is known, not nothing.
                outcome.usage = Some(Usage::new(outcome.prompt_estimate, self.content_chunks));
            }
            outcome.upstream_time += self.upstream_started.elapsed();
            ledger.close(outcome);
        }
    }

    /// Turns one chunk into a frame, or `None` when it is not for the caller.
    fn frame_for(&mut self, chunk: ChatChunk) -> Option<Bytes> {
        if let Some(capture) = self.capture.as_mut() {
            capture.push(&chunk);
        }
        if let Some(usage) = &chunk.usage {
            self.outcome.usage = Some(usage.clone());
        }
        if chunk.is_usage_only() && !self.include_usage {
            return None;
        }
        if chunk.is_annotation_only() {
            return None;
        }
        if self.outcome.upstream_model.is_none() && !chunk.model.is_empty() {
            self.outcome.upstream_model = Some(chunk.model.clone());
        }
        if chunk
            .choices
            .iter()
            .any(|c| c.delta.content.as_deref().is_some_and(|t| !t.is_empty()))
        {
            self.content_chunks += 1;
            self.flush_before_next |= self.content_chunks == 1;
        }
        if self.outcome.time_to_first_token.is_none() {
            // The first frame for the caller.
            self.flush_before_next = true;
            if let Some(ledger) = &self.ledger {
                self.outcome.time_to_first_token = Some(ledger.started().elapsed());
            }
        }
        Some(event(&chunk))
    }
}

/// `data: <json>\n\n` for one chunk.
pub fn event<T: serde::Serialize>(value: &T) -> Bytes {
    let mut buf = BytesMut::with_capacity(256).writer();
    buf.get_mut().put_slice(b"data: ");
    if serde_json::to_writer(&mut buf, value).is_err() {
        return Bytes::from_static(b"data: {\"error\":{\"message\":\"internal error: could not serialize a chunk\",\"type\":\"internal_error\",\"param\":null,\"code\":null}}\n\n");
    }
    let mut buf = buf.into_inner();
    buf.put_slice(b"\n\n");
    buf.freeze()
}

/// The `error` event that ends a stream which failed after the 200.
pub fn error_event(err: &Error) -> Bytes {
    let mut out = BytesMut::with_capacity(256);
    out.put_slice(b"data: ");
    out.put_slice(&err.to_json());
    out.put_slice(b"\n\n");
    out.freeze()
}

impl Stream for SseBody {
    type Item = Result<Frame<Bytes>, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if std::mem::take(&mut this.flush_before_next) {
                // hyper writes what it holds when the body is not ready; polled again at once.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            match this.upstream.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Some(bytes) = this.frame_for(chunk) {
                        return Poll::Ready(Some(Ok(Frame::data(bytes))));
                    }
                }
                Poll::Ready(Some(Err(err))) => {
                    this.done = true;
                    this.outcome.error = Some(err.label());
                    this.outcome.upstream_error = err.is_upstream();
                    tracing::warn!(error = %err, "upstream stream failed after the first byte");
                    this.close(false);
                    return Poll::Ready(Some(Ok(Frame::data(error_event(&err)))));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    if let Some(capture) = this.capture.take() {
                        capture.finish();
                    }
                    this.close(false);
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
                        b"data: [DONE]\n\n",
                    )))));
                }
            }
        }
    }
}

impl Drop for SseBody {
    fn drop(&mut self) {
        // Still open: the caller went away before the end.
        self.close(true);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::SystemTime;

    use futures::task::ArcWake;
    use llmroute_core::config::{Config, ConfigSource};
    use serde_json::json;

    use super::*;
    use crate::gateway::{Gateway, Options};

    struct Wakes(AtomicUsize);

    impl ArcWake for Wakes {
        fn wake_by_ref(arc_self: &Arc<Self>) {
            arc_self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn chunk(delta: serde_json::Value) -> ChatChunk {
        serde_json::from_value(json!({"id": "c1", "object": "chat.completion.chunk",
            "created": 1, "model": "m", "choices": [{"index": 0, "delta": delta}]}))
        .expect("a chat chunk")
    }

    /// A burst of chunks all ready at once: the first frame (the role) and the first
    /// with content each end a write of their own (the body is not ready once after
    /// them, and wakes itself); the rest leave together.
    #[tokio::test]
    async fn the_first_frame_and_the_first_content_frame_are_flushed_on_their_own() {
        let dir = tempfile::tempdir().expect("temp dir");
        let yaml = "model_list: [{model_name: m, litellm_params: {model: mock/echo}}]\n\
                    general_settings: {master_key: sk-test}";
        let config = Config::from_yaml(yaml, "test", &|_| None).expect("config");
        let options = Options {
            source: ConfigSource::Embedded,
            data_dir: dir.path().to_path_buf(),
        };
        let gw = Gateway::build(config, options).await.expect("gateway");
        let ledger = Ledger::open(
            gw.clone(),
            gw.snapshot(),
            "req-sse".into(),
            "/v1/chat/completions",
            Instant::now(),
            SystemTime::now(),
            None,
            "m".into(),
            true,
        );
        let chunks = [
            json!({"role": "assistant", "content": ""}),
            json!({"content": "Hel"}),
            json!({"content": "lo"}),
            json!({"content": "!"}),
        ]
        .map(|d| Ok(chunk(d)));
        let upstream: ChunkStream = Box::pin(futures::stream::iter(chunks));
        let mut body = SseBody::new(upstream, false, ledger, Outcome::default(), None);
        let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
        let waker = futures::task::waker(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let mut polls = String::new();
        while polls.len() < 20 {
            match Pin::new(&mut body).poll_next(&mut cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let data = frame.into_data().expect("a data frame");
                    polls.push(if data.starts_with(b"data: [DONE]") {
                        'D'
                    } else {
                        'F'
                    });
                }
                Poll::Pending => polls.push('P'),
                Poll::Ready(None) => break,
            }
        }
        assert_eq!(polls, "FPFPFFD", "F frame, P not ready, D [DONE]");
        assert_eq!(
            wakes.0.load(Ordering::SeqCst),
            2,
            "each P woke the task itself"
        );
    }
}
