//! Storage traits: virtual keys ([`KeyStore`]), request logs and spend ([`LogStore`]), and
//! the [`Store`] that holds both, with the types they exchange and their error.
//!
//! `llmroute-store` implements these over embedded SQLite and PostgreSQL; the server
//! only ever sees `Arc<dyn Store>`. Keys are handled as SHA-256 hashes
//! ([`crate::auth::hash_key`]); the plaintext key exists once, in [`CreatedKey`].

mod error;
mod new_key;
mod query;

use std::time::SystemTime;

use async_trait::async_trait;

use crate::events::RequestRecord;
use crate::keys::VirtualKey;

pub use error::{StoreError, StoreResult};
pub use new_key::{
    generate_key, parse_budget_duration, unix_millis, unix_secs, CreatedKey, KeyUpdate, NewKey,
};
pub use query::{LogEntry, LogFilter, Page, Paged, SpendRow};

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
