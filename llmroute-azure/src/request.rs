//! Pure request translation: the URL of a deployment and the body Azure gets.
//!
//! The body is the caller's typed [`ChatRequest`], serialized field by field without a
//! copy: `model` is left out on the classic route (the deployment is in the path) and
//! set to the deployment on the v1 route; `developer` messages become `system` (the
//! 2024-10-21 schema has no `developer` role); streams always ask for
//! `stream_options.include_usage` when the api-version knows it; fields the api-version
//! does not know are dropped (with a warning) under `drop_params`, or refused with a 400.

use llmroute_core::percent::encode_component;
use llmroute_core::types::{
    ChatRequest, Content, ContentPart, Extra, Message, Role, StreamOptions, ToolCall,
};
use llmroute_core::Error;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::json_text::Text;
use crate::version::{ApiVersion, Feature};

/// The chat-completions URL of a deployment. A trailing `/` (or `/openai`) on
/// `api_base` is tolerated and never produces `//`.
pub fn chat_url(api_base: &str, deployment: &str, version: &ApiVersion) -> String {
    let base = api_base.trim().trim_end_matches('/');
    let base = base
        .strip_suffix("/openai")
        .unwrap_or(base)
        .trim_end_matches('/');
    if version.v1 {
        format!("{base}/openai/v1/chat/completions")
    } else {
        format!(
            "{base}/openai/deployments/{}/chat/completions?api-version={}",
            encode_component(deployment),
            encode_component(&version.raw)
        )
    }
}

/// Where a request goes and how it must be shaped.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// Azure deployment name.
    pub deployment: &'a str,
    /// The deployment's api-version.
    pub version: &'a ApiVersion,
    /// `litellm_settings.drop_params`.
    pub drop_params: bool,
}

/// A request body ready to send.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// JSON bytes.
    pub body: Vec<u8>,
    /// Parameters left out because the api-version does not know them.
    pub dropped: Vec<&'static str>,
    /// Whether upstream was asked for the final usage chunk.
    pub usage_requested: bool,
}

/// Builds the upstream body for `request`, streamed or not.
pub fn prepare(
    request: &ChatRequest,
    target: &Target<'_>,
    stream: bool,
) -> Result<Prepared, Error> {
    let mut plan = Plan {
        stream,
        model: target.version.v1.then_some(target.deployment),
        ..Plan::default()
    };
    let asked = |f: Feature| match f {
        Feature::StreamOptions => stream && request.stream_options.is_some(),
        Feature::MaxCompletionTokens => request.max_completion_tokens.is_some(),
        Feature::ParallelToolCalls => request.parallel_tool_calls.is_some(),
        Feature::JsonSchema => request
            .response_format
            .as_ref()
            .is_some_and(|f| f.kind == "json_schema"),
    };
    let mut dropped = Vec::new();
    for feature in [
        Feature::StreamOptions,
        Feature::MaxCompletionTokens,
        Feature::ParallelToolCalls,
        Feature::JsonSchema,
    ] {
        if !asked(feature) || target.version.supports(feature) {
            continue;
        }
        if !target.drop_params {
            return Err(unsupported(feature, target));
        }
        tracing::warn!(
            deployment = target.deployment,
            api_version = %target.version.raw,
            param = feature.param(),
            "dropping a parameter this Azure api-version does not support (drop_params is on)"
        );
        dropped.push(feature.param());
        match feature {
            Feature::StreamOptions => {}
            Feature::MaxCompletionTokens => {
                plan.drop_max_completion = true;
                plan.max_tokens_from_completion = request.max_tokens.is_none();
            }
            Feature::ParallelToolCalls => plan.drop_parallel = true,
            Feature::JsonSchema => plan.drop_response_format = true,
        }
    }
    plan.usage = stream && target.version.supports(Feature::StreamOptions);
    let body = serde_json::to_vec(&Body {
        req: request,
        plan: &plan,
    })
    .map_err(|e| Error::internal(format!("serializing the Azure request body: {e}")))?;
    Ok(Prepared {
        body,
        dropped,
        usage_requested: plan.usage,
    })
}

fn unsupported(feature: Feature, target: &Target<'_>) -> Error {
    let what = match feature {
        Feature::JsonSchema => "response_format json_schema (structured outputs)".to_string(),
        f => format!("`{}`", f.param()),
    };
    Error::invalid(
        format!(
            "{what} is not supported by Azure api-version {} used by deployment {}; \
             set api_version: 2024-10-21 (or v1) for this deployment, \
             or set litellm_settings.drop_params: true to drop it",
            target.version.raw, target.deployment
        ),
        Some(feature.param()),
        "unsupported_parameter",
    )
}

/// What to change while serializing.
#[derive(Debug, Default)]
struct Plan<'a> {
    stream: bool,
    usage: bool,
    model: Option<&'a str>,
    drop_max_completion: bool,
    max_tokens_from_completion: bool,
    drop_parallel: bool,
    drop_response_format: bool,
}

struct Body<'a> {
    req: &'a ChatRequest,
    plan: &'a Plan<'a>,
}

struct Messages<'a>(&'a [Message]);

impl Serialize for Messages<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for m in self.0 {
            seq.serialize_element(&MessageOut::from(m))?;
        }
        seq.end()
    }
}

/// A message as Azure gets it: `developer` as `system`, and text content written by
/// [`Text`] (long conversations are mostly text: see `json_text.rs`).
#[derive(Serialize)]
struct MessageOut<'a> {
    role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<ContentOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<&'a Vec<ToolCall>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_call: Option<&'a serde_json::Value>,
    #[serde(flatten)]
    extra: &'a Extra,
}

#[derive(Serialize)]
#[serde(untagged)]
enum ContentOut<'a> {
    Text(Text<'a>),
    Parts(&'a [ContentPart]),
}

impl<'a> From<&'a Message> for MessageOut<'a> {
    fn from(m: &'a Message) -> Self {
        // Exhaustive on purpose: a new field in Message must be decided on here.
        let Message {
            role,
            content,
            name,
            tool_calls,
            tool_call_id,
            refusal,
            function_call,
            extra,
        } = m;
        MessageOut {
            role: match role {
                Role::Developer => Role::System,
                other => *other,
            },
            content: content.as_ref().map(|c| match c {
                Content::Text(text) => ContentOut::Text(Text(text)),
                Content::Parts(parts) => ContentOut::Parts(parts),
            }),
            name: name.as_ref(),
            tool_calls: tool_calls.as_ref(),
            tool_call_id: tool_call_id.as_ref(),
            refusal: refusal.as_ref(),
            function_call: function_call.as_ref(),
            extra,
        }
    }
}

/// `stream_options` as sent: the caller's extra options kept, `include_usage` forced.
#[derive(Serialize)]
struct UsageOptions<'a> {
    include_usage: bool,
    #[serde(flatten)]
    extra: Option<&'a llmroute_core::types::Extra>,
}

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Exhaustive on purpose: a new field in ChatRequest must be decided on here.
        let ChatRequest {
            model: _,
            messages,
            tools,
            tool_choice,
            parallel_tool_calls,
            response_format,
            temperature,
            top_p,
            n,
            stop,
            max_tokens,
            max_completion_tokens,
            presence_penalty,
            frequency_penalty,
            logit_bias,
            logprobs,
            top_logprobs,
            seed,
            user,
            stream: _,
            stream_options,
            extra,
        } = self.req;
        let p = self.plan;
        let mut map = s.serialize_map(None)?;
        if let Some(model) = p.model {
            map.serialize_entry("model", model)?;
        }
        map.serialize_entry("messages", &Messages(messages))?;
        opt(&mut map, "tools", tools)?;
        opt(&mut map, "tool_choice", tool_choice)?;
        if !p.drop_parallel {
            opt(&mut map, "parallel_tool_calls", parallel_tool_calls)?;
        }
        if !p.drop_response_format {
            opt(&mut map, "response_format", response_format)?;
        }
        opt(&mut map, "temperature", temperature)?;
        opt(&mut map, "top_p", top_p)?;
        opt(&mut map, "n", n)?;
        opt(&mut map, "stop", stop)?;
        if p.max_tokens_from_completion {
            opt(&mut map, "max_tokens", max_completion_tokens)?;
        } else {
            opt(&mut map, "max_tokens", max_tokens)?;
        }
        if !p.drop_max_completion {
            opt(&mut map, "max_completion_tokens", max_completion_tokens)?;
        }
        opt(&mut map, "presence_penalty", presence_penalty)?;
        opt(&mut map, "frequency_penalty", frequency_penalty)?;
        opt(&mut map, "logit_bias", logit_bias)?;
        opt(&mut map, "logprobs", logprobs)?;
        opt(&mut map, "top_logprobs", top_logprobs)?;
        opt(&mut map, "seed", seed)?;
        opt(&mut map, "user", user)?;
        if p.stream {
            map.serialize_entry("stream", &true)?;
            if p.usage {
                let extra = stream_options.as_ref().map(|o: &StreamOptions| &o.extra);
                map.serialize_entry(
                    "stream_options",
                    &UsageOptions {
                        include_usage: true,
                        extra,
                    },
                )?;
            }
        }
        for (k, v) in extra {
            if !matches!(k.as_str(), "model" | "stream" | "stream_options") {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

fn opt<M: SerializeMap, T: Serialize>(
    map: &mut M,
    key: &str,
    value: &Option<T>,
) -> Result<(), M::Error> {
    match value {
        Some(v) => map.serialize_entry(key, v),
        None => Ok(()),
    }
}
