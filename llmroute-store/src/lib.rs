//! # llmroute-store
//!
//! Where llmroute keeps virtual keys, request logs and spend, behind core's storage
//! traits ([`llmroute_core::store`]):
//!
//! - [`open`] picks the backend from the URL: `postgres://` / `postgresql://`
//!   (deadpool-postgres, TLS with `sslmode=require`), `sqlite://path`, or with no URL an
//!   embedded SQLite file `<data_dir>/llmroute.db`. Migrations run on open.
//! - [`LogWriter`] takes finished requests off the hot path and writes them in batches.
//! - [`KeyAuth`] checks the master key and virtual keys, and keeps working from a cache
//!   of recently verified keys while the database is unreachable.
//! - [`budget`] reserves a request's estimated cost before the call so concurrent
//!   requests cannot overshoot a key's budget; [`estimate`] counts prompt tokens.
//!
//! ```no_run
//! # async fn demo() -> Result<(), llmroute_store::StoreError> {
//! let store = llmroute_store::open(None, std::path::Path::new(".llmroute")).await?;
//! let created = store.create_key(Default::default()).await?;
//! println!("{}", created.key.expose()); // shown once; only its hash is stored
//! # Ok(()) }
//! ```

pub mod budget;
pub mod cache;
pub mod checks;
pub mod estimate;
pub mod key_auth;
pub mod log_writer;
mod open;
pub mod postgres;
pub mod redis;
pub mod sqlite;

pub use checks::{check_budget, check_key, check_model, effective_spend};
pub use key_auth::{KeyAuth, KeyAuthConfig};
pub use llmroute_core::store::{
    CreatedKey, KeyStore, KeyUpdate, LogEntry, LogFilter, LogStore, NewKey, Page, Paged, SpendRow,
    Store, StoreError, StoreResult,
};
pub use log_writer::{LogWriter, LogWriterConfig, LogWriterStats};
pub use open::{open, open_with, redact_url, StoreOptions};
pub use redis::{connect as connect_redis, RedisHandles};
