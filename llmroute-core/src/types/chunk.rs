//! One server-sent event of a streamed chat completion.

use serde::Serialize;

use super::fields::read_by_fields;
use super::{Extra, Usage};

/// A `chat.completion.chunk`.
///
/// Azure's first chunk carries only `prompt_filter_results`, with `choices: []`,
/// `id: ""` and `object: ""`; the final usage chunk has `choices: []` and `usage`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChatChunk {
    /// Same id on every chunk of one completion.
    #[serde(default)]
    pub id: String,
    /// `chat.completion.chunk`.
    #[serde(default)]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    /// The model that answered.
    #[serde(default)]
    pub model: String,
    /// Deltas, usually one.
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    /// Only on the final chunk, when `stream_options.include_usage` was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Backend configuration fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    /// Fields not modelled here (`prompt_filter_results`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

impl ChatChunk {
    /// Whether this is the final usage-only chunk.
    pub fn is_usage_only(&self) -> bool {
        self.choices.is_empty() && self.usage.is_some()
    }

    /// Whether this is an Azure annotation chunk (no choices, no usage: prompt filter
    /// results, or content-filter results sent after the text).
    pub fn is_annotation_only(&self) -> bool {
        self.choices.is_empty() && self.usage.is_none()
    }
}

/// A delta for one choice.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChunkChoice {
    /// Which choice this extends.
    #[serde(default)]
    pub index: u32,
    /// What was added.
    #[serde(default)]
    pub delta: Delta,
    /// Set on the choice's last chunk.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Log probabilities when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<serde_json::Value>,
    /// Fields not modelled here (`content_filter_results`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// The part of the assistant message a chunk adds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Delta {
    /// `assistant` on the first chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Text to append.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Refusal text to append.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Tool call fragments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A fragment of a tool call: the first carries id and name, later ones argument text.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ToolCallDelta {
    /// Which tool call this extends.
    #[serde(default)]
    pub index: u32,
    /// Call id (first fragment only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `function` (first fragment only).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name and argument text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCallDelta>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A fragment of a function call.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FunctionCallDelta {
    /// Function name (first fragment only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Argument text to append.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

// Read field by field (`fields.rs`): a stream's every chunk passes through here.
read_by_fields!(ChatChunk, "a chat completion chunk (a JSON object)", {
    "id" => id, "object" => object, "created" => created, "model" => model,
    "choices" => choices, "usage" => usage, "system_fingerprint" => system_fingerprint,
});
read_by_fields!(ChunkChoice, "a chunk choice (a JSON object)", {
    "index" => index, "delta" => delta, "finish_reason" => finish_reason, "logprobs" => logprobs,
});
read_by_fields!(Delta, "a chunk delta (a JSON object)", {
    "role" => role, "content" => content, "refusal" => refusal, "tool_calls" => tool_calls,
});
read_by_fields!(ToolCallDelta, "a tool call delta (a JSON object)", {
    "index" => index, "id" => id, "type" => kind, "function" => function,
});
read_by_fields!(FunctionCallDelta, "a function call delta (a JSON object)", {
    "name" => name, "arguments" => arguments,
});
