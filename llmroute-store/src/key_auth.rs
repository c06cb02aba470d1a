//! [`KeyAuth`]: the master key, then virtual keys by hash, with a cache that keeps
//! requests flowing while the database is unreachable (degraded mode).
//!
//! A key verified within `fresh_ttl` is served from the cache. After that the database
//! is asked again, with a short timeout; if it cannot answer, a key verified within
//! `fresh_ttl + stale_ttl` is still accepted (and counted), and only a key never seen
//! (or seen too long ago) fails, with 503 "database unreachable: key could not be
//! verified" rather than a misleading 401.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use llmroute_core::auth::{hash_key, Authenticator, MasterKeyAuth, Principal};
use llmroute_core::keys::VirtualKey;
use llmroute_core::secret::redact_key;
use llmroute_core::store::{Store, StoreResult};
use llmroute_core::{Error, Result, Secret};

use crate::checks::check_key;

/// Timings of [`KeyAuth`].
#[derive(Debug, Clone)]
pub struct KeyAuthConfig {
    /// How long a verified key is trusted without asking the database (default 10 s).
    pub fresh_ttl: Duration,
    /// How much longer it is accepted when the database is unreachable (default 10 min).
    pub stale_ttl: Duration,
    /// How long a lookup may wait on the database (default 500 ms).
    pub db_timeout: Duration,
    /// Keys kept in the cache (default 100 000).
    pub capacity: u64,
}

impl Default for KeyAuthConfig {
    fn default() -> Self {
        KeyAuthConfig {
            fresh_ttl: Duration::from_secs(10),
            stale_ttl: Duration::from_secs(600),
            db_timeout: Duration::from_millis(500),
            capacity: 100_000,
        }
    }
}

#[derive(Clone)]
struct Cached {
    key: Arc<VirtualKey>,
    verified: Instant,
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyAuthStats {
    /// Requests let through on a stale cached key because the database was unreachable.
    pub served_stale: u64,
    /// Keys that could not be verified at all (503).
    pub unverifiable: u64,
}

/// Master key and virtual keys, with a degraded mode.
pub struct KeyAuth {
    master: Option<MasterKeyAuth>,
    store: Arc<dyn Store>,
    cache: moka::future::Cache<String, Cached>,
    /// One database lookup per key at a time: concurrent first uses of a key wait for
    /// the lookup in flight instead of each asking the database.
    lookups: moka::sync::Cache<String, Arc<tokio::sync::Mutex<()>>>,
    config: KeyAuthConfig,
    served_stale: AtomicU64,
    unverifiable: AtomicU64,
}

impl KeyAuth {
    /// Checks `master_key` first (if any), then virtual keys in `store`.
    pub fn new(master_key: Option<Secret>, store: Arc<dyn Store>, config: KeyAuthConfig) -> Self {
        let cache = moka::future::Cache::builder()
            .max_capacity(config.capacity)
            .time_to_live(config.fresh_ttl + config.stale_ttl)
            .build();
        KeyAuth {
            master: master_key.map(MasterKeyAuth::new),
            store,
            cache,
            lookups: moka::sync::Cache::builder()
                .max_capacity(config.capacity)
                .time_to_idle(Duration::from_secs(60))
                .build(),
            config,
            served_stale: AtomicU64::new(0),
            unverifiable: AtomicU64::new(0),
        }
    }

    /// Forgets a key (after the admin API changed or deleted it).
    pub async fn invalidate(&self, token_hash: &str) {
        self.cache.invalidate(token_hash).await;
    }

    /// Degraded-mode counters.
    pub fn stats(&self) -> KeyAuthStats {
        KeyAuthStats {
            served_stale: self.served_stale.load(Ordering::Relaxed),
            unverifiable: self.unverifiable.load(Ordering::Relaxed),
        }
    }

    /// The store behind this authenticator.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    async fn fresh(&self, hash: &str) -> Option<Arc<VirtualKey>> {
        self.cache
            .get(hash)
            .await
            .filter(|c| c.verified.elapsed() < self.config.fresh_ttl)
            .map(|c| c.key.clone())
    }

    /// The key's record from the database, one lookup per key at a time; the timeout
    /// covers waiting for a lookup already in flight.
    async fn query(&self, hash: &str) -> Option<StoreResult<Option<VirtualKey>>> {
        let lock = self
            .lookups
            .get_with(hash.to_string(), || Arc::new(tokio::sync::Mutex::new(())));
        let work = async {
            let _turn = lock.lock().await;
            if let Some(key) = self.fresh(hash).await {
                return Ok(Some((*key).clone()));
            }
            let found = self.store.get_key(hash).await;
            if let Ok(Some(key)) = &found {
                // Cached before the turn passes, so the next waiter finds it fresh.
                let cached = Cached {
                    key: Arc::new(key.clone()),
                    verified: Instant::now(),
                };
                self.cache.insert(hash.to_string(), cached).await;
            }
            found
        };
        tokio::time::timeout(self.config.db_timeout, work)
            .await
            .ok()
    }

    async fn lookup(&self, presented: &str, hash: &str) -> Result<Arc<VirtualKey>> {
        if let Some(key) = self.fresh(hash).await {
            return Ok(key);
        }
        let cached = self.cache.get(hash).await;
        let why = match self.query(hash).await {
            Some(Ok(Some(key))) => {
                let key = Arc::new(key);
                self.cache
                    .insert(
                        hash.to_string(),
                        Cached {
                            key: key.clone(),
                            verified: Instant::now(),
                        },
                    )
                    .await;
                return Ok(key);
            }
            Some(Ok(None)) => {
                self.cache.invalidate(hash).await;
                return Err(Error::Unauthorized {
                    message: format!(
                        "invalid API key {}: it is neither the master key nor a virtual key (it may have been deleted); check the key, or create one with POST /key/generate",
                        redact_key(presented)
                    ),
                    code: "invalid_api_key",
                });
            }
            Some(Err(e)) => e.to_string(),
            None => format!("no answer within {} ms", self.config.db_timeout.as_millis()),
        };
        if let Some(c) = cached {
            self.served_stale.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(key = %redact_key(presented), age_s = c.verified.elapsed().as_secs(), reason = %why, "database unreachable: serving a cached key");
            return Ok(c.key);
        }
        self.unverifiable.fetch_add(1, Ordering::Relaxed);
        Err(Error::Unavailable {
            message: format!(
                "database unreachable: key could not be verified ({why}); the master key and recently used keys still work — retry shortly"
            ),
        })
    }
}

#[async_trait]
impl Authenticator for KeyAuth {
    async fn authenticate(&self, presented: &str) -> Result<Principal> {
        if let Some(master) = &self.master {
            if master.is_master(presented) {
                return Ok(master.master_principal());
            }
        }
        if presented.is_empty() {
            return Err(Error::Unauthorized {
                message: "no API key: send Authorization: Bearer <key> or api-key: <key>".into(),
                code: "missing_api_key",
            });
        }
        let hash = hash_key(presented);
        let key = self.lookup(presented, &hash).await?;
        check_key(&key, SystemTime::now())?;
        Ok(Principal {
            key_hash: hash,
            key: Some(key),
        })
    }
}
