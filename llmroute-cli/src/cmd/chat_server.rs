//! `llmroute chat --server URL`: the same completion through a running llmroute (or any
//! OpenAI-compatible) server, streamed over server-sent events.

use std::io::Write;
use std::time::Instant;

use futures::StreamExt;
use llmroute_azure::sse::SseParser;
use llmroute_core::cost::PriceTable;
use llmroute_core::types::{ChatChunk, ChatResponse};

use super::chat::{build_request, ChatStats};
use crate::admin::{chain, ServerClient};
use crate::args::ChatArgs;
use crate::error::CliError;

/// Sends the chat to `server`; prints the answer; returns the stats.
pub async fn run(
    args: &ChatArgs,
    server: &str,
    prompt: String,
    stream: bool,
) -> Result<ChatStats, CliError> {
    let client = ServerClient::new(server, args.key.clone())?;
    let model = match &args.model {
        Some(m) => m.clone(),
        None => first_model(&client).await?,
    };
    let req = build_request(args, model.clone(), prompt, stream);
    let started = Instant::now();
    let resp = client
        .request(reqwest::Method::POST, "/v1/chat/completions")
        .json(&req)
        .send()
        .await
        .map_err(|e| {
            CliError::Server(format!(
                "cannot reach {}: {}; is the server running and the URL right?",
                client.base(),
                chain(&e)
            ))
        })?;
    let status = resp.status();
    if !status.is_success() {
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        let msg = body
            .pointer("/error/message")
            .and_then(|m| m.as_str())
            .unwrap_or("(no message)");
        let hint = if status == 401 {
            "; pass a key with --key or LLMROUTE_API_KEY"
        } else {
            ""
        };
        return Err(CliError::Server(format!(
            "{} answered {status}: {msg}{hint}",
            client.base()
        )));
    }
    let mut stats = ChatStats {
        via: Some(format!("via {}", client.base())),
        ..Default::default()
    };
    // What the server charged (it knows the config's prices); streams carry no such header.
    let charged = server_cost(resp.headers());
    let prices = PriceTable::default();
    if stream {
        let mut body = resp.bytes_stream();
        let mut parser = SseParser::new();
        let mut stdout = std::io::stdout().lock();
        'outer: while let Some(bytes) = body.next().await {
            let bytes = bytes.map_err(|e| {
                CliError::Server(format!("the stream from {} broke: {e}", client.base()))
            })?;
            parser
                .feed(&bytes)
                .map_err(|e| CliError::Server(format!("bad event stream: {e}")))?;
            while let Some(ev) = parser.next_event() {
                if ev.is_done() {
                    break 'outer;
                }
                let chunk: ChatChunk = match serde_json::from_str(&ev.data) {
                    Ok(c) => c,
                    Err(_) => {
                        let v: serde_json::Value =
                            serde_json::from_str(&ev.data).unwrap_or_default();
                        let msg = v
                            .pointer("/error/message")
                            .and_then(|m| m.as_str())
                            .unwrap_or(&ev.data);
                        return Err(CliError::Server(format!(
                            "the stream ended with an error: {msg}"
                        )));
                    }
                };
                if !chunk.model.is_empty() {
                    stats.model = chunk.model.clone();
                }
                if let Some(u) = chunk.usage {
                    stats.usage = Some(u);
                }
                for c in &chunk.choices {
                    if let Some(text) = &c.delta.content {
                        stats.first_token.get_or_insert_with(|| started.elapsed());
                        write!(stdout, "{text}")?;
                        stdout.flush()?;
                    }
                }
            }
        }
        writeln!(stdout)?;
    } else {
        let text = resp
            .text()
            .await
            .map_err(|e| CliError::Server(format!("reading the answer: {e}")))?;
        let parsed: ChatResponse = serde_json::from_str(&text)
            .map_err(|e| CliError::Server(format!("the answer is not a chat completion: {e}")))?;
        stats.model = parsed.model.clone();
        stats.usage = parsed.usage.clone();
        if args.json {
            println!("{}", serde_json::to_string_pretty(&parsed).unwrap_or(text));
        } else {
            println!("{}", parsed.first_text().unwrap_or_default());
        }
    }
    if stats.model.is_empty() {
        stats.model = model;
    }
    stats.cost = charged.unwrap_or_else(|| {
        stats
            .usage
            .as_ref()
            .map(|u| prices.cost(&stats.model, u))
            .unwrap_or(0.0)
    });
    stats.latency = started.elapsed();
    Ok(stats)
}

/// The cost the server charged, from its `x-llmroute-response-cost` header (LiteLLM's
/// `x-litellm-response-cost` as a fallback), when present and a number.
pub fn server_cost(headers: &reqwest::header::HeaderMap) -> Option<f64> {
    ["x-llmroute-response-cost", "x-litellm-response-cost"]
        .iter()
        .filter_map(|h| headers.get(*h))
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .find(|c| c.is_finite() && *c >= 0.0)
}

/// The server's first model, for a chat without `-m`.
pub async fn first_model(client: &ServerClient) -> Result<String, CliError> {
    let list = client
        .get("/v1/models", &[], "listing the server's models")
        .await?;
    list.pointer("/data/0/id")
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .ok_or_else(|| {
            CliError::Server(format!("{} serves no models; pass -m MODEL", client.base()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn cost_header_is_read() {
        let mut h = HeaderMap::new();
        assert_eq!(server_cost(&h), None);
        h.insert("x-litellm-response-cost", HeaderValue::from_static("0.5"));
        assert_eq!(server_cost(&h), Some(0.5));
        h.insert(
            "x-llmroute-response-cost",
            HeaderValue::from_static("0.026"),
        );
        assert_eq!(server_cost(&h), Some(0.026));
        let mut bad = HeaderMap::new();
        bad.insert("x-llmroute-response-cost", HeaderValue::from_static("NaN"));
        assert_eq!(server_cost(&bad), None);
    }
}
