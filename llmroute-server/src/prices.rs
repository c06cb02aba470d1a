//! Prices for the gateway: the built-in table plus per-deployment overrides from config.

use std::collections::HashMap;

use llmroute_core::config::Config;
use llmroute_core::cost::{Price, PriceTable};
use llmroute_core::types::Usage;

/// Built-in prices by model name, and config overrides by deployment id.
#[derive(Debug, Clone, Default)]
pub struct Prices {
    table: PriceTable,
    by_deployment: HashMap<String, Price>,
    base_model: HashMap<String, String>,
}

impl Prices {
    /// The prices of a config's deployments.
    pub fn from_config(config: &Config) -> Self {
        let mut prices = Prices::default();
        for d in &config.models {
            if let Some(p) = d.price {
                prices.by_deployment.insert(d.id.clone(), p);
            }
            if let Some(base) = &d.base_model {
                prices.base_model.insert(d.id.clone(), base.clone());
            }
        }
        prices
    }

    /// Prices by model group, for estimating a request's cost before the call: the
    /// dearest deployment of each group (its override, else its `base_model`, else the
    /// group's own name in the built-in table).
    pub fn by_group(&self, config: &Config) -> PriceTable {
        let mut table = PriceTable::empty();
        for d in &config.models {
            let price = self
                .by_deployment
                .get(&d.id)
                .copied()
                .or_else(|| d.base_model.as_deref().and_then(|b| self.table.price(b)))
                .or_else(|| self.table.price(&d.model_name))
                .or_else(|| self.table.price(&d.deployment));
            let Some(price) = price else { continue };
            let dearer = table
                .price(&d.model_name)
                .is_none_or(|known| price.output + price.input > known.output + known.input);
            if dearer {
                table.insert(d.model_name.clone(), price);
            }
        }
        table
    }

    /// The cost of `usage` answered by `model` (as the upstream reported it) on
    /// `deployment`: the deployment's override, else the table by model name, else by
    /// the deployment's `base_model`; 0 when nothing is known.
    pub fn cost(&self, deployment: Option<&str>, model: &str, usage: &Usage) -> f64 {
        if let Some(p) = deployment.and_then(|d| self.by_deployment.get(d)) {
            return p.cost(usage);
        }
        if let Some(p) = self.table.price(model) {
            return p.cost(usage);
        }
        deployment
            .and_then(|d| self.base_model.get(d))
            .and_then(|base| self.table.price(base))
            .map(|p| p.cost(usage))
            .unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
model_list:
  - model_name: gpt-4o
    litellm_params: {model: mock/a, input_cost_per_token: 1e-6, output_cost_per_token: 2e-6}
    model_info: {id: priced}
  - model_name: gpt-4o
    litellm_params: {model: mock/b}
    model_info: {id: builtin}
  - model_name: gpt-4o
    litellm_params: {model: mock/c}
    model_info: {id: info, input_cost_per_token: 3e-6, output_cost_per_token: 4e-6, cache_read_input_token_cost: 0.5e-6}
  - model_name: house
    litellm_params: {model: mock/d}
    model_info: {id: based, base_model: gpt-4o-mini}
"#;

    fn prices() -> (Config, Prices) {
        let cfg = Config::from_yaml(YAML, "c.yaml", &|_| None).expect("loads");
        let prices = Prices::from_config(&cfg);
        (cfg, prices)
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    fn cached_usage(prompt: u64, cached: u64, completion: u64) -> Usage {
        Usage {
            prompt_tokens_details: Some(llmroute_core::types::PromptTokensDetails {
                cached_tokens: cached,
                ..Default::default()
            }),
            ..Usage::new(prompt, completion)
        }
    }

    #[test]
    fn a_deployment_override_from_config_wins_over_the_built_in_price() {
        let (_, prices) = prices();
        let usage = Usage::new(1000, 500);
        // Override: 1000 * 1e-6 + 500 * 2e-6 = 0.002.
        close(
            prices.cost(Some("priced"), "gpt-4o-2024-08-06", &usage),
            0.002,
        );
        // Same group, no override: built-in gpt-4o, 1000 * 2.5e-6 + 500 * 10e-6 = 0.0075.
        close(
            prices.cost(Some("builtin"), "gpt-4o-2024-08-06", &usage),
            0.0075,
        );
        // No deployment known: the built-in price by model name.
        close(prices.cost(None, "gpt-4o-2024-08-06", &usage), 0.0075);
    }

    #[test]
    fn an_override_under_model_info_with_a_cached_price() {
        let (_, prices) = prices();
        // 2000 prompt of which 1000 cached, 100 out:
        // 1000 * 3e-6 + 1000 * 0.5e-6 + 100 * 4e-6 = 0.003 + 0.0005 + 0.0004.
        close(
            prices.cost(Some("info"), "gpt-4o", &cached_usage(2000, 1000, 100)),
            0.0039,
        );
        // Without cache_read_input_token_cost, cached tokens cost the input price.
        close(
            prices.cost(Some("priced"), "gpt-4o", &cached_usage(2000, 1000, 100)),
            0.0022,
        );
    }

    #[test]
    fn base_model_prices_an_unknown_upstream_name_and_the_rest_cost_nothing() {
        let (_, prices) = prices();
        let usage = Usage::new(1_000_000, 1_000_000);
        // gpt-4o-mini: 0.15 + 0.60 per 1M.
        close(prices.cost(Some("based"), "house-model", &usage), 0.75);
        // The upstream name comes before base_model when it is priced.
        close(prices.cost(Some("based"), "gpt-4o", &usage), 12.5);
        close(prices.cost(Some("builtin"), "house-model", &usage), 0.0);
        close(prices.cost(None, "house-model", &usage), 0.0);
    }

    #[test]
    fn a_group_is_estimated_at_its_dearest_deployment() {
        let (cfg, prices) = prices();
        let table = prices.by_group(&cfg);
        // gpt-4o: built-in 2.5 + 10 per 1M beats the overrides (1 + 2, 3 + 4).
        assert_eq!(table.price("gpt-4o"), Some(llmroute_core::cost::GPT_4O));
        assert_eq!(table.price("house"), Some(llmroute_core::cost::GPT_4O_MINI));
    }
}
