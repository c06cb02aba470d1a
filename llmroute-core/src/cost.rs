//! Prices and the cost of a request.
//!
//! Cost = (prompt − cached) × input + cached × cached_input + completion × output, with
//! prices per token. Keyed by the model name the provider returns (`gpt-4o-2024-08-06`);
//! a deployment's config can override its prices (`input_cost_per_token`, ...).

use std::collections::HashMap;

use crate::types::Usage;

/// Prices of one model, in US dollars per token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Per uncached input token.
    pub input: f64,
    /// Per cached input token.
    pub cached_input: f64,
    /// Per output token.
    pub output: f64,
}

impl Price {
    /// A price from dollars per million tokens.
    pub const fn per_million(input: f64, cached_input: f64, output: f64) -> Self {
        Price {
            input: input / 1e6,
            cached_input: cached_input / 1e6,
            output: output / 1e6,
        }
    }

    /// The cost in dollars of `usage` at this price.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let cached = usage.cached_tokens().min(usage.prompt_tokens);
        let uncached = usage.prompt_tokens - cached;
        uncached as f64 * self.input
            + cached as f64 * self.cached_input
            + usage.completion_tokens as f64 * self.output
    }
}

/// gpt-4o's published prices (per 1M tokens: input 2.50, cached input 1.25, output 10.00).
pub const GPT_4O: Price = Price::per_million(2.50, 1.25, 10.00);
/// gpt-4o-2024-05-13's published prices (5.00 / 15.00; no prompt caching discount).
pub const GPT_4O_2024_05_13: Price = Price::per_million(5.00, 5.00, 15.00);
/// gpt-4o-mini's published prices (0.15 / 0.075 / 0.60).
pub const GPT_4O_MINI: Price = Price::per_million(0.15, 0.075, 0.60);

/// Prices by model name, with the built-in ones as defaults.
#[derive(Debug, Clone)]
pub struct PriceTable {
    prices: HashMap<String, Price>,
}

impl Default for PriceTable {
    fn default() -> Self {
        let mut prices = HashMap::new();
        for name in ["gpt-4o", "gpt-4o-2024-08-06", "gpt-4o-2024-11-20"] {
            prices.insert(name.to_string(), GPT_4O);
        }
        prices.insert("gpt-4o-2024-05-13".to_string(), GPT_4O_2024_05_13);
        for name in ["gpt-4o-mini", "gpt-4o-mini-2024-07-18"] {
            prices.insert(name.to_string(), GPT_4O_MINI);
        }
        PriceTable { prices }
    }
}

impl PriceTable {
    /// A table with no prices at all.
    pub fn empty() -> Self {
        PriceTable {
            prices: HashMap::new(),
        }
    }

    /// Sets (or overrides) the price of `model`.
    pub fn insert(&mut self, model: impl Into<String>, price: Price) {
        self.prices.insert(model.into(), price);
    }

    /// The price of `model`: exact name first, then the name without a trailing
    /// `-YYYY-MM-DD` version (Azure reports `gpt-4o-2024-08-06` for a `gpt-4o` deployment).
    pub fn price(&self, model: &str) -> Option<Price> {
        if let Some(p) = self.prices.get(model) {
            return Some(*p);
        }
        strip_date_suffix(model).and_then(|base| self.prices.get(base).copied())
    }

    /// The cost of `usage` answered by `model`, or 0 for an unknown model.
    pub fn cost(&self, model: &str, usage: &Usage) -> f64 {
        self.price(model).map(|p| p.cost(usage)).unwrap_or(0.0)
    }
}

fn strip_date_suffix(model: &str) -> Option<&str> {
    let (base, date) = model.len().checked_sub(11).map(|i| model.split_at(i))?;
    let date_ok = date.starts_with('-')
        && date[1..].chars().enumerate().all(|(i, c)| match i {
            4 | 7 => c == '-',
            _ => c.is_ascii_digit(),
        });
    date_ok.then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::PromptTokensDetails;

    fn usage(prompt: u64, cached: u64, completion: u64) -> Usage {
        Usage {
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: cached,
                ..Default::default()
            }),
            ..Usage::new(prompt, completion)
        }
    }

    #[test]
    fn gpt_4o_cost_by_hand() {
        let table = PriceTable::default();
        // 1000 prompt, none cached, 500 out: 1000*2.5e-6 + 500*10e-6 = 0.0025 + 0.005
        let c = table.cost("gpt-4o-2024-08-06", &usage(1000, 0, 500));
        assert!((c - 0.0075).abs() < 1e-12, "{c}");
    }

    #[test]
    fn cached_tokens_are_billed_at_the_cached_price() {
        let table = PriceTable::default();
        // 2000 prompt of which 1536 cached, 100 out:
        // 464*2.5e-6 + 1536*1.25e-6 + 100*10e-6 = 0.00116 + 0.00192 + 0.001 = 0.00408
        let c = table.cost("gpt-4o", &usage(2000, 1536, 100));
        assert!((c - 0.00408).abs() < 1e-12, "{c}");
    }

    #[test]
    fn may_2024_snapshot_has_its_own_price() {
        let table = PriceTable::default();
        // 1M in, 1M out: 5 + 15
        let c = table.cost("gpt-4o-2024-05-13", &usage(1_000_000, 0, 1_000_000));
        assert!((c - 20.0).abs() < 1e-9, "{c}");
    }

    #[test]
    fn dated_names_fall_back_to_the_base_and_unknown_costs_nothing() {
        let table = PriceTable::default();
        assert_eq!(table.price("gpt-4o-2030-01-01"), Some(GPT_4O));
        assert_eq!(table.cost("llama-3", &usage(10, 0, 10)), 0.0);
    }

    #[test]
    fn override_wins() {
        let mut table = PriceTable::default();
        table.insert(
            "gpt-4o",
            Price {
                input: 1e-6,
                cached_input: 1e-6,
                output: 2e-6,
            },
        );
        let c = table.cost("gpt-4o", &usage(10, 5, 10));
        assert!((c - 30e-6).abs() < 1e-15, "{c}");
    }
}
