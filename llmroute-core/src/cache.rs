//! The response cache: the [`Cache`] trait, what it stores ([`CachedAnswer`]), how a
//! request becomes a key ([`cache_key`]), how a caller opts out ([`cache_control`]), and
//! how a streamed answer is cached whole and served again as a stream
//! ([`assemble_stream`], [`replay_as_chunks`]).
//!
//! The order on the request path: compute [`cache_control`]; when `read`, look up
//! [`cache_key`] and serve a hit (as chunks for a streaming caller); on a miss call the
//! upstream and, when `write`, store the answer — a stream once it is complete.
//!
//! ```
//! use llmroute_core::cache::{cache_key, cache_control};
//! use llmroute_core::types::{ChatRequest, Message};
//!
//! let mut req = ChatRequest::new("gpt-4o", vec![Message::user("hi")]);
//! let key = cache_key("gpt-4o", &req, "prod");
//! req.user = Some("alice".into()); // `user` does not change the answer
//! assert_eq!(key, cache_key("gpt-4o", &req, "prod"));
//! let cc = cache_control(Some("no-cache"), &req);
//! assert!(!cc.read && cc.write);
//! ```

mod control;
mod key;
mod stream;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::types::ChatResponse;

pub use control::{cache_control, CacheControl};
pub use key::{cache_key, IGNORED_FIELDS};
pub use stream::{assemble_stream, replay_as_chunks, StreamAssembler};

/// A cached answer: the whole response, and when it was stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedAnswer {
    /// The complete response (a streamed answer is stored assembled).
    pub response: ChatResponse,
    /// When it was stored (Unix seconds).
    pub stored_at: u64,
}

impl CachedAnswer {
    /// An answer stored now.
    pub fn new(response: ChatResponse) -> Self {
        CachedAnswer {
            response,
            stored_at: now_secs(),
        }
    }

    /// How long ago it was stored.
    pub fn age(&self) -> Duration {
        Duration::from_secs(now_secs().saturating_sub(self.stored_at))
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Where answers are cached.
///
/// Implementations in `llmroute-store`: in process (moka), shared (Redis), and both
/// (moka in front of Redis). A cache error must never fail a request: callers treat an
/// `Err` from `get` as a miss and from `set` as nothing stored (the tiered cache already
/// does, and never returns `Err`).
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// The answer stored under `key`, if any and not expired.
    async fn get(&self, key: &str) -> Result<Option<Arc<CachedAnswer>>>;

    /// Stores `answer` under `key` for `ttl`.
    async fn set(&self, key: &str, answer: Arc<CachedAnswer>, ttl: Duration) -> Result<()>;
}
