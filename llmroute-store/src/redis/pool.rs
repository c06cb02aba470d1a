//! The connection to Redis: a deadpool-redis pool that hands out one multiplexed
//! connection, shared by every caller, so each command or script is exactly one round
//! trip (no per-call health-check `PING`). The connection is dropped on any error and the
//! pool makes (and checks) a new one on the next call. Every call is bounded by a short
//! timeout, so a Redis that hangs costs a request at most that long.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_redis::{Manager, Pool, Runtime};
use llmroute_core::config::RedisSettings;
use llmroute_core::store::StoreError;
use redis::aio::MultiplexedConnection;
use redis::{IntoConnectionInfo, RedisResult, TlsCertificates};

use crate::redact_url;

/// Timeouts, sizes and TLS trust of the Redis connection.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Longest wait for a new connection (TCP + TLS + AUTH).
    pub connect_timeout: Duration,
    /// Longest wait for one command or script, connection included.
    pub command_timeout: Duration,
    /// While Redis is down, how often one call tries it again (the others use the
    /// in-process fallback without waiting).
    pub retry_every: Duration,
    /// Connections the pool may hold (one is in use at a time; spares for reconnects).
    pub max_connections: usize,
    /// PEM root certificate(s) to trust for `rediss://` instead of Mozilla's roots (a
    /// self-hosted Redis with a private CA; ElastiCache needs none).
    pub ca_pem: Option<Arc<[u8]>>,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            connect_timeout: Duration::from_millis(300),
            command_timeout: Duration::from_millis(300),
            retry_every: Duration::from_secs(1),
            max_connections: 4,
            ca_pem: None,
        }
    }
}

impl RedisOptions {
    /// Trusts the PEM certificate(s) in `path` for `rediss://`.
    pub fn with_ca_file(mut self, path: &std::path::Path) -> Result<Self, StoreError> {
        let pem = std::fs::read(path).map_err(|e| StoreError::Invalid {
            field: "redis_ca_file",
            message: format!(
                "cannot read the Redis CA certificate file {}: {e}; give a readable PEM file",
                path.display()
            ),
        })?;
        self.ca_pem = Some(pem.into());
        Ok(self)
    }
}

/// A Redis call that failed: what was being done and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("Redis at {target} failed while {action}: {reason}")]
pub struct RedisFailure {
    /// `host:port`.
    pub target: String,
    /// What was being done (`reserving budget`, ...).
    pub action: &'static str,
    /// What the driver said, or the timeout.
    pub reason: String,
}

impl From<RedisFailure> for llmroute_core::Error {
    fn from(f: RedisFailure) -> Self {
        llmroute_core::Error::Unavailable {
            message: f.to_string(),
        }
    }
}

/// A handle on Redis, cheap to clone.
#[derive(Clone)]
pub struct RedisPool {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    current: Mutex<Option<MultiplexedConnection>>,
    connecting: tokio::sync::Mutex<()>,
    options: RedisOptions,
    target: String,
    description: String,
}

impl std::fmt::Debug for RedisPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPool")
            .field("target", &self.inner.target)
            .finish_non_exhaustive()
    }
}

impl RedisPool {
    /// A pool for the configured Redis. Nothing is connected yet; the URL is checked.
    pub fn new(settings: &RedisSettings, options: RedisOptions) -> Result<Self, StoreError> {
        let url = settings.url.expose();
        let invalid = |reason: String| StoreError::InvalidUrl {
            url: redact_url(url),
            origin: settings.from.clone(),
            reason,
        };
        let parsed = url::Url::parse(url).map_err(|e| {
            invalid(format!(
                "{e}; expected redis://[:password@]host:port[/db] or rediss://… for TLS"
            ))
        })?;
        let tls = match parsed.scheme() {
            "redis" => false,
            "rediss" => true,
            other => {
                return Err(invalid(format!(
                    "scheme '{other}' is not supported; use redis:// or rediss:// (TLS, as ElastiCache in-transit encryption wants)"
                )))
            }
        };
        let host = parsed.host_str().unwrap_or("127.0.0.1");
        let target = format!("{host}:{}", parsed.port().unwrap_or(6379));
        let description = format!(
            "Redis at {target}{} (from {})",
            if tls { " over TLS" } else { "" },
            settings.from
        );
        let mut info = url
            .into_connection_info()
            .map_err(|e| invalid(e.to_string()))?;
        if let (true, Some(pem)) = (tls, &options.ca_pem) {
            let certs = TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.to_vec()),
            };
            info = redis::Client::build_with_tls(info, certs)
                .map_err(|e| invalid(format!("the CA certificate is not usable: {e}")))?
                .get_connection_info()
                .clone();
        }
        let manager = Manager::new(info).map_err(|e| invalid(e.to_string()))?;
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        Ok(RedisPool {
            inner: Arc::new(Inner {
                pool,
                current: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
                options,
                target,
                description,
            }),
        })
    }

    /// `Redis at host:port (from REDIS_URL)`: for the start-up log; never the password.
    pub fn describe(&self) -> &str {
        &self.inner.description
    }

    /// `host:port`.
    pub fn target(&self) -> &str {
        &self.inner.target
    }

    /// The options in use.
    pub fn options(&self) -> &RedisOptions {
        &self.inner.options
    }

    /// One `PING` (for start-up and readiness).
    pub async fn ping(&self) -> Result<(), RedisFailure> {
        self.run("answering PING", |mut c| async move {
            redis::cmd("PING").query_async::<String>(&mut c).await
        })
        .await
        .map(|_| ())
    }

    /// Runs `f` on the shared connection, bounded by the command timeout. On any
    /// failure the connection is dropped so the next call makes a fresh one.
    pub async fn run<T, F, Fut>(&self, action: &'static str, f: F) -> Result<T, RedisFailure>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let timeout = self.inner.options.command_timeout;
        let outcome = tokio::time::timeout(timeout, async {
            let conn = self.connection().await?;
            f(conn).await.map_err(|e| e.to_string())
        })
        .await;
        let reason = match outcome {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(reason)) => reason,
            Err(_) => format!("no answer within {} ms", timeout.as_millis()),
        };
        *self.lock_current() = None;
        Err(RedisFailure {
            target: self.inner.target.clone(),
            action,
            reason,
        })
    }

    fn lock_current(&self) -> std::sync::MutexGuard<'_, Option<MultiplexedConnection>> {
        self.inner.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn connection(&self) -> Result<MultiplexedConnection, String> {
        if let Some(c) = self.lock_current().clone() {
            return Ok(c);
        }
        // One caller connects; the others wait for its connection.
        let _single = self.inner.connecting.lock().await;
        if let Some(c) = self.lock_current().clone() {
            return Ok(c);
        }
        let obj = self.inner.pool.get().await.map_err(|e| match e {
            deadpool_redis::PoolError::Backend(e) => format!("connecting: {e}"),
            other => format!("connecting: {other}"),
        })?;
        let conn: MultiplexedConnection = (*obj).clone();
        *self.lock_current() = Some(conn.clone());
        Ok(conn)
    }
}
