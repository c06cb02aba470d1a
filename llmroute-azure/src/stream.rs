//! Turning Azure's event-stream body into chat chunks.
//!
//! Bytes go through [`SseParser`]; each event is a `chat.completion.chunk`. Azure's
//! annotation chunks (no choices and no usage, or an empty `id`: prompt-filter results
//! and late content-filter results) are not passed on; the final usage-only chunk is.
//! The stream ends at `data: [DONE]`. A body that ends without it is an
//! [`Error::UpstreamProtocol`] ("stream truncated"), a broken connection an
//! [`Error::UpstreamConnection`] (or [`Error::Timeout`]), and an `{"error":…}` event the
//! error it carries. After an error the stream ends.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use llmroute_core::types::ChatChunk;
use llmroute_core::{ChunkStream, Error};

use crate::errors::{map_stream_error, ErrorContext};
use crate::sse::SseParser;

/// What the messages of a stream's errors name.
#[derive(Debug, Clone)]
pub struct StreamLabels {
    /// Azure deployment name.
    pub deployment: String,
    /// `api_base`.
    pub api_base: String,
    /// api-version in use.
    pub api_version: String,
}

/// A chunk stream over any byte stream (the reqwest body in production, recorded bytes
/// in tests).
pub fn chunk_stream<S, E>(bytes: S, labels: Arc<StreamLabels>) -> ChunkStream
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<BodyError> + 'static,
{
    Box::pin(Chunks::new(bytes, labels))
}

/// Why reading a stream body failed.
#[derive(Debug)]
pub struct BodyError {
    /// Whether it was a read timeout.
    pub timeout: bool,
    /// The cause, for the message.
    pub message: String,
}

impl From<reqwest::Error> for BodyError {
    fn from(e: reqwest::Error) -> Self {
        BodyError {
            timeout: e.is_timeout(),
            message: full_error(&e),
        }
    }
}

impl From<std::io::Error> for BodyError {
    fn from(e: std::io::Error) -> Self {
        BodyError {
            timeout: e.kind() == std::io::ErrorKind::TimedOut,
            message: e.to_string(),
        }
    }
}

/// An error with its chain of causes, `a: b: c`.
pub fn full_error(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

struct Chunks<S> {
    bytes: Pin<Box<S>>,
    parser: SseParser,
    ready: VecDeque<Result<ChatChunk, Error>>,
    labels: Arc<StreamLabels>,
    chunks_seen: usize,
    finished: bool,
    /// `[DONE]` was seen: the rest of the body is read and discarded so the connection
    /// can go back to the pool.
    done: bool,
    drained: usize,
}

/// How much is read after `[DONE]` before giving up on reusing the connection.
const DRAIN_LIMIT: usize = 64 * 1024;

/// What [`Chunks::drain`] found.
#[derive(Debug, PartialEq, Eq)]
enum Drained {
    /// Needs more bytes.
    More,
    /// One chunk was queued; more events may be waiting in the parser.
    Queued,
    /// `data: [DONE]`.
    Done,
    /// An error was queued; the stream ends.
    Failed,
}

impl<S> Chunks<S> {
    fn new(bytes: S, labels: Arc<StreamLabels>) -> Self {
        Chunks {
            bytes: Box::pin(bytes),
            parser: SseParser::new(),
            ready: VecDeque::new(),
            labels,
            chunks_seen: 0,
            finished: false,
            done: false,
            drained: 0,
        }
    }

    /// Moves complete events out of the parser until one chunk is queued, `[DONE]`, an
    /// error, or the parser needs more bytes. One chunk at a time: when a read brings a
    /// burst of events, the first goes on its way before the rest are parsed.
    fn drain(&mut self, eof: bool) -> Drained {
        loop {
            let event = if eof {
                self.parser.finish()
            } else {
                self.parser.next_event()
            };
            let Some(event) = event else {
                return Drained::More;
            };
            if event.is_done() {
                return Drained::Done;
            }
            if event.data.is_empty() {
                continue;
            }
            match serde_json::from_str::<ChatChunk>(&event.data) {
                Ok(chunk)
                    if chunk.extra.contains_key("error")
                        || event.event.as_deref() == Some("error") =>
                {
                    self.ready
                        .push_back(Err(map_stream_error(event.data.as_bytes(), &self.ctx())));
                    return Drained::Failed;
                }
                Ok(chunk) => {
                    self.chunks_seen += 1;
                    let annotation =
                        chunk.usage.is_none() && (chunk.choices.is_empty() || chunk.id.is_empty());
                    if !annotation {
                        self.ready.push_back(Ok(chunk));
                        return Drained::Queued;
                    }
                }
                Err(_) if event.event.as_deref() == Some("error") => {
                    self.ready
                        .push_back(Err(map_stream_error(event.data.as_bytes(), &self.ctx())));
                    return Drained::Failed;
                }
                Err(e) => {
                    self.ready.push_back(Err(Error::UpstreamProtocol {
                        message: format!(
                            "Azure deployment {} sent a stream event that is not a chat chunk ({e}): {}",
                            self.labels.deployment,
                            event.data.chars().take(200).collect::<String>()
                        ),
                    }));
                    return Drained::Failed;
                }
            }
        }
    }

    fn ctx(&self) -> ErrorContext<'_> {
        ErrorContext {
            deployment: &self.labels.deployment,
            api_base: &self.labels.api_base,
            api_version: &self.labels.api_version,
            entra: false,
            request_id: None,
        }
    }
}

impl<S, E> Stream for Chunks<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Into<BodyError>,
{
    type Item = Result<ChatChunk, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(item) = this.ready.pop_front() {
                return Poll::Ready(Some(item));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            if !this.done {
                // Events already read come first.
                match this.drain(false) {
                    Drained::Queued => continue,
                    Drained::More => {}
                    Drained::Done => this.done = true,
                    Drained::Failed => {
                        this.finished = true;
                        continue;
                    }
                }
            }
            let polled = this.bytes.as_mut().poll_next(cx);
            if this.done {
                match polled {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(rest))) if this.drained + rest.len() <= DRAIN_LIMIT => {
                        this.drained += rest.len();
                    }
                    Poll::Ready(_) => this.finished = true,
                }
                continue;
            }
            match polled {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(bytes))) => {
                    if let Err(e) = this.parser.feed(&bytes) {
                        this.finished = true;
                        this.ready.push_back(Err(Error::UpstreamProtocol {
                            message: format!("Azure deployment {}: {e}", this.labels.deployment),
                        }));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    let e: BodyError = e.into();
                    this.finished = true;
                    let message = format!(
                        "the connection to Azure deployment {} broke after {} stream chunks: {}",
                        this.labels.deployment, this.chunks_seen, e.message
                    );
                    this.ready.push_back(Err(if e.timeout {
                        Error::Timeout { message }
                    } else {
                        Error::UpstreamConnection { message }
                    }));
                }
                Poll::Ready(None) => {
                    this.finished = true;
                    let mut last = this.drain(true);
                    while last == Drained::Queued {
                        last = this.drain(true);
                    }
                    if last == Drained::More {
                        this.ready.push_back(Err(Error::UpstreamProtocol {
                            message: format!(
                                "stream truncated: Azure deployment {} closed the stream after {} chunks \
                                 without data: [DONE]; the answer is incomplete and its usage unknown",
                                this.labels.deployment, this.chunks_seen
                            ),
                        }));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    fn event(text: &str) -> String {
        format!(
            "data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\
             \"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n"
        )
    }

    /// A read that brings a burst of events: the first chunk is handed on while the
    /// rest still wait in the parser, unparsed; all of them follow, in order.
    #[tokio::test]
    async fn a_burst_is_parsed_one_chunk_at_a_time() {
        let burst: String = ["a", "b", "c"].map(event).concat() + "data: [DONE]\n\n";
        let bytes = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from(burst))]);
        let labels = Arc::new(StreamLabels {
            deployment: "d".into(),
            api_base: "http://fake".into(),
            api_version: "2024-10-21".into(),
        });
        let mut chunks = Chunks::new(bytes, labels);
        let first = chunks.next().await.expect("a chunk").expect("ok");
        assert_eq!(first.choices[0].delta.content.as_deref(), Some("a"));
        assert_eq!(chunks.chunks_seen, 1, "only the first event was parsed");
        assert!(chunks.parser.pending_bytes() > 2 * event("b").len());
        let rest: Vec<String> = chunks
            .map(|c| {
                c.expect("ok").choices[0]
                    .delta
                    .content
                    .clone()
                    .unwrap_or_default()
            })
            .collect()
            .await;
        assert_eq!(rest, ["b", "c"]);
    }
}
