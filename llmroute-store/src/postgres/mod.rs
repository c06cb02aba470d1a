//! The production backend: PostgreSQL through a deadpool-postgres pool, shared by every
//! instance. TLS (rustls) when the URL says `sslmode=require`, as RDS wants.

mod conn;
mod keys;
mod logs;
mod migrations;

/// The newest schema version this build of llmroute knows (what `migrate` brings a
/// database to); `llmroute doctor` compares a database against it.
pub fn schema_version() -> u32 {
    migrations::latest()
}
mod tls;

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use llmroute_core::store::{Store, StoreError, StoreResult};
use tokio_postgres::config::{Host, SslMode};

use self::conn::Conn;
use crate::open::{redact_url, StoreOptions};

pub(crate) const BACKEND: &str = "PostgreSQL";

/// A store in a PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    url: String,
    target: String,
    /// Connections closed because their operation ended without an answer.
    closed: Arc<AtomicU64>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("url", &self.url).finish()
    }
}

impl PgStore {
    /// Builds the pool and makes the first connection, so a wrong URL, password or
    /// security group fails start-up with a message saying which. Does not migrate.
    pub async fn connect(url: &str, opts: &StoreOptions) -> StoreResult<Self> {
        let redacted = redact_url(url);
        let invalid = |reason: String| StoreError::InvalidUrl {
            url: redacted.clone(),
            origin: opts.origin.clone(),
            reason,
        };
        let split = tls::split(url).map_err(invalid)?;
        let mut config =
            tokio_postgres::Config::from_str(&split.url).map_err(|e| invalid(e.to_string()))?;
        config.connect_timeout(opts.connect_timeout);
        config.ssl_mode(if split.tls {
            SslMode::Require
        } else {
            SslMode::Disable
        });
        if config.get_application_name().is_none() {
            config.application_name("llmroute");
        }
        let target = target_of(&config);
        let connect_err = |reason: String, hint: String| StoreError::Connect {
            backend: BACKEND,
            target: target.clone(),
            origin: opts.origin.clone(),
            reason,
            hint,
        };
        let tls = tls::connector(split.root_cert.as_deref())
            .map_err(|e| connect_err(e, "fix sslrootcert / PGSSLROOTCERT".into()))?;
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(opts.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(opts.connect_timeout))
            .create_timeout(Some(opts.connect_timeout))
            .recycle_timeout(Some(opts.connect_timeout))
            .build()
            .map_err(|e| connect_err(e.to_string(), "this is a bug; please report it".into()))?;
        let store = PgStore {
            pool,
            url: redacted.clone(),
            target: target.clone(),
            closed: Arc::new(AtomicU64::new(0)),
        };
        if let Err(e) = store.pool.get().await {
            let (reason, hint) = explain_connect(&e, opts.connect_timeout, split.tls);
            return Err(connect_err(reason, hint));
        }
        Ok(store)
    }

    /// A pooled connection for one operation, or [`StoreError::Unavailable`]. It goes
    /// back to the pool with [`Conn::release`]; dropped without (the operation failed
    /// or its caller stopped waiting), it is closed.
    pub(crate) async fn client(&self, action: &str) -> StoreResult<Conn> {
        match self.pool.get().await {
            Ok(object) => Ok(Conn::new(object, self.closed.clone())),
            Err(e) => Err(StoreError::Unavailable {
                backend: BACKEND,
                action: action.to_string(),
                reason: format!("no connection to {}: {}", self.target, pool_reason(&e)),
            }),
        }
    }

    /// Connections closed so far because an operation ended without an answer (its
    /// caller timed out, or it failed) rather than returned to the pool.
    pub fn connections_closed(&self) -> u64 {
        self.closed.load(Ordering::Relaxed)
    }
}

fn target_of(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{host}:{port}/{}",
        config
            .get_dbname()
            .unwrap_or(config.get_user().unwrap_or("postgres"))
    )
}

fn pool_reason(e: &PoolError) -> String {
    match e {
        PoolError::Timeout(kind) => format!("timed out ({kind:?})"),
        PoolError::Backend(e) => describe(e),
        other => other.to_string(),
    }
}

/// The driver's error with its cause (tokio-postgres hides the interesting part there).
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    match std::error::Error::source(e) {
        Some(src) => format!("{e}: {src}"),
        None => e.to_string(),
    }
}

fn explain_connect(e: &PoolError, timeout: Duration, tls: bool) -> (String, String) {
    let secs = timeout.as_secs_f64();
    let reason = pool_reason(e);
    let hint = match e {
        PoolError::Timeout(_) => format!("timed out after {secs} s — check the security group / firewall and that the host is reachable from here"),
        PoolError::Backend(pe) => match pe.code().map(|c| c.code()) {
            // pg_hba.conf refusals are 28000 too, so these come before the password hint.
            _ if !tls && reason.contains("no encryption") => "the server requires TLS: add ?sslmode=require to the URL".into(),
            Some("28000") if reason.contains("pg_hba.conf") => "the server's pg_hba.conf does not let this user in from this address: check the user and database in the URL, or ask the database's administrator".into(),
            Some("28P01" | "28000") => "check the user and password in the URL".into(),
            Some("3D000") => "the database does not exist: create it (CREATE DATABASE) or fix the name in the URL".into(),
            Some("53300") => "the server has no free connections: lower the pool size or raise max_connections".into(),
            _ if reason.contains("refused") => "nothing listens there: check the host and port and that PostgreSQL is running".into(),
            _ if reason.contains("does not support TLS") => "the server has TLS turned off (ssl = off): turn it on there (RDS always has it), or remove sslmode=require if the network path is trusted".into(),
            _ if reason.contains("not valid for name") => "the certificate does not name this host (sslmode=require checks the name, like libpq's verify-full): connect with a host name the certificate was issued for — on RDS the instance or cluster endpoint, not an IP address or a CNAME of your own".into(),
            _ if reason.to_lowercase().contains("tls") || reason.contains("certificate") => {
                "TLS failed: for RDS set sslrootcert=/path/to/global-bundle.pem (or PGSSLROOTCERT)".into()
            }
            _ => "check the URL, the network path and the server's log".into(),
        },
        _ => "check the URL".into(),
    };
    (reason, hint)
}

/// Maps a driver error during an operation: a lost connection is `Unavailable`.
pub(crate) fn pg(action: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |e| {
        let class = e.code().map(|c| &c.code()[..2]);
        // 08: connection exception, 57: operator intervention (shutdown), 53: resources, 40: rollback (deadlock, serialization)
        if e.is_closed()
            || e.as_db_error().is_none()
            || matches!(class, Some("08" | "57" | "53" | "40"))
        {
            StoreError::Unavailable {
                backend: BACKEND,
                action: action.to_string(),
                reason: describe(&e),
            }
        } else {
            StoreError::Query {
                backend: BACKEND,
                action: action.to_string(),
                reason: describe(&e),
            }
        }
    }
}

/// Unix seconds → time.
pub(crate) fn from_secs(s: i64) -> SystemTime {
    if s >= 0 {
        UNIX_EPOCH + Duration::from_secs(s as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(s.unsigned_abs())
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn describe(&self) -> String {
        self.url.clone()
    }

    async fn health(&self) -> StoreResult<()> {
        let c = self.client("checking health").await?;
        c.simple_query("SELECT 1")
            .await
            .map_err(pg("checking health"))?;
        c.release();
        Ok(())
    }

    async fn migrate(&self) -> StoreResult<u32> {
        let mut c = self.client("migrating the schema").await?;
        let version = migrations::migrate(&mut c).await?;
        c.release();
        Ok(version)
    }
}
