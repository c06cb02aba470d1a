//! Token usage, as OpenAI and Azure report it.

use serde::Serialize;

use super::fields::read_by_fields;
use super::Extra;

/// Tokens a request used.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Input tokens, cached ones included.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Output tokens.
    #[serde(default)]
    pub completion_tokens: u64,
    /// prompt + completion.
    #[serde(default)]
    pub total_tokens: u64,
    /// Breakdown of the input (cached tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    /// Breakdown of the output (reasoning, predictions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionTokensDetails>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Usage {
    /// A usage with the given counts and no details.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            ..Default::default()
        }
    }

    /// Input tokens served from the provider's prompt cache.
    pub fn cached_tokens(&self) -> u64 {
        self.prompt_tokens_details
            .as_ref()
            .map(|d| d.cached_tokens)
            .unwrap_or(0)
    }
}

/// Breakdown of input tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PromptTokensDetails {
    /// Tokens read from the prompt cache (billed at the cached-input price).
    #[serde(default)]
    pub cached_tokens: u64,
    /// Fields not modelled here (`audio_tokens`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// Breakdown of output tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CompletionTokensDetails {
    /// Reasoning tokens (o-series models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// Fields not modelled here (`accepted_prediction_tokens`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

// Read field by field (`fields.rs`): every answer's usage is read on the request path.
read_by_fields!(Usage, "a usage object", {
    "prompt_tokens" => prompt_tokens, "completion_tokens" => completion_tokens,
    "total_tokens" => total_tokens, "prompt_tokens_details" => prompt_tokens_details,
    "completion_tokens_details" => completion_tokens_details,
});
read_by_fields!(PromptTokensDetails, "prompt token details (a JSON object)", {
    "cached_tokens" => cached_tokens,
});
read_by_fields!(CompletionTokensDetails, "completion token details (a JSON object)", {
    "reasoning_tokens" => reasoning_tokens,
});
