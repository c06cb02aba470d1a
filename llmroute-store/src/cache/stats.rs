//! Cache counters for `/metrics`: hits and misses by layer (`moka`, `redis`), Redis
//! errors, and answers stored.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Which layer answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// In process.
    Moka,
    /// Shared.
    Redis,
}

impl Layer {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Layer::Moka => "moka",
            Layer::Redis => "redis",
        }
    }
}

/// Counters of a cache; all monotonic.
#[derive(Debug, Default)]
pub struct CacheStats {
    moka_hits: AtomicU64,
    moka_misses: AtomicU64,
    redis_hits: AtomicU64,
    redis_misses: AtomicU64,
    redis_errors: AtomicU64,
    stores: AtomicU64,
}

impl CacheStats {
    /// Counts a hit in `layer`.
    pub fn hit(&self, layer: Layer) {
        match layer {
            Layer::Moka => &self.moka_hits,
            Layer::Redis => &self.redis_hits,
        }
        .fetch_add(1, Relaxed);
    }

    /// Counts a miss in `layer`.
    pub fn miss(&self, layer: Layer) {
        match layer {
            Layer::Moka => &self.moka_misses,
            Layer::Redis => &self.redis_misses,
        }
        .fetch_add(1, Relaxed);
    }

    /// Counts a Redis error (the call acted as a miss or stored nothing).
    pub fn redis_error(&self) {
        self.redis_errors.fetch_add(1, Relaxed);
    }

    /// Counts an answer stored.
    pub fn stored(&self) {
        self.stores.fetch_add(1, Relaxed);
    }

    /// Hits in `layer`.
    pub fn hits(&self, layer: Layer) -> u64 {
        match layer {
            Layer::Moka => self.moka_hits.load(Relaxed),
            Layer::Redis => self.redis_hits.load(Relaxed),
        }
    }

    /// Misses in `layer`.
    pub fn misses(&self, layer: Layer) -> u64 {
        match layer {
            Layer::Moka => self.moka_misses.load(Relaxed),
            Layer::Redis => self.redis_misses.load(Relaxed),
        }
    }

    /// Redis errors.
    pub fn redis_errors(&self) -> u64 {
        self.redis_errors.load(Relaxed)
    }

    /// Answers stored.
    pub fn stores(&self) -> u64 {
        self.stores.load(Relaxed)
    }

    /// Appends Prometheus text: `llmroute_cache_hits_total{layer}`,
    /// `llmroute_cache_misses_total{layer}`, `llmroute_cache_redis_errors_total`,
    /// `llmroute_cache_stores_total`.
    pub fn render_prometheus(&self, out: &mut String) {
        for (name, help, f) in [
            ("llmroute_cache_hits_total", "Response cache hits, by layer.", Self::hits as fn(&Self, Layer) -> u64),
            ("llmroute_cache_misses_total", "Response cache misses, by layer (a Redis lookup skipped or failed counts as a miss).", Self::misses),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for layer in [Layer::Moka, Layer::Redis] {
                let _ = writeln!(out, "{name}{{layer=\"{}\"}} {}", layer.label(), f(self, layer));
            }
        }
        for (name, help, v) in [
            (
                "llmroute_cache_redis_errors_total",
                "Redis errors of the response cache (each acted as a miss or stored nothing).",
                self.redis_errors(),
            ),
            (
                "llmroute_cache_stores_total",
                "Answers stored in the response cache.",
                self.stores(),
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {v}");
        }
    }
}
