//! The non-streaming chat-completions response.

use serde::{Deserialize, Serialize};

use super::{Extra, ToolCall, Usage};

/// A complete chat completion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// `chatcmpl-...`.
    #[serde(default)]
    pub id: String,
    /// `chat.completion`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// The model that answered, e.g. `gpt-4o-2024-08-06`.
    #[serde(default)]
    pub model: String,
    /// The answers.
    #[serde(default)]
    pub choices: Vec<Choice>,
    /// Tokens used.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Backend configuration fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// Fields not modelled here (Azure's `prompt_filter_results`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

impl ChatResponse {
    /// The text of the first choice, if any.
    pub fn first_text(&self) -> Option<&str> {
        self.choices.first()?.message.content.as_deref()
    }
}

/// One answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Position among the choices.
    #[serde(default)]
    pub index: u32,
    /// The assistant message.
    #[serde(default)]
    pub message: ResponseMessage,
    /// `stop`, `length`, `tool_calls`, `content_filter`.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Log probabilities when asked for.
    #[serde(default)]
    pub logprobs: Option<serde_json::Value>,
    /// Fields not modelled here (Azure's `content_filter_results`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// The assistant message of a response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseMessage {
    /// Always `assistant`.
    #[serde(default = "assistant")]
    pub role: String,
    /// The text; `null` when the model only calls tools.
    #[serde(default)]
    pub content: Option<String>,
    /// A refusal instead of content. Always written, `null` when there is none, as
    /// OpenAI and Azure send it (so an answer served again from the cache reads as the
    /// upstream's own, which is forwarded byte for byte).
    #[serde(default)]
    pub refusal: Option<String>,
    /// Tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// Fields not modelled here (`function_call`, Azure's `context`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

impl Default for ResponseMessage {
    fn default() -> Self {
        ResponseMessage {
            role: assistant(),
            content: None,
            refusal: None,
            tool_calls: None,
            extra: Extra::new(),
        }
    }
}

fn assistant() -> String {
    "assistant".to_string()
}
