//! Estimating a request's cost before it is sent, for budget reservations: prompt
//! tokens counted with o200k_base (gpt-4o's encoding), plus the most the answer may
//! use (`max_completion_tokens` / `max_tokens`, else a default), priced from the table.

use std::sync::OnceLock;

use llmroute_core::cost::PriceTable;
use llmroute_core::types::{ChatRequest, Message};
use tiktoken_rs::CoreBPE;

/// Tokens every message costs on top of its content (OpenAI's chat format).
const PER_MESSAGE: u64 = 3;
/// Tokens priming the reply.
const REPLY_PRIMING: u64 = 3;
/// A flat allowance for an image part (a low-detail image costs 85).
const PER_IMAGE: u64 = 85;

fn encoder() -> Option<&'static CoreBPE> {
    static BPE: OnceLock<Option<CoreBPE>> = OnceLock::new();
    BPE.get_or_init(|| match tiktoken_rs::o200k_base() {
        Ok(bpe) => Some(bpe),
        Err(e) => {
            tracing::warn!(error = %e, "o200k_base tokenizer unavailable; estimating 1 token per 4 bytes");
            None
        }
    })
    .as_ref()
}

/// Loads the tokenizer (a few hundred milliseconds, once) on a blocking thread, so no
/// async worker ever stalls on it; later calls return at once. Call it before
/// [`count_tokens`] on an async path, and at start-up to have it ready.
pub async fn warm_up() {
    static READY: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    READY
        .get_or_init(|| async {
            let _ = tokio::task::spawn_blocking(|| encoder().is_some()).await;
        })
        .await;
}

/// Tokens in `text` (o200k_base).
pub fn count_tokens(text: &str) -> u64 {
    match encoder() {
        Some(bpe) => bpe.encode_ordinary(text).len() as u64,
        None => text.len().div_ceil(4) as u64,
    }
}

fn message_tokens(m: &Message) -> u64 {
    let mut n = PER_MESSAGE + count_tokens(m.role.as_str());
    if let Some(content) = &m.content {
        n += count_tokens(&content.joined_text());
        if let llmroute_core::types::Content::Parts(parts) = content {
            n += PER_IMAGE * parts.iter().filter(|p| p.image_url.is_some()).count() as u64;
        }
    }
    if let Some(name) = &m.name {
        n += 1 + count_tokens(name);
    }
    if let Some(calls) = &m.tool_calls {
        n += count_tokens(&serde_json::to_string(calls).unwrap_or_default());
    }
    n
}

/// Prompt tokens of a request: messages, names, tool calls and tool definitions.
pub fn prompt_tokens(req: &ChatRequest) -> u64 {
    let tools = req.tools.as_ref().map_or(0, |t| {
        count_tokens(&serde_json::to_string(t).unwrap_or_default())
    });
    req.messages.iter().map(message_tokens).sum::<u64>() + REPLY_PRIMING + tools
}

/// What a request may cost at most.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Prompt tokens counted.
    pub prompt_tokens: u64,
    /// Output tokens allowed (all choices).
    pub completion_tokens: u64,
    /// Dollars (0 when the model has no price).
    pub cost: f64,
}

/// Estimates request costs from a price table.
#[derive(Debug, Clone)]
pub struct CostEstimator {
    prices: PriceTable,
    default_max_tokens: u64,
}

impl CostEstimator {
    /// Prices from `prices`; a request without a token limit is assumed to use
    /// `default_max_tokens` (4096 is a reasonable default for gpt-4o).
    pub fn new(prices: PriceTable, default_max_tokens: u64) -> Self {
        CostEstimator {
            prices,
            default_max_tokens,
        }
    }

    /// The estimate for `req` against model group `model`.
    pub fn estimate(&self, model: &str, req: &ChatRequest) -> Estimate {
        let prompt = prompt_tokens(req);
        let per_choice = req
            .max_completion_tokens
            .or(req.max_tokens)
            .map_or(self.default_max_tokens, u64::from);
        let completion = per_choice * u64::from(req.n.unwrap_or(1).max(1));
        let cost = self.prices.price(model).map_or(0.0, |p| {
            prompt as f64 * p.input + completion as f64 * p.output
        });
        Estimate {
            prompt_tokens: prompt,
            completion_tokens: completion,
            cost,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn o200k_counts_known_text() {
        // "hello world" is two tokens in o200k_base.
        assert_eq!(count_tokens("hello world"), 2);
        assert_eq!(count_tokens(""), 0);
    }

    #[test]
    fn estimate_adds_message_overhead_max_tokens_and_price() {
        let mut req = ChatRequest::new("gpt-4o", vec![Message::user("hello world")]);
        // 3 per message + "user" (1) + 2 content + 3 priming = 9
        assert_eq!(prompt_tokens(&req), 9);
        req.max_tokens = Some(100);
        let est = CostEstimator::new(PriceTable::default(), 4096).estimate("gpt-4o", &req);
        assert_eq!((est.prompt_tokens, est.completion_tokens), (9, 100));
        // 9 * 2.5e-6 + 100 * 10e-6
        assert!((est.cost - 0.0010225).abs() < 1e-12, "{}", est.cost);
        req.max_tokens = None;
        req.n = Some(2);
        let est = CostEstimator::new(PriceTable::default(), 50).estimate("unpriced", &req);
        assert_eq!((est.completion_tokens, est.cost), (100, 0.0));
    }
}
