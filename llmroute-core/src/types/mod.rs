//! OpenAI chat-completions wire types.
//!
//! Lenient where providers are lenient (Azure's first stream chunk has `choices: []`,
//! `id: ""`, `object: ""`), and lossless: every struct keeps the fields it does not model
//! in `extra`, so a parse → serialize round trip drops nothing a client or upstream sent.

mod chunk;
mod error_body;
mod fields;
mod message;
mod models;
mod request;
mod response;
mod usage;

pub use chunk::{ChatChunk, ChunkChoice, Delta, FunctionCallDelta, ToolCallDelta};
pub use error_body::{ErrorBody, ErrorDetail};
pub use message::{Content, ContentPart, FunctionCall, ImageUrl, Message, Role, ToolCall};
pub use models::{ModelList, ModelObject};
pub use request::{
    ChatRequest, FunctionDefinition, JsonSchemaFormat, ResponseFormat, StopSequences,
    StreamOptions, Tool, ToolChoice,
};
pub use response::{ChatResponse, Choice, ResponseMessage};
pub use usage::{CompletionTokensDetails, PromptTokensDetails, Usage};

/// Fields a struct does not model, kept in order so they survive a round trip.
pub type Extra = serde_json::Map<String, serde_json::Value>;
