//! Opening a store from a URL: the scheme picks the backend, migrations run at once.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use llmroute_core::store::{Store, StoreError};

use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;

/// Everything [`open_with`] needs; [`open`] fills in the defaults.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `postgres://…`, `postgresql://…`, `sqlite://path`, or `None` for the embedded file.
    pub url: Option<String>,
    /// Where the embedded SQLite file lives (`<data_dir>/llmroute.db`).
    pub data_dir: PathBuf,
    /// Where the URL came from, for error messages (`DATABASE_URL`).
    pub origin: String,
    /// How long to wait for a new connection (PostgreSQL).
    pub connect_timeout: Duration,
    /// Connections in the pool (PostgreSQL).
    pub pool_size: usize,
    /// Run migrations on open.
    pub migrate: bool,
}

impl StoreOptions {
    /// Defaults: 5 s connect timeout, 16 connections, migrations on.
    pub fn new(url: Option<&str>, data_dir: &Path) -> Self {
        StoreOptions {
            url: url.map(str::to_string),
            data_dir: data_dir.to_path_buf(),
            origin: "DATABASE_URL / general_settings.database_url".to_string(),
            connect_timeout: Duration::from_secs(5),
            pool_size: 16,
            migrate: true,
        }
    }
}

/// Opens the store named by `url` (or the embedded SQLite file in `data_dir`) and runs
/// its migrations.
pub async fn open(url: Option<&str>, data_dir: &Path) -> Result<Arc<dyn Store>, StoreError> {
    open_with(StoreOptions::new(url, data_dir)).await
}

/// Opens a store with explicit options.
pub async fn open_with(opts: StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    let store: Arc<dyn Store> = match opts.url.as_deref().map(str::trim) {
        None | Some("") => {
            std::fs::create_dir_all(&opts.data_dir).map_err(|e| StoreError::Connect {
                backend: "SQLite",
                target: opts.data_dir.display().to_string(),
                origin: "the data folder".into(),
                reason: format!("cannot create the folder: {e}"),
                hint: "make the data folder writable, or set DATABASE_URL".into(),
            })?;
            Arc::new(SqliteStore::open(&opts.data_dir.join("llmroute.db"), &opts.origin).await?)
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Arc::new(PgStore::connect(url, &opts).await?)
        }
        Some(url) if url.starts_with("sqlite:") => {
            let path = sqlite_path(url, &opts)?;
            Arc::new(SqliteStore::open(&path, &opts.origin).await?)
        }
        Some(url) => {
            return Err(StoreError::InvalidUrl {
                url: redact_url(url),
                origin: opts.origin.clone(),
                reason: "unknown scheme; use postgres://user:pass@host:5432/db, sqlite://path/to/file.db, or leave it unset for the embedded database".into(),
            })
        }
    };
    if opts.migrate {
        let version = store.migrate().await?;
        tracing::info!(store = %store.describe(), version, "store ready");
    }
    Ok(store)
}

/// `sqlite://relative/path.db`, `sqlite:///abs/path.db` or `sqlite::memory:`.
fn sqlite_path(url: &str, opts: &StoreOptions) -> Result<PathBuf, StoreError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let rest = rest.split('?').next().unwrap_or_default();
    if rest.is_empty() {
        return Err(StoreError::InvalidUrl {
            url: url.to_string(),
            origin: opts.origin.clone(),
            reason: "no file path; write sqlite://path/to/llmroute.db".into(),
        });
    }
    Ok(PathBuf::from(rest))
}

/// The URL with its password replaced by `***`, safe to log.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(unparseable URL)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let r = redact_url("postgres://app:s3cret@db.internal:5432/llm?sslmode=require");
        assert!(
            !r.contains("s3cret") && r.contains("app:***@db.internal"),
            "{r}"
        );
    }

    #[test]
    fn sqlite_paths() {
        let o = StoreOptions::new(None, Path::new("."));
        assert_eq!(
            sqlite_path("sqlite://data/x.db", &o).ok(),
            Some(PathBuf::from("data/x.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///tmp/x.db", &o).ok(),
            Some(PathBuf::from("/tmp/x.db"))
        );
        assert!(sqlite_path("sqlite://", &o).is_err());
    }

    #[tokio::test]
    async fn unknown_scheme_says_what_to_use() {
        let e = open(Some("mysql://root:pw@h/db"), Path::new("."))
            .await
            .err()
            .map(|e| e.to_string());
        let e = e.unwrap_or_default();
        assert!(
            e.contains("unknown scheme") && e.contains("postgres://") && !e.contains("pw@"),
            "{e}"
        );
    }
}
