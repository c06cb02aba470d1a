//! A streamed answer as one response and back: [`StreamAssembler`] / [`assemble_stream`]
//! join the chunks of a stream into the [`ChatResponse`] that is cached, and
//! [`replay_as_chunks`] turns a cached response into chunks for a streaming caller.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::types::{
    ChatChunk, ChatResponse, Choice, ChunkChoice, Delta, Extra, FunctionCall, FunctionCallDelta,
    ResponseMessage, ToolCall, ToolCallDelta,
};

#[derive(Debug, Default)]
struct ChoiceParts {
    role: Option<String>,
    content: Option<String>,
    refusal: Option<String>,
    tool_calls: BTreeMap<u32, ToolCall>,
    finish_reason: Option<String>,
    logprobs: Option<Value>,
    extra: Extra,
}

/// Joins a stream's chunks as they pass, without keeping them.
#[derive(Debug, Default)]
pub struct StreamAssembler {
    response: ChatResponse,
    choices: BTreeMap<u32, ChoiceParts>,
}

impl StreamAssembler {
    /// An empty assembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one chunk: text, refusal and tool-call argument fragments are appended,
    /// `finish_reason` and `usage` kept from the chunk that carries them, ids and
    /// model from the first chunk that has them, other fields merged.
    pub fn push(&mut self, chunk: &ChatChunk) {
        let r = &mut self.response;
        if r.id.is_empty() {
            r.id.clone_from(&chunk.id);
        }
        if r.model.is_empty() {
            r.model.clone_from(&chunk.model);
        }
        if r.created == 0 {
            r.created = chunk.created;
        }
        if chunk.system_fingerprint.is_some() {
            r.system_fingerprint.clone_from(&chunk.system_fingerprint);
        }
        if chunk.usage.is_some() {
            r.usage.clone_from(&chunk.usage);
        }
        for (k, v) in &chunk.extra {
            r.extra.insert(k.clone(), v.clone());
        }
        for c in &chunk.choices {
            push_choice(self.choices.entry(c.index).or_default(), c);
        }
    }

    /// Whether the answer is complete: at least one choice, and every choice has its
    /// `finish_reason`. Only a complete answer should be cached (not one cut by an
    /// error, a timeout or a client that went away).
    pub fn is_complete(&self) -> bool {
        !self.choices.is_empty() && self.choices.values().all(|c| c.finish_reason.is_some())
    }

    /// The whole response (`object: chat.completion`).
    pub fn finish(self) -> ChatResponse {
        let mut r = self.response;
        r.object = "chat.completion".to_string();
        r.choices = self
            .choices
            .into_iter()
            .map(|(index, p)| Choice {
                index,
                message: ResponseMessage {
                    role: p.role.unwrap_or_else(|| "assistant".to_string()),
                    content: p.content,
                    refusal: p.refusal,
                    tool_calls: (!p.tool_calls.is_empty())
                        .then(|| p.tool_calls.into_values().collect()),
                    extra: Extra::new(),
                },
                finish_reason: p.finish_reason,
                logprobs: p.logprobs,
                extra: p.extra,
            })
            .collect();
        r
    }
}

fn push_choice(p: &mut ChoiceParts, c: &ChunkChoice) {
    let d = &c.delta;
    if p.role.is_none() {
        p.role.clone_from(&d.role);
    }
    append(&mut p.content, d.content.as_deref());
    append(&mut p.refusal, d.refusal.as_deref());
    for t in d.tool_calls.iter().flatten() {
        let call = p.tool_calls.entry(t.index).or_insert_with(|| ToolCall {
            id: String::new(),
            kind: "function".to_string(),
            function: FunctionCall {
                name: String::new(),
                arguments: String::new(),
                extra: Extra::new(),
            },
            extra: Extra::new(),
        });
        if let Some(id) = t.id.as_deref().filter(|id| !id.is_empty()) {
            call.id = id.to_string();
        }
        if let Some(kind) = &t.kind {
            call.kind.clone_from(kind);
        }
        if let Some(f) = &t.function {
            call.function.name.push_str(f.name.as_deref().unwrap_or(""));
            call.function
                .arguments
                .push_str(f.arguments.as_deref().unwrap_or(""));
            for (k, v) in &f.extra {
                call.function.extra.insert(k.clone(), v.clone());
            }
        }
    }
    if c.finish_reason.is_some() {
        p.finish_reason.clone_from(&c.finish_reason);
    }
    if let Some(lp) = &c.logprobs {
        merge_logprobs(&mut p.logprobs, lp);
    }
    for (k, v) in &c.extra {
        p.extra.insert(k.clone(), v.clone());
    }
}

fn append(into: &mut Option<String>, piece: Option<&str>) {
    if let Some(piece) = piece {
        into.get_or_insert_with(String::new).push_str(piece);
    }
}

/// `{"content": [...]}` pieces are concatenated; other values replaced.
fn merge_logprobs(into: &mut Option<Value>, piece: &Value) {
    match (into.as_mut(), piece) {
        (Some(Value::Object(acc)), Value::Object(new)) => {
            for (k, v) in new {
                match (acc.get_mut(k), v) {
                    (Some(Value::Array(a)), Value::Array(b)) => a.extend(b.iter().cloned()),
                    _ => {
                        acc.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        _ => *into = Some(piece.clone()),
    }
}

/// Joins a whole stream into one response (see [`StreamAssembler::push`]).
pub fn assemble_stream<'a>(chunks: impl IntoIterator<Item = &'a ChatChunk>) -> ChatResponse {
    let mut a = StreamAssembler::new();
    for c in chunks {
        a.push(c);
    }
    a.finish()
}

/// The chunks that stream `response`: per choice, one chunk with the role, the whole
/// text or refusal and the complete tool calls, then one with its `finish_reason`;
/// last, when `include_usage` (the caller's `stream_options.include_usage`) and the
/// response has usage, a usage-only chunk. Top-level extra fields ride on the first chunk.
pub fn replay_as_chunks(response: &ChatResponse, include_usage: bool) -> Vec<ChatChunk> {
    let chunk = |choices: Vec<ChunkChoice>| ChatChunk {
        id: response.id.clone(),
        object: "chat.completion.chunk".to_string(),
        created: response.created,
        model: response.model.clone(),
        choices,
        usage: None,
        system_fingerprint: response.system_fingerprint.clone(),
        extra: Extra::new(),
    };
    let mut out = Vec::with_capacity(response.choices.len() * 2 + 1);
    for c in &response.choices {
        let m = &c.message;
        let tool_calls = m.tool_calls.as_ref().map(|calls| {
            calls
                .iter()
                .enumerate()
                .map(|(i, t)| ToolCallDelta {
                    index: i as u32,
                    id: Some(t.id.clone()),
                    kind: Some(t.kind.clone()),
                    function: Some(FunctionCallDelta {
                        name: Some(t.function.name.clone()),
                        arguments: Some(t.function.arguments.clone()),
                        extra: t.function.extra.clone(),
                    }),
                    extra: Extra::new(),
                })
                .collect()
        });
        out.push(chunk(vec![ChunkChoice {
            index: c.index,
            delta: Delta {
                role: Some(m.role.clone()),
                content: m.content.clone(),
                refusal: m.refusal.clone(),
                tool_calls,
                extra: Extra::new(),
            },
            finish_reason: None,
            logprobs: c.logprobs.clone(),
            extra: Extra::new(),
        }]));
        out.push(chunk(vec![ChunkChoice {
            index: c.index,
            delta: Delta::default(),
            finish_reason: c.finish_reason.clone(),
            logprobs: None,
            extra: c.extra.clone(),
        }]));
    }
    if out.is_empty() {
        out.push(chunk(Vec::new()));
    }
    if let Some(first) = out.first_mut() {
        first.extra.clone_from(&response.extra);
    }
    if include_usage {
        if let Some(u) = &response.usage {
            let mut last = chunk(Vec::new());
            last.usage = Some(u.clone());
            out.push(last);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chunks(values: Value) -> Vec<ChatChunk> {
        serde_json::from_value(values).expect("chunks")
    }

    #[test]
    fn joins_text_tool_calls_finish_reason_and_usage() {
        let cs = chunks(json!([
            {"id": "", "object": "", "created": 0, "model": "", "choices": [], "prompt_filter_results": [{"prompt_index": 0}]},
            {"id": "c1", "object": "chat.completion.chunk", "created": 5, "model": "gpt-4o", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]},
            {"id": "c1", "created": 5, "model": "gpt-4o", "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": null, "logprobs": {"content": [{"token": "Hel"}]}}]},
            {"id": "c1", "created": 5, "model": "gpt-4o", "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": null, "logprobs": {"content": [{"token": "lo"}]}}]},
            {"id": "c1", "created": 5, "model": "gpt-4o", "choices": [{"index": 1, "delta": {"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}}]},
            {"id": "c1", "created": 5, "model": "gpt-4o", "choices": [{"index": 1, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}}]},
            {"id": "c1", "created": 5, "model": "gpt-4o", "choices": [{"index": 1, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}}]},
            {"id": "c1", "created": 5, "model": "gpt-4o", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}, {"index": 1, "delta": {}, "finish_reason": "tool_calls"}]},
            {"id": "c1", "created": 5, "model": "gpt-4o", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}}
        ]));
        let mut partial = StreamAssembler::new();
        for c in &cs[..7] {
            partial.push(c);
        }
        assert!(!partial.is_complete(), "no finish_reason yet");
        partial.push(&cs[7]);
        assert!(partial.is_complete());
        assert!(!StreamAssembler::new().is_complete());
        let r = assemble_stream(&cs);
        assert_eq!(
            (
                r.id.as_str(),
                r.object.as_str(),
                r.model.as_str(),
                r.created
            ),
            ("c1", "chat.completion", "gpt-4o", 5)
        );
        assert_eq!(r.first_text(), Some("Hello"));
        assert_eq!(r.choices[0].finish_reason.as_deref(), Some("stop"));
        assert_eq!(
            r.choices[0].logprobs,
            Some(json!({"content": [{"token": "Hel"}, {"token": "lo"}]}))
        );
        let call = &r.choices[1]
            .message
            .tool_calls
            .as_ref()
            .expect("tool calls")[0];
        assert_eq!(
            (call.id.as_str(), call.function.name.as_str()),
            ("call_1", "get_weather")
        );
        assert_eq!(call.function.arguments, "{\"city\":\"Paris\"}");
        assert_eq!(r.choices[1].message.content, None);
        assert_eq!(r.choices[1].finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(r.usage.as_ref().map(|u| u.total_tokens), Some(13));
        assert!(r.extra.contains_key("prompt_filter_results"));
    }

    #[test]
    fn replayed_chunks_assemble_to_the_same_response() {
        let r: ChatResponse = serde_json::from_value(json!({
            "id": "c2", "object": "chat.completion", "created": 7, "model": "gpt-4o",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "Hi there"}, "finish_reason": "stop", "logprobs": null},
                {"index": 1, "message": {"role": "assistant", "content": null, "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}, "finish_reason": "tool_calls", "logprobs": null}
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            "system_fingerprint": "fp_1"
        })).expect("response");
        let replay = replay_as_chunks(&r, true);
        assert_eq!(replay.len(), 5);
        assert!(replay
            .iter()
            .all(|c| c.object == "chat.completion.chunk" && c.id == "c2"));
        assert!(replay[4].is_usage_only());
        assert_eq!(assemble_stream(&replay), r);
        let without_usage = replay_as_chunks(&r, false);
        assert_eq!(without_usage.len(), 4);
        assert!(without_usage.iter().all(|c| c.usage.is_none()));
    }
}
