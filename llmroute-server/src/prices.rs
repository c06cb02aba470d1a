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
