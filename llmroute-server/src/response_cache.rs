//! The response cache on the request path: whether a request may use it, the lookup,
//! and storing answers (whole ones at once, streamed ones once complete) off the path.

use std::sync::Arc;

use llmroute_core::cache::{cache_control, cache_key, CacheControl, CachedAnswer, StreamAssembler};
use llmroute_core::types::{ChatChunk, ChatRequest, ChatResponse};
use llmroute_store::cache::TieredCache;

/// How one request uses the cache.
pub struct CacheUse {
    key: String,
    control: CacheControl,
    cache: Arc<TieredCache>,
}

impl CacheUse {
    /// The cache plan of a request, or `None` when caching is off or the request opted
    /// out of both reading and writing. Removes LiteLLM's body field `cache` so it never
    /// goes upstream.
    pub fn plan(
        cache: Option<&Arc<TieredCache>>,
        cache_control_header: Option<&str>,
        chat: &mut ChatRequest,
    ) -> Option<CacheUse> {
        let control = cache_control(cache_control_header, chat);
        chat.extra.remove("cache");
        let cache = cache?;
        if !control.read && !control.write {
            return None;
        }
        Some(CacheUse {
            // The namespace is already the Redis key prefix (shared_state::redis_prefix).
            key: cache_key(&chat.model, chat, ""),
            control,
            cache: cache.clone(),
        })
    }

    /// A cached answer this request may be served.
    pub async fn lookup(&self) -> Option<Arc<CachedAnswer>> {
        if !self.control.read {
            return None;
        }
        self.cache
            .lookup(&self.key)
            .await
            .filter(|hit| self.control.accepts_age(hit.age()))
    }

    /// Stores a whole answer, off the request path.
    pub fn store(self, response: ChatResponse) {
        if !self.control.write {
            return;
        }
        let ttl = self.cache.ttl_for(&self.control);
        tokio::spawn(async move {
            self.cache
                .store(&self.key, Arc::new(CachedAnswer::new(response)), ttl)
                .await;
        });
    }

    /// A recorder for a streamed answer, stored once the stream completes.
    pub fn capture(self) -> Option<StreamCapture> {
        self.control.write.then(|| StreamCapture {
            assembler: StreamAssembler::new(),
            target: self,
        })
    }
}

/// Assembles a streamed answer as it passes, to cache it when complete.
pub struct StreamCapture {
    assembler: StreamAssembler,
    target: CacheUse,
}

impl StreamCapture {
    /// Adds one chunk.
    pub fn push(&mut self, chunk: &ChatChunk) {
        self.assembler.push(chunk);
    }

    /// Stores the answer when every choice finished (a cut stream is never cached).
    pub fn finish(self) {
        if self.assembler.is_complete() {
            self.target.store(self.assembler.finish());
        }
    }
}
