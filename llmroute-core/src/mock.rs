//! An in-process provider for tests and the quickstart (LiteLLM's `mock_response` idea).
//!
//! `model: mock/<anything>` answers with a fixed message, or echoes the last user
//! message when none is set; streams it word by word; and reports usage (tokens counted
//! as whitespace-separated words, at least one).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures::stream;

use crate::error::Result;
use crate::provider::{ChatStream, Completion, Provider, UpstreamMeta};
use crate::types::{
    ChatChunk, ChatRequest, ChatResponse, Choice, ChunkChoice, Content, Delta, ResponseMessage,
    Role, Usage,
};

/// A provider that answers from memory, without any network.
#[derive(Debug, Clone)]
pub struct MockProvider {
    name: String,
    model: String,
    response: Option<String>,
}

impl MockProvider {
    /// A mock that echoes the last user message. `model` is what it reports as the
    /// answering model (e.g. `mock-echo`).
    pub fn echo(model: impl Into<String>) -> Self {
        let model = model.into();
        MockProvider {
            name: format!("mock/{model}"),
            model,
            response: None,
        }
    }

    /// A mock that always answers `response`.
    pub fn fixed(model: impl Into<String>, response: impl Into<String>) -> Self {
        MockProvider {
            response: Some(response.into()),
            ..Self::echo(model)
        }
    }

    fn answer_for(&self, request: &ChatRequest) -> String {
        if let Some(fixed) = &self.response {
            return fixed.clone();
        }
        request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .and_then(|m| m.content.as_ref())
            .map(Content::joined_text)
            .unwrap_or_else(|| "Hello from the llmroute mock model.".to_string())
    }

    fn usage_for(&self, request: &ChatRequest, answer: &str) -> Usage {
        let prompt: u64 = request
            .messages
            .iter()
            .filter_map(|m| m.content.as_ref())
            .map(|c| count_words(&c.joined_text()))
            .sum();
        Usage::new(prompt.max(1), count_words(answer).max(1))
    }
}

fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn completion_id() -> String {
    format!("chatcmpl-mock{:016x}", rand::random::<u64>())
}

#[async_trait]
impl Provider for MockProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn chat(&self, request: &ChatRequest) -> Result<Completion> {
        let answer = self.answer_for(request);
        let usage = self.usage_for(request, &answer);
        let response = ChatResponse {
            id: completion_id(),
            object: "chat.completion".to_string(),
            created: now_secs(),
            model: self.model.clone(),
            choices: vec![Choice {
                message: ResponseMessage {
                    content: Some(answer),
                    ..Default::default()
                },
                finish_reason: Some("stop".to_string()),
                ..Default::default()
            }],
            usage: Some(usage),
            ..Default::default()
        };
        Ok(Completion::new(response, UpstreamMeta::default()))
    }

    async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream> {
        let answer = self.answer_for(request);
        let usage = self.usage_for(request, &answer);
        let id = completion_id();
        let created = now_secs();
        let chunk = |delta: Delta, finish: Option<&str>| ChatChunk {
            id: id.clone(),
            object: "chat.completion.chunk".to_string(),
            created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                delta,
                finish_reason: finish.map(str::to_string),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut chunks = vec![chunk(
            Delta {
                role: Some("assistant".to_string()),
                content: Some(String::new()),
                ..Default::default()
            },
            None,
        )];
        for piece in answer.split_inclusive(' ') {
            chunks.push(chunk(
                Delta {
                    content: Some(piece.to_string()),
                    ..Default::default()
                },
                None,
            ));
        }
        chunks.push(chunk(Delta::default(), Some("stop")));
        chunks.push(ChatChunk {
            id: id.clone(),
            object: "chat.completion.chunk".to_string(),
            created,
            model: self.model.clone(),
            usage: Some(usage),
            ..Default::default()
        });
        Ok(ChatStream {
            meta: UpstreamMeta::default(),
            chunks: Box::pin(stream::iter(chunks.into_iter().map(Ok))),
        })
    }

    async fn health(&self) -> Result<Duration> {
        Ok(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Message;
    use futures::StreamExt;

    #[tokio::test]
    async fn echoes_the_last_user_message_and_reports_usage() {
        let mock = MockProvider::echo("mock-echo");
        let req = ChatRequest::new(
            "mock",
            vec![Message::system("be brief"), Message::user("hello there")],
        );
        let done = mock.chat(&req).await.expect("chat");
        assert_eq!(done.response().first_text(), Some("hello there"));
        let usage = done.response().usage.clone().expect("usage");
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total_tokens
            ),
            (4, 2, 6)
        );
    }

    #[tokio::test]
    async fn streams_the_fixed_answer_then_usage() {
        let mock = MockProvider::fixed("mock-fixed", "one two three");
        let stream = mock
            .chat_stream(&ChatRequest::new("m", vec![Message::user("x")]))
            .await
            .expect("stream");
        let chunks: Vec<_> = stream.chunks.collect().await;
        let text: String = chunks
            .iter()
            .filter_map(|c| c.as_ref().ok())
            .flat_map(|c| c.choices.iter())
            .filter_map(|c| c.delta.content.clone())
            .collect();
        assert_eq!(text, "one two three");
        let last = chunks.last().expect("chunks").as_ref().expect("ok");
        assert!(last.is_usage_only());
        assert_eq!(last.usage.as_ref().map(|u| u.completion_tokens), Some(3));
    }
}
