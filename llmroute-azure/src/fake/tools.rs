//! Tool calling, as Azure does it for gpt-4o.
//!
//! A request with `tools` whose `tool_choice` forces a call (`"required"`: the first
//! tool; `{"type":"function","function":{"name":…}}`: that one) is answered with a
//! `tool_calls` message: an id `call_…`, type `function`, the name, and JSON
//! `arguments` built from the function's parameter schema; `finish_reason` is
//! `tool_calls`. Streamed, the first tool chunk carries `index`, id, type, name and
//! empty arguments, then the argument text follows split over several chunks, then a
//! `delta: {}` chunk with `finish_reason: tool_calls`. With `"auto"`, `"none"` or no
//! `tool_choice` the fake answers its text (a model that chose not to call).
//!
//! Messages are checked as Azure checks them: a `tool` message needs `tool_call_id`
//! and must answer a call of the assistant message before it, and every call of an
//! assistant message must be answered.

use std::borrow::Cow;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::canned::{self, chunk, event, prompt_filter_results, usage, usage_event};
use super::chat::{bad_request, Outcome};
use super::State;

/// Characters of argument text per streamed chunk (Azure sends a token or two each).
const ARGUMENT_PIECE: usize = 6;

/// One entry of `tools`.
#[derive(Deserialize)]
pub(crate) struct ProbeTool<'a> {
    #[serde(borrow)]
    function: ProbeFunction<'a>,
}

#[derive(Deserialize)]
struct ProbeFunction<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default)]
    parameters: Option<Value>,
}

/// What the fake reads of one message: its role and tool fields.
#[derive(Deserialize)]
pub(crate) struct ProbeMessage<'a> {
    #[serde(borrow)]
    pub(crate) role: Cow<'a, str>,
    #[serde(borrow, default)]
    tool_call_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<ProbeCallId<'a>>>,
}

#[derive(Deserialize)]
struct ProbeCallId<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
}

/// The call the fake makes.
pub(crate) struct ToolCall {
    id: String,
    name: String,
    arguments: String,
}

/// The call `tool_choice` forces, if any; a 400 for a `tool_choice` Azure refuses
/// (boxed: a response is large next to the call).
pub(crate) fn forced_call(
    state: &State,
    tools: Option<&[ProbeTool<'_>]>,
    choice: Option<&Value>,
) -> Result<Option<ToolCall>, Box<Outcome>> {
    let Some(choice) = choice.filter(|c| !c.is_null()) else {
        return Ok(None);
    };
    let tools = tools.unwrap_or_default();
    if tools.is_empty() {
        let message = "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.";
        return Err(Box::new(bad_request(
            state,
            message,
            Some("tool_choice"),
            None,
        )));
    }
    let tool = match (choice.as_str(), choice["function"]["name"].as_str()) {
        (Some("none" | "auto"), _) => return Ok(None),
        (Some("required"), _) => &tools[0],
        (None, Some(name)) if choice["type"] == "function" => {
            match tools.iter().find(|t| t.function.name == name) {
                Some(tool) => tool,
                None => {
                    let message = format!("Invalid value for 'tool_choice': no function named '{name}' was specified in 'tools'.");
                    return Err(Box::new(bad_request(
                        state,
                        &message,
                        Some("tool_choice"),
                        None,
                    )));
                }
            }
        }
        _ => {
            let message = "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or {\"type\": \"function\", \"function\": {\"name\": …}}.";
            return Err(Box::new(bad_request(
                state,
                message,
                Some("tool_choice"),
                Some("invalid_value"),
            )));
        }
    };
    let n = state.seq.fetch_add(1, Ordering::Relaxed);
    Ok(Some(ToolCall {
        id: format!("call_FakeAzure{n:010}"),
        name: tool.function.name.to_string(),
        arguments: arguments_for(tool.function.parameters.as_ref()).to_string(),
    }))
}

/// Arguments that fit a parameter schema: each required property (every property
/// when none is marked required) with a value of its type.
fn arguments_for(schema: Option<&Value>) -> Value {
    let empty = Map::new();
    let properties = schema
        .and_then(|s| s["properties"].as_object())
        .unwrap_or(&empty);
    let required: Option<Vec<&str>> = schema
        .and_then(|s| s["required"].as_array())
        .map(|r| r.iter().filter_map(Value::as_str).collect());
    let mut args = Map::new();
    for (name, prop) in properties {
        if required
            .as_ref()
            .is_some_and(|r| !r.contains(&name.as_str()))
        {
            continue;
        }
        let value = match (prop["enum"].get(0), prop["type"].as_str()) {
            (Some(first), _) => first.clone(),
            (None, Some("string")) => json!(format!("example {name}")),
            (None, Some("integer")) => json!(1),
            (None, Some("number")) => json!(1.5),
            (None, Some("boolean")) => json!(true),
            (None, Some("array")) => json!([]),
            (None, Some("object")) => json!({}),
            _ => Value::Null,
        };
        args.insert(name.clone(), value);
    }
    Value::Object(args)
}

/// The argument text in pieces of a few characters (on character boundaries).
fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = rest
            .char_indices()
            .nth(ARGUMENT_PIECE)
            .map_or(rest.len(), |(i, _)| i);
        let (piece, tail) = rest.split_at(cut);
        out.push(piece);
        rest = tail;
    }
    out
}

fn call_json(call: &ToolCall) -> Value {
    json!({
        "function": {"arguments": call.arguments, "name": call.name},
        "id": call.id, "type": "function"
    })
}

/// The non-streamed answer carrying `call`.
pub(crate) fn completion(state: &State, call: &ToolCall) -> Bytes {
    let cfg = &state.cfg;
    let body = json!({
        "choices": [{
            "content_filter_results": {},
            "finish_reason": "tool_calls", "index": 0, "logprobs": null,
            "message": {
                "annotations": [], "content": null, "refusal": null, "role": "assistant",
                "tool_calls": [call_json(call)]
            }
        }],
        "created": state.canned.created, "id": canned::COMPLETION_ID, "model": cfg.model,
        "object": "chat.completion",
        "prompt_filter_results": prompt_filter_results(),
        "system_fingerprint": "fp_fake",
        "usage": usage(cfg, completion_tokens(call))
    });
    Bytes::from(body.to_string())
}

fn completion_tokens(call: &ToolCall) -> u64 {
    pieces(&call.arguments).len() as u64 + 2
}

/// The stream events carrying `call`, before the usage chunk and `[DONE]`, and the
/// usage event.
pub(crate) fn stream_events(state: &State, call: &ToolCall) -> (Vec<Bytes>, Bytes) {
    let (created, model) = (state.canned.created, state.cfg.model.as_str());
    let mut events = vec![Bytes::from(canned::annotation_event())];
    let first = json!({
        "content": null, "refusal": null, "role": "assistant",
        "tool_calls": [{
            "function": {"arguments": "", "name": call.name},
            "id": call.id, "index": 0, "type": "function"
        }]
    });
    let deltas = std::iter::once(first).chain(
        pieces(&call.arguments)
            .into_iter()
            .map(|p| json!({"tool_calls": [{"function": {"arguments": p}, "index": 0}]})),
    );
    for delta in deltas {
        events.push(Bytes::from(event(&chunk(
            created,
            model,
            json!({
                "content_filter_results": {}, "delta": delta,
                "finish_reason": null, "index": 0, "logprobs": null
            }),
        ))));
    }
    events.push(Bytes::from(event(&chunk(
        created,
        model,
        json!({
            "content_filter_results": {}, "delta": {},
            "finish_reason": "tool_calls", "index": 0, "logprobs": null
        }),
    ))));
    let usage = usage_event(created, model, usage(&state.cfg, completion_tokens(call)));
    (events, Bytes::from(usage))
}

/// Azure's 400 for tool messages that answer no call, or calls left unanswered.
pub(crate) fn check_messages(state: &State, messages: &[ProbeMessage<'_>]) -> Option<Outcome> {
    let roles: Vec<&str> = messages.iter().map(|m| m.role.as_ref()).collect();
    // The schema first: every tool message names the call it answers.
    if let Some(i) = messages
        .iter()
        .position(|m| m.role == "tool" && m.tool_call_id.is_none())
    {
        let param = format!("messages[{i}].tool_call_id");
        let message = format!("Missing required parameter: '{param}'.");
        return Some(bad_request(
            state,
            &message,
            Some(&param),
            Some("missing_required_parameter"),
        ));
    }
    for (i, (role, f)) in roles.iter().zip(messages).enumerate() {
        if let (&"tool", Some(id)) = (role, f.tool_call_id.as_deref()) {
            // The assistant message before this run of tool messages must hold the id.
            let answered = roles[..i]
                .iter()
                .rposition(|r| *r != "tool")
                .filter(|&a| roles[a] == "assistant")
                .and_then(|a| messages[a].tool_calls.as_ref())
                .is_some_and(|calls| calls.iter().any(|c| c.id == id));
            if !answered {
                let message = "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.";
                return Some(bad_request(
                    state,
                    message,
                    Some(&format!("messages.[{i}].role")),
                    None,
                ));
            }
        }
        if let (&"assistant", Some(calls)) = (role, f.tool_calls.as_ref()) {
            let answers: Vec<&str> = roles[i + 1..]
                .iter()
                .zip(&messages[i + 1..])
                .take_while(|(r, _)| **r == "tool")
                .filter_map(|(_, f)| f.tool_call_id.as_deref())
                .collect();
            let missing: Vec<&str> = calls
                .iter()
                .map(|c| c.id.as_ref())
                .filter(|id| !answers.contains(id))
                .collect();
            if !missing.is_empty() {
                let message = format!("An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}", missing.join(", "));
                return Some(bad_request(
                    state,
                    &message,
                    Some(&format!("messages.[{i}].role")),
                    None,
                ));
            }
        }
    }
    None
}
