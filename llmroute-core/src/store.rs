//! Storage traits: virtual keys ([`KeyStore`]), request logs and spend ([`LogStore`]), and
//! the [`Store`] that holds both, with the types they exchange and their error.
//!
//! `llmroute-store` implements these over embedded SQLite and PostgreSQL; the server
//! only ever sees `Arc<dyn Store>`. Keys are handled as SHA-256 hashes
//! ([`crate::auth::hash_key`]); the plaintext key exists once, in [`CreatedKey`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rand::{distributions::Alphanumeric, rngs::OsRng, Rng};
use serde::Serialize;

use crate::auth::hash_key;
use crate::events::RequestRecord;
use crate::keys::VirtualKey;
use crate::secret::Secret;

/// Result of a storage call.
pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// What went wrong in the store: each message says what failed, where, and what to do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database URL cannot be used.
    #[error("database URL {url} (from {origin}) is not usable: {reason}")]
    InvalidUrl {
        /// The URL with any password replaced by `***`.
        url: String,
        /// Where the URL came from (`DATABASE_URL`, `general_settings.database_url`).
        origin: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The first connection could not be made.
    #[error("connecting to {backend} at {target} (from {origin}): {reason} — {hint}")]
    Connect {
        /// `PostgreSQL` or `SQLite`.
        backend: &'static str,
        /// `host:port/db` or the file path.
        target: String,
        /// Where the URL came from.
        origin: String,
        /// What the driver said.
        reason: String,
        /// The likely fix.
        hint: String,
    },
    /// The database did not answer during an operation (connection lost, pool timeout).
    #[error("{backend} unreachable while {action}: {reason}; requests with recently seen keys keep working and logs are queued until it is back")]
    Unavailable {
        /// `PostgreSQL` or `SQLite`.
        backend: &'static str,
        /// What was being done.
        action: String,
        /// What the driver said.
        reason: String,
    },
    /// A statement failed although the database was reachable.
    #[error("{backend} failed while {action}: {reason}")]
    Query {
        /// `PostgreSQL` or `SQLite`.
        backend: &'static str,
        /// What was being done.
        action: String,
        /// What the driver said.
        reason: String,
    },
    /// A schema migration failed; the database stays at the previous version.
    #[error("migrating the {backend} schema to version {version} ({name}) failed: {reason}; the database was left at version {previous} — fix the cause and restart llmroute")]
    Migration {
        /// `PostgreSQL` or `SQLite`.
        backend: &'static str,
        /// The version being applied.
        version: u32,
        /// Its name.
        name: &'static str,
        /// The version the database is at.
        previous: u32,
        /// What the driver said.
        reason: String,
    },
    /// The database was migrated by a newer llmroute than this one.
    #[error("the {backend} schema is at version {found} but this llmroute knows versions up to {known}; run the newer llmroute (a newer schema is never rolled back automatically)")]
    SchemaTooNew {
        /// `PostgreSQL` or `SQLite`.
        backend: &'static str,
        /// Version found in the database.
        found: u32,
        /// Highest version this build knows.
        known: u32,
    },
    /// The key (or other record) does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for (never a plaintext key).
        what: String,
    },
    /// The caller's input is invalid.
    #[error("{message}")]
    Invalid {
        /// The field at fault.
        field: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
}

impl StoreError {
    /// Whether the database could not be reached (worth retrying later, serve from cache).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable { .. } | StoreError::Connect { .. }
        )
    }

    /// A low-cardinality label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            StoreError::InvalidUrl { .. } => "invalid_url",
            StoreError::Connect { .. } => "connect",
            StoreError::Unavailable { .. } => "unavailable",
            StoreError::Query { .. } => "query",
            StoreError::Migration { .. } => "migration",
            StoreError::SchemaTooNew { .. } => "schema_too_new",
            StoreError::NotFound { .. } => "not_found",
            StoreError::Invalid { .. } => "invalid",
        }
    }
}

impl From<StoreError> for crate::Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => crate::Error::invalid(e.to_string(), None, "not_found"),
            StoreError::Invalid { field, .. } => {
                crate::Error::invalid(e.to_string(), Some(field), "invalid_value")
            }
            StoreError::Unavailable { .. } | StoreError::Connect { .. } => {
                crate::Error::Unavailable {
                    message: e.to_string(),
                }
            }
            _ => crate::Error::internal(e.to_string()),
        }
    }
}

/// Unix seconds of a time (negative before 1970).
pub fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Unix milliseconds of a time.
pub fn unix_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Parses a LiteLLM budget period: `30s`, `30m`, `1h`, `7d`, `1w`, `1mo` (30 days).
///
/// ```
/// use llmroute_core::store::parse_budget_duration;
/// assert_eq!(parse_budget_duration("30d").map(|d| d.as_secs()), Some(30 * 86400));
/// assert_eq!(parse_budget_duration("soon"), None);
/// ```
pub fn parse_budget_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "mo" => 30 * 86_400,
        _ => return None,
    };
    n.checked_mul(secs).map(Duration::from_secs)
}

fn checked_duration(value: Option<&str>) -> StoreResult<Option<Duration>> {
    match value {
        None => Ok(None),
        Some(v) => parse_budget_duration(v).map(Some).ok_or_else(|| StoreError::Invalid {
            field: "budget_duration",
            message: format!("budget_duration '{v}' is not a period; use a number and a unit: 30s, 30m, 1h, 7d, 1w or 1mo"),
        }),
    }
}

/// A new virtual key: `sk-` and 40 random letters and digits from the OS (≈238 bits).
pub fn generate_key() -> Secret {
    let body: String = OsRng
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    Secret::new(format!("sk-{body}"))
}

/// What `POST /key/generate` asks for (LiteLLM's field names).
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    /// A caller-chosen key; generated when `None`. Must start with `sk-`.
    pub key: Option<Secret>,
    /// A readable name.
    pub key_alias: Option<String>,
    /// Model groups the key may call; empty means all.
    pub models: Vec<String>,
    /// Dollars per budget period (or in all).
    pub max_budget: Option<f64>,
    /// Budget period (`30d`, `1h`, ...).
    pub budget_duration: Option<String>,
    /// Requests per minute.
    pub rpm_limit: Option<u64>,
    /// Tokens per minute.
    pub tpm_limit: Option<u64>,
    /// Expiry (Unix seconds).
    pub expires: Option<i64>,
    /// Free-form metadata (`null` becomes `{}`).
    pub metadata: serde_json::Value,
    /// Create the key blocked.
    pub blocked: bool,
}

impl NewKey {
    /// The plaintext key and the record to insert, created at `now` (validated).
    pub fn into_record(self, now: SystemTime) -> StoreResult<(Secret, VirtualKey)> {
        let key = self.key.unwrap_or_else(generate_key);
        if !key.expose().starts_with("sk-") || key.expose().len() < 12 {
            return Err(StoreError::Invalid {
                field: "key",
                message: "a chosen key must start with 'sk-' and be at least 12 characters long"
                    .into(),
            });
        }
        let period = checked_duration(self.budget_duration.as_deref())?;
        let now_s = unix_secs(now);
        let record = VirtualKey {
            token_hash: hash_key(key.expose()),
            key_alias: self.key_alias,
            models: self.models,
            max_budget: self.max_budget,
            budget_reset_at: period.map(|p| now_s + p.as_secs() as i64),
            budget_duration: self.budget_duration,
            spend: 0.0,
            rpm_limit: self.rpm_limit,
            tpm_limit: self.tpm_limit,
            expires: self.expires,
            metadata: if self.metadata.is_null() {
                serde_json::json!({})
            } else {
                self.metadata
            },
            blocked: self.blocked,
            created_at: now_s,
        };
        Ok((key, record))
    }
}

/// A key just created: the plaintext (shown once, never stored) and its record.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The `sk-...` key to hand to the caller.
    pub key: Secret,
    /// What was stored.
    pub record: VirtualKey,
}

/// Changes to a key; `None` leaves a field alone, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct KeyUpdate {
    /// New alias.
    pub key_alias: Option<Option<String>>,
    /// New allowed models.
    pub models: Option<Vec<String>>,
    /// New budget.
    pub max_budget: Option<Option<f64>>,
    /// New budget period (restarts the period now).
    pub budget_duration: Option<Option<String>>,
    /// Set the spend (e.g. 0 to forgive).
    pub spend: Option<f64>,
    /// New rpm limit.
    pub rpm_limit: Option<Option<u64>>,
    /// New tpm limit.
    pub tpm_limit: Option<Option<u64>>,
    /// New expiry (Unix seconds).
    pub expires: Option<Option<i64>>,
    /// New metadata (replaces the old).
    pub metadata: Option<serde_json::Value>,
    /// Block or unblock.
    pub blocked: Option<bool>,
}

impl KeyUpdate {
    /// Applies the changes to `key` at `now` (validated; the period restarts when it changes).
    pub fn apply(&self, key: &mut VirtualKey, now: SystemTime) -> StoreResult<()> {
        if let Some(d) = &self.budget_duration {
            let period = checked_duration(d.as_deref())?;
            key.budget_reset_at = period.map(|p| unix_secs(now) + p.as_secs() as i64);
            key.budget_duration = d.clone();
        }
        macro_rules! set {
            ($($f:ident),*) => { $(if let Some(v) = &self.$f { key.$f = v.clone(); })* };
        }
        set!(
            key_alias, models, max_budget, spend, rpm_limit, tpm_limit, expires, metadata, blocked
        );
        Ok(())
    }
}

/// A page of a listing: `page` counts from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Page number, from 1.
    pub page: u32,
    /// Items per page (1..=1000).
    pub size: u32,
}

impl Default for Page {
    fn default() -> Self {
        Page { page: 1, size: 50 }
    }
}

impl Page {
    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        u64::from(self.page.max(1) - 1) * u64::from(self.limit())
    }
    /// Rows to return (clamped to 1..=1000).
    pub fn limit(&self) -> u32 {
        self.size.clamp(1, 1000)
    }
}

/// One page of items and how many there are in all.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paged<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Items in all pages.
    pub total: u64,
}

/// Which logs a query covers: a key (by hash) and a time range `[start, end)`.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// SHA-256 hex of a key.
    pub key_hash: Option<String>,
    /// Inclusive start.
    pub start: Option<SystemTime>,
    /// Exclusive end.
    pub end: Option<SystemTime>,
}

/// A stored request log, as queries return it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    /// Gateway request id.
    pub request_id: String,
    /// Arrival time (Unix milliseconds).
    pub started_at_ms: i64,
    /// SHA-256 hex of the key.
    pub key_hash: Option<String>,
    /// The key's alias.
    pub key_alias: Option<String>,
    /// Model group asked for.
    pub model: String,
    /// Deployment that answered.
    pub deployment: Option<String>,
    /// Model reported by the upstream.
    pub upstream_model: Option<String>,
    /// HTTP status returned.
    pub status: u16,
    /// Error label, when it failed.
    pub error_type: Option<String>,
    /// Input tokens (cached included).
    pub prompt_tokens: Option<u64>,
    /// Cached input tokens.
    pub cached_tokens: Option<u64>,
    /// Output tokens.
    pub completion_tokens: Option<u64>,
    /// Dollars.
    pub cost: f64,
    /// Total time in the gateway, ms.
    pub latency_ms: f64,
    /// Time waiting on upstreams, ms.
    pub upstream_ms: f64,
    /// Time to first token, ms (streams).
    pub ttft_ms: Option<f64>,
    /// Upstream attempts.
    pub attempts: u32,
    /// Served from the response cache.
    pub cache_hit: bool,
    /// Streamed.
    pub stream: bool,
    /// Upstream's request id.
    pub upstream_request_id: Option<String>,
}

/// Spend of one group (a key hash, a `YYYY-MM-DD` UTC day, or a model).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendRow {
    /// The key hash, day or model.
    pub group: String,
    /// Dollars.
    pub spend: f64,
    /// Requests logged.
    pub requests: u64,
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
}

/// Virtual keys, by hash.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Creates a key; the plaintext is in the result and nowhere else.
    async fn create_key(&self, new: NewKey) -> StoreResult<CreatedKey>;
    /// Inserts a record whose key is known only by hash (importing from LiteLLM).
    async fn import_key(&self, record: &VirtualKey) -> StoreResult<()>;
    /// The key with this hash, if any.
    async fn get_key(&self, token_hash: &str) -> StoreResult<Option<VirtualKey>>;
    /// Changes a key; [`StoreError::NotFound`] if it does not exist.
    async fn update_key(&self, token_hash: &str, update: &KeyUpdate) -> StoreResult<VirtualKey>;
    /// Keys, newest first.
    async fn list_keys(&self, page: Page) -> StoreResult<Paged<VirtualKey>>;
    /// Deletes keys; returns how many existed.
    async fn delete_keys(&self, token_hashes: &[String]) -> StoreResult<u64>;
    /// Adds dollars to a key's spend; if its budget period has ended, the spend restarts
    /// from `amount` and a new period begins.
    async fn add_spend(&self, token_hash: &str, amount: f64) -> StoreResult<()>;
    /// Resets the spend of every key whose budget period ended by `now`; returns how many.
    async fn reset_budgets(&self, now: SystemTime) -> StoreResult<u64>;
}

/// Request logs and the spend computed from them.
#[async_trait]
pub trait LogStore: Send + Sync {
    /// Inserts logs in one transaction and adds their cost to their keys' spend. A
    /// request id already stored is skipped (so a retried batch counts once). Returns
    /// how many rows were new.
    async fn insert_logs(&self, batch: &[RequestRecord]) -> StoreResult<u64>;
    /// Spend per key hash, largest first.
    async fn spend_by_key(&self, filter: &LogFilter) -> StoreResult<Vec<SpendRow>>;
    /// Spend per UTC day, oldest first.
    async fn spend_by_day(&self, filter: &LogFilter) -> StoreResult<Vec<SpendRow>>;
    /// Spend per model group, largest first.
    async fn spend_by_model(&self, filter: &LogFilter) -> StoreResult<Vec<SpendRow>>;
    /// Logs, newest first.
    async fn recent_logs(&self, filter: &LogFilter, page: Page) -> StoreResult<Vec<LogEntry>>;
}

/// A whole store: keys, logs, health and migrations.
#[async_trait]
pub trait Store: KeyStore + LogStore {
    /// `postgres` or `sqlite`.
    fn backend(&self) -> &'static str;
    /// Where it is, safe to log (no password).
    fn describe(&self) -> String;
    /// A cheap round trip, for readiness.
    async fn health(&self) -> StoreResult<()>;
    /// Applies pending migrations; returns the schema version.
    async fn migrate(&self) -> StoreResult<u32>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_long_unique_and_hashed() {
        let (a, b) = (generate_key(), generate_key());
        assert!(a.expose().starts_with("sk-") && a.expose().len() == 43);
        assert_ne!(a, b);
        let (key, rec) = NewKey {
            budget_duration: Some("1h".into()),
            ..Default::default()
        }
        .into_record(UNIX_EPOCH + Duration::from_secs(1000))
        .expect("valid");
        assert_eq!(rec.token_hash, hash_key(key.expose()));
        assert_eq!(rec.budget_reset_at, Some(4600));
        assert_eq!(rec.metadata, serde_json::json!({}));
    }

    #[test]
    fn bad_period_and_short_chosen_key_are_refused() {
        let e = NewKey {
            budget_duration: Some("7x".into()),
            ..Default::default()
        }
        .into_record(SystemTime::now());
        assert!(matches!(
            e,
            Err(StoreError::Invalid {
                field: "budget_duration",
                ..
            })
        ));
        let e = NewKey {
            key: Some(Secret::new("pk-123")),
            ..Default::default()
        }
        .into_record(SystemTime::now());
        assert!(matches!(e, Err(StoreError::Invalid { field: "key", .. })));
        assert_eq!(
            parse_budget_duration("1mo"),
            Some(Duration::from_secs(30 * 86400))
        );
        assert_eq!(parse_budget_duration("0d"), None);
    }

    #[test]
    fn update_clears_and_restarts_period() {
        let mut k = VirtualKey {
            max_budget: Some(5.0),
            key_alias: Some("a".into()),
            ..Default::default()
        };
        let u = KeyUpdate {
            max_budget: Some(None),
            budget_duration: Some(Some("1d".into())),
            ..Default::default()
        };
        u.apply(&mut k, UNIX_EPOCH).expect("apply");
        assert_eq!(
            (k.max_budget, k.budget_reset_at, k.key_alias.as_deref()),
            (None, Some(86400), Some("a"))
        );
        assert_eq!(Page { page: 3, size: 20 }.offset(), 40);
    }
}
