//! `llmroute chat`: one completion, embedded (straight to the config's providers through
//! the same router and providers the server builds) or through a server (`--server`).
//! The answer goes to stdout as it arrives; usage, cost and latency to stderr.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use futures::StreamExt;
use llmroute_azure::AzureClient;
use llmroute_core::types::{ChatRequest, Message, StreamOptions, Usage};
use llmroute_server::gateway::build_router;
use llmroute_server::prices::Prices;

use crate::args::ChatArgs;
use crate::context::load_config;
use crate::error::CliError;
use crate::output::{dollars, Output};

/// What a finished chat reports on stderr.
#[derive(Debug, Default)]
pub struct ChatStats {
    /// Model that answered (as the upstream named it).
    pub model: String,
    /// Deployment id (embedded) or server, when known.
    pub via: Option<String>,
    /// Tokens.
    pub usage: Option<Usage>,
    /// Dollars.
    pub cost: f64,
    /// Whole time.
    pub latency: Duration,
    /// Time to the first content (streams).
    pub first_token: Option<Duration>,
}

impl ChatStats {
    /// `gpt-4o · deployment gpt-4o-0 · 12 in + 9 out tokens · $0.000120 · 412 ms (first token 80 ms)`.
    pub fn line(&self) -> String {
        let mut parts = vec![self.model.clone()];
        if let Some(v) = &self.via {
            parts.push(v.clone());
        }
        match &self.usage {
            Some(u) => parts.push(format!(
                "{} in + {} out tokens",
                u.prompt_tokens, u.completion_tokens
            )),
            None => parts.push("usage unknown".into()),
        }
        parts.push(dollars(self.cost));
        let mut t = format!("{} ms", self.latency.as_millis());
        if let Some(f) = self.first_token {
            t.push_str(&format!(" (first token {} ms)", f.as_millis()));
        }
        parts.push(t);
        parts.join(" · ")
    }
}

/// Builds the request from the flags and the prompt.
pub fn build_request(args: &ChatArgs, model: String, prompt: String, stream: bool) -> ChatRequest {
    let mut messages = Vec::new();
    if let Some(s) = &args.system {
        messages.push(Message::system(s.clone()));
    }
    messages.push(Message::user(prompt));
    let mut req = ChatRequest::new(model, messages);
    req.max_tokens = args.max_tokens;
    req.temperature = args.temperature;
    if stream {
        req.stream = Some(true);
        req.stream_options = Some(StreamOptions {
            include_usage: Some(true),
            ..Default::default()
        });
    }
    req
}

/// The prompt: the argument, or standard input for `-` or nothing.
pub fn read_prompt(arg: Option<&str>) -> Result<String, CliError> {
    match arg {
        Some(p) if p != "-" => Ok(p.to_string()),
        _ => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| {
                CliError::Io(format!("reading the prompt from standard input: {e}"))
            })?;
            let s = s.trim_end().to_string();
            if s.is_empty() {
                return Err(CliError::Usage(
                    "no prompt: pass it as an argument, or pipe it in with `-`".into(),
                ));
            }
            Ok(s)
        }
    }
}

/// Runs `llmroute chat`.
pub async fn run(args: ChatArgs, out: &Output) -> Result<u8, CliError> {
    let prompt = read_prompt(args.prompt.as_deref())?;
    let stream = !args.no_stream && !args.json;
    let stats = if let Some(server) = args.server.clone() {
        super::chat_server::run(&args, &server, prompt, stream).await?
    } else {
        run_embedded(&args, prompt, stream).await?
    };
    // `out` was made with --no-color in mind; its stderr half paints the stats line.
    let err = out.stderr();
    eprintln!("{}", err.dim(&stats.line()));
    Ok(0)
}

async fn run_embedded(
    args: &ChatArgs,
    prompt: String,
    stream: bool,
) -> Result<ChatStats, CliError> {
    let config = load_config(&args.config)?;
    let model = match &args.model {
        Some(m) => m.clone(),
        None => config
            .model_names()
            .first()
            .map(|m| m.to_string())
            .ok_or_else(|| CliError::Usage("the config has no model".into()))?,
    };
    let client = AzureClient::new()
        .map_err(|e| CliError::Other(format!("creating the upstream HTTP client: {e}")))?;
    let router = build_router(&config, &client)?;
    if !router.has_model(&model) {
        return Err(CliError::Usage(format!(
            "model '{model}' is not in {}; it has: {}",
            config.source,
            config.model_names().join(", ")
        )));
    }
    let prices = Prices::from_config(&config);
    let req = build_request(args, model.clone(), prompt, stream);
    let started = Instant::now();
    let mut stats = ChatStats::default();
    if stream {
        let routed = router
            .chat_stream(&req)
            .await
            .map_err(|e| CliError::Upstream(e.to_string()))?;
        stats.via = Some(format!("deployment {}", routed.deployment));
        let mut chunks = routed.value.chunks;
        let mut stdout = std::io::stdout().lock();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| CliError::Upstream(format!("the stream broke: {e}")))?;
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
        writeln!(stdout)?;
        stats.cost = stats
            .usage
            .as_ref()
            .map(|u| prices.cost(Some(&routed.deployment), &stats.model, u))
            .unwrap_or(0.0);
    } else {
        let routed = router
            .chat(&req)
            .await
            .map_err(|e| CliError::Upstream(e.to_string()))?;
        let resp = routed.value.into_response();
        stats.via = Some(format!("deployment {}", routed.deployment));
        stats.model = resp.model.clone();
        stats.usage = resp.usage.clone();
        stats.cost = resp
            .usage
            .as_ref()
            .map(|u| prices.cost(Some(&routed.deployment), &resp.model, u))
            .unwrap_or(0.0);
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&resp).unwrap_or_default()
            );
        } else {
            println!("{}", resp.first_text().unwrap_or_default());
        }
    }
    if stats.model.is_empty() {
        stats.model = model;
    }
    stats.latency = started.elapsed();
    Ok(stats)
}
