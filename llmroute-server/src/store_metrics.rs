//! The store's series on `/metrics`: log queue, dropped logs, degraded-mode key checks.

use std::fmt::Write;
use std::sync::Arc;

use llmroute_store::{KeyAuth, LogWriter};

use crate::metrics::ExtraMetrics;

/// Renders the log writer's and the key authenticator's counters.
pub struct StoreMetrics {
    /// The batched request-log writer.
    pub log_writer: Arc<LogWriter>,
    /// The key authenticator.
    pub key_auth: Arc<KeyAuth>,
}

impl ExtraMetrics for StoreMetrics {
    fn render(&self, out: &mut String) {
        let w = self.log_writer.stats();
        let a = self.key_auth.stats();
        let lines: [(&str, &str, &str, u64); 8] = [
            ("llmroute_log_queue_depth", "gauge", "Request logs waiting to be written", w.queued),
            ("llmroute_log_queue_capacity", "gauge", "Request logs held at most before new ones are dropped (general_settings.request_log_queue_size)", self.log_writer.capacity() as u64),
            ("llmroute_logs_written", "counter", "Request logs written to the database", w.written),
            ("llmroute_logs_dropped", "counter", "Request logs dropped because the queue was full", w.dropped),
            ("llmroute_log_write_failures", "counter", "Batch writes that failed and will be retried", w.failed_writes),
            ("llmroute_logs_rejected", "counter", "Request logs the database refused", w.rejected),
            ("llmroute_keys_served_stale", "counter", "Key checks answered from the cache while the database was unreachable", a.served_stale),
            ("llmroute_keys_unverifiable", "counter", "Key checks refused because the database was unreachable and the key was not cached", a.unverifiable),
        ];
        for (name, kind, help, value) in lines {
            let sample = if kind == "counter" {
                format!("{name}_total")
            } else {
                name.to_string()
            };
            let _ = write!(
                out,
                "# HELP {name} {help}.\n# TYPE {name} {kind}\n{sample} {value}\n"
            );
        }
    }
}
