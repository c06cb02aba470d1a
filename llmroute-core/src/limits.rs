//! Per-key rate limits (`rpm_limit`, `tpm_limit`): the [`KeyRateLimiter`] trait and an
//! in-process implementation. A Redis implementation (in `llmroute-store`) makes the
//! limits hold across every instance of the server.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::error::{Error, Result};

/// Length of the rate-limit window.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Counts requests and tokens per key per minute, and refuses what is over the limit.
#[async_trait]
pub trait KeyRateLimiter: Send + Sync + 'static {
    /// Admits one request estimated at `tokens` tokens, counting it, or refuses it with
    /// [`Error::RateLimited`] (whose `retry_after` is when the window ends) when the
    /// key's `rpm` or `tpm` would be exceeded. Atomic: concurrent calls never overshoot.
    async fn admit(
        &self,
        key_hash: &str,
        rpm: Option<u64>,
        tpm: Option<u64>,
        tokens: u64,
    ) -> Result<()>;

    /// Corrects the key's token count once the real usage is known (`delta` = real − estimate).
    async fn adjust_tokens(&self, key_hash: &str, delta: i64) -> Result<()>;
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    requests: u64,
    tokens: i64,
}

/// [`KeyRateLimiter`] kept in this process.
#[derive(Debug, Default)]
pub struct LocalRateLimiter {
    windows: Mutex<HashMap<String, Window>>,
}

impl LocalRateLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The 429 for a key over its limit.
pub fn over_limit(what: &str, limit: u64, retry_after: Duration) -> Error {
    Error::RateLimited {
        message: format!(
            "this key is over its {what} limit of {limit} per minute; retry after {:.1} s or raise the key's limit (POST /key/update)",
            retry_after.as_secs_f64()
        ),
        retry_after: Some(retry_after),
        upstream: false,
    }
}

#[async_trait]
impl KeyRateLimiter for LocalRateLimiter {
    async fn admit(
        &self,
        key_hash: &str,
        rpm: Option<u64>,
        tpm: Option<u64>,
        tokens: u64,
    ) -> Result<()> {
        if rpm.is_none() && tpm.is_none() {
            return Ok(());
        }
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let w = map.entry(key_hash.to_string()).or_insert(Window {
            started: now,
            requests: 0,
            tokens: 0,
        });
        if now.duration_since(w.started) >= RATE_WINDOW {
            *w = Window {
                started: now,
                requests: 0,
                tokens: 0,
            };
        }
        let retry_after = RATE_WINDOW.saturating_sub(now.duration_since(w.started));
        if let Some(rpm) = rpm {
            if w.requests + 1 > rpm {
                return Err(over_limit("rpm", rpm, retry_after));
            }
        }
        if let Some(tpm) = tpm {
            if w.tokens.max(0) as u64 + tokens > tpm {
                return Err(over_limit("tpm", tpm, retry_after));
            }
        }
        w.requests += 1;
        w.tokens += tokens as i64;
        Ok(())
    }

    async fn adjust_tokens(&self, key_hash: &str, delta: i64) -> Result<()> {
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = map.get_mut(key_hash) {
            w.tokens += delta;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rpm_refuses_the_request_over_the_limit_until_the_window_ends() {
        let l = LocalRateLimiter::new();
        for _ in 0..3 {
            l.admit("k", Some(3), None, 10)
                .await
                .expect("under the limit");
        }
        let err = l.admit("k", Some(3), None, 10).await.expect_err("4th");
        assert_eq!(err.status(), 429);
        assert_eq!(err.retry_after(), Some(RATE_WINDOW));
        tokio::time::advance(Duration::from_secs(61)).await;
        l.admit("k", Some(3), None, 10).await.expect("new window");
    }

    #[tokio::test(start_paused = true)]
    async fn tpm_counts_estimates_and_corrections() {
        let l = LocalRateLimiter::new();
        l.admit("k", None, Some(100), 80).await.expect("80");
        assert!(l.admit("k", None, Some(100), 30).await.is_err());
        l.adjust_tokens("k", -60).await.expect("adjust");
        l.admit("k", None, Some(100), 30)
            .await
            .expect("after the correction");
        l.admit("other", None, Some(100), 100)
            .await
            .expect("keys are separate");
    }
}
