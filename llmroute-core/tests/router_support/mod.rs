//! A scripted provider for router tests: it answers from a queue of steps, then with
//! its default step, and counts calls and remembers the model each call asked for.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::{stream, StreamExt};
use llmroute_core::router::{DeploymentLimits, Router, RouterBuilder};
use llmroute_core::types::{
    ChatChunk, ChatRequest, ChatResponse, Choice, ChunkChoice, Delta, Message, ResponseMessage,
    Usage,
};
use llmroute_core::{ChatStream, Completion, Error, Provider, Result, UpstreamMeta};

/// What the provider does on one call.
#[derive(Debug, Clone)]
pub enum Step {
    /// Answers this text (streams: one chunk per word, then a usage chunk).
    Answer(&'static str),
    /// Answers this text and reports these headers.
    AnswerWith(&'static str, UpstreamMeta),
    /// Fails before answering.
    Fail(Error),
    /// Never answers.
    Hang,
    /// Waits, then does the step.
    After(Duration, Box<Step>),
    /// Streams: opens, then the first item is this error.
    FirstChunkFails(Error),
    /// Streams: opens at once, the first chunk arrives after this long.
    SlowFirstChunk(Duration, &'static str),
    /// Streams: the first chunk, then this error.
    BreaksAfterFirst(Error),
}

/// A provider that follows a script.
pub struct Scripted {
    name: String,
    script: Mutex<VecDeque<Step>>,
    default: Step,
    calls: AtomicU32,
    models: Mutex<Vec<String>>,
}

impl Scripted {
    /// A provider named `name` that always does `default` once its queue is empty.
    pub fn new(name: &str, default: Step) -> Arc<Self> {
        Self::with_script(name, vec![], default)
    }

    /// A provider doing `script` in order, then `default`.
    pub fn with_script(name: &str, script: Vec<Step>, default: Step) -> Arc<Self> {
        Arc::new(Scripted {
            name: name.to_string(),
            script: Mutex::new(script.into()),
            default,
            calls: AtomicU32::new(0),
            models: Mutex::new(Vec::new()),
        })
    }

    /// Calls so far (chat and chat_stream).
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    /// The `model` of each request received.
    pub fn models(&self) -> Vec<String> {
        self.models.lock().expect("lock").clone()
    }

    fn next(&self, req: &ChatRequest) -> Step {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.models.lock().expect("lock").push(req.model.clone());
        self.script
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or_else(|| self.default.clone())
    }

    fn chunk(&self, text: &str) -> ChatChunk {
        ChatChunk {
            id: format!("chatcmpl-{}", self.name),
            object: "chat.completion.chunk".into(),
            model: self.name.clone(),
            choices: vec![ChunkChoice {
                delta: Delta {
                    content: Some(text.to_string()),
                    ..Default::default()
                },
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn chunks(&self, text: &str) -> Vec<Result<ChatChunk>> {
        let mut out: Vec<Result<ChatChunk>> = text
            .split_inclusive(' ')
            .map(|w| Ok(self.chunk(w)))
            .collect();
        let tokens = text.split_whitespace().count() as u64;
        out.push(Ok(ChatChunk {
            usage: Some(Usage::new(1, tokens)),
            ..Default::default()
        }));
        out
    }
}

fn completion(name: &str, text: &str, meta: UpstreamMeta) -> Completion {
    let tokens = text.split_whitespace().count() as u64;
    Completion::new(
        ChatResponse {
            id: format!("chatcmpl-{name}"),
            object: "chat.completion".into(),
            model: name.to_string(),
            choices: vec![Choice {
                message: ResponseMessage {
                    content: Some(text.to_string()),
                    ..Default::default()
                },
                finish_reason: Some("stop".into()),
                ..Default::default()
            }],
            usage: Some(Usage::new(1, tokens)),
            ..Default::default()
        },
        meta,
    )
}

#[async_trait]
impl Provider for Scripted {
    fn name(&self) -> &str {
        &self.name
    }

    async fn chat(&self, req: &ChatRequest) -> Result<Completion> {
        let mut step = self.next(req);
        loop {
            return match step {
                Step::After(wait, then) => {
                    tokio::time::sleep(wait).await;
                    step = *then;
                    continue;
                }
                Step::Answer(text) | Step::SlowFirstChunk(_, text) => {
                    Ok(completion(&self.name, text, UpstreamMeta::default()))
                }
                Step::AnswerWith(text, meta) => Ok(completion(&self.name, text, meta)),
                Step::Fail(e) | Step::FirstChunkFails(e) | Step::BreaksAfterFirst(e) => Err(e),
                Step::Hang => futures::future::pending().await,
            };
        }
    }

    async fn chat_stream(&self, req: &ChatRequest) -> Result<ChatStream> {
        let mut step = self.next(req);
        loop {
            let (meta, chunks): (UpstreamMeta, Vec<Result<ChatChunk>>) = match step {
                Step::After(wait, then) => {
                    tokio::time::sleep(wait).await;
                    step = *then;
                    continue;
                }
                Step::Answer(text) => (UpstreamMeta::default(), self.chunks(text)),
                Step::AnswerWith(text, meta) => (meta, self.chunks(text)),
                Step::Fail(e) => return Err(e),
                Step::Hang => futures::future::pending().await,
                Step::FirstChunkFails(e) => (UpstreamMeta::default(), vec![Err(e)]),
                Step::BreaksAfterFirst(e) => (
                    UpstreamMeta::default(),
                    vec![Ok(self.chunk("partial ")), Err(e)],
                ),
                Step::SlowFirstChunk(wait, text) => {
                    let rest = self.chunks(text);
                    let delayed = stream::once(tokio::time::sleep(wait))
                        .flat_map(move |()| stream::iter(rest.clone()));
                    return Ok(ChatStream {
                        meta: UpstreamMeta::default(),
                        chunks: Box::pin(delayed),
                    });
                }
            };
            return Ok(ChatStream {
                meta,
                chunks: Box::pin(stream::iter(chunks)),
            });
        }
    }

    async fn health(&self) -> Result<Duration> {
        Ok(Duration::ZERO)
    }
}

/// A user request for `model`.
pub fn request(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("hello")])
}

/// An upstream 429 with a retry-after.
pub fn rate_limited(retry_after: Duration) -> Error {
    Error::RateLimited {
        message: "upstream 429".into(),
        retry_after: Some(retry_after),
        upstream: true,
    }
}

/// An upstream 503.
pub fn unavailable() -> Error {
    Error::Upstream {
        status: 503,
        message: "upstream 503".into(),
    }
}

/// The text of a streamed answer, and the error that ended it if any.
pub async fn collect_text(stream: ChatStream) -> (String, Option<Error>) {
    let mut text = String::new();
    let mut chunks = stream.chunks;
    while let Some(item) = chunks.next().await {
        match item {
            Ok(chunk) => text.extend(chunk.choices.iter().filter_map(|c| c.delta.content.clone())),
            Err(e) => return (text, Some(e)),
        }
    }
    (text, None)
}

/// A deployment with this id and no other limits.
pub fn limits(id: &str) -> DeploymentLimits {
    DeploymentLimits {
        id: Some(id.into()),
        ..Default::default()
    }
}

/// A deployment with this id in this priority tier.
pub fn tier(id: &str, order: u32) -> DeploymentLimits {
    DeploymentLimits {
        order: Some(order),
        ..limits(id)
    }
}

/// `gpt-4o` over `a` (tier 1, id "a") and `b` (tier 2, id "b"), to add settings to.
pub fn primary_and_backup_builder(a: Arc<Scripted>, b: Arc<Scripted>) -> RouterBuilder {
    Router::builder()
        .deployment("gpt-4o", a, tier("a", 1))
        .deployment("gpt-4o", b, tier("b", 2))
}

/// `gpt-4o` over `a` (tier 1, id "a") and `b` (tier 2, id "b"), default settings.
pub fn primary_and_backup(a: Arc<Scripted>, b: Arc<Scripted>) -> Router {
    primary_and_backup_builder(a, b).build().expect("router")
}

/// The id of the deployment that answered a chat request for `model`.
pub async fn served_by(router: &Router, model: &str) -> String {
    router
        .chat(&request(model))
        .await
        .expect("an answer")
        .deployment
}
