//! The embedded backend: one SQLite file in WAL mode, used when no database URL is set.
//!
//! rusqlite is synchronous, so every call runs on tokio's blocking pool behind one
//! connection (SQLite serialises writers anyway); the async runtime never waits on disk.

mod keys;
mod logs;
mod migrations;

/// The newest schema version this build of llmroute knows (what `migrate` brings a
/// database to); `llmroute doctor` compares a database against it.
pub fn schema_version() -> u32 {
    migrations::latest()
}

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use llmroute_core::store::{Store, StoreError, StoreResult};
use rusqlite::Connection;

pub(crate) const BACKEND: &str = "SQLite";

/// A store in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the file at `path` in WAL mode. Does not migrate.
    pub async fn open(path: &Path, origin: &str) -> StoreResult<Self> {
        let path = path.to_path_buf();
        let origin = origin.to_string();
        let p = path.clone();
        let conn = tokio::task::spawn_blocking(move || open_conn(&p, &origin))
            .await
            .map_err(|e| join_error("opening the database", e))??;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    pub(crate) async fn call<T, F>(&self, action: &'static str, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| join_error(action, e))?
    }
}

fn open_conn(path: &Path, origin: &str) -> StoreResult<Connection> {
    let connect_err = |reason: String, hint: &str| StoreError::Connect {
        backend: BACKEND,
        target: path.display().to_string(),
        origin: origin.to_string(),
        reason,
        hint: hint.to_string(),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            connect_err(
                format!("cannot create {}: {e}", dir.display()),
                "make the folder writable or choose another path",
            )
        })?;
    }
    let conn = Connection::open(path)
        .map_err(|e| connect_err(e.to_string(), "check the path exists and is writable"))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(|e| connect_err(e.to_string(), "check the file is a SQLite database"))?;
    // Switching a new file to WAL does not wait on the busy handler: when another
    // process is opening (and migrating) the same file at that moment, try again.
    let settings =
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match conn.execute_batch(settings) {
            Ok(()) => return Ok(conn),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                return Err(connect_err(
                    e.to_string(),
                    "check the file is a SQLite database and not on a network filesystem",
                ))
            }
        }
    }
}

fn join_error(action: &str, e: tokio::task::JoinError) -> StoreError {
    StoreError::Query {
        backend: BACKEND,
        action: action.to_string(),
        reason: format!("the database task failed: {e}"),
    }
}

/// Maps a rusqlite error to a store error, saying what was being done.
pub(crate) fn q(action: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| {
        let busy = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        if busy {
            StoreError::Unavailable {
                backend: BACKEND,
                action: action.to_string(),
                reason: format!("{e} (another process holds the file)"),
            }
        } else {
            StoreError::Query {
                backend: BACKEND,
                action: action.to_string(),
                reason: e.to_string(),
            }
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn describe(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    async fn health(&self) -> StoreResult<()> {
        self.call("checking health", |c| {
            c.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(q("checking health"))
        })
        .await
    }

    async fn migrate(&self) -> StoreResult<u32> {
        self.call("migrating", migrations::migrate).await
    }
}
