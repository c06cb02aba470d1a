//! The store's error: what failed, where, and what to do; and its mapping to core's error.

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
