//! Virtual keys: what the store keeps about a key (never the key itself).

use serde::{Deserialize, Serialize};

/// A virtual key's record, with LiteLLM's field names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VirtualKey {
    /// SHA-256 hex of the key.
    pub token_hash: String,
    /// A readable name.
    pub key_alias: Option<String>,
    /// Model groups the key may call; empty means all.
    #[serde(default)]
    pub models: Vec<String>,
    /// Dollars the key may spend per budget period (or in all).
    pub max_budget: Option<f64>,
    /// Budget period, e.g. `30d`, `1h`; spend resets when it ends.
    pub budget_duration: Option<String>,
    /// When the current budget period ends (Unix seconds).
    pub budget_reset_at: Option<i64>,
    /// Dollars spent in the current period.
    #[serde(default)]
    pub spend: f64,
    /// Requests per minute.
    pub rpm_limit: Option<u64>,
    /// Tokens per minute.
    pub tpm_limit: Option<u64>,
    /// Expiry (Unix seconds).
    pub expires: Option<i64>,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: serde_json::Value,
    /// A blocked key is refused.
    #[serde(default)]
    pub blocked: bool,
    /// Creation time (Unix seconds).
    #[serde(default)]
    pub created_at: i64,
}

impl VirtualKey {
    /// Whether the key may call `model` (an empty list allows every model).
    pub fn allows_model(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model || m == "*")
    }
}
