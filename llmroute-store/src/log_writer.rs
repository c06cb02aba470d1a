//! [`LogWriter`]: request logs off the hot path, written in batches by one background task.
//!
//! `record()` only pushes onto a bounded in-memory queue (never waits on the database).
//! The task writes a batch when `batch_size` rows are waiting or every `flush_interval`.
//! When the database is unreachable the rows stay queued and the task retries with
//! exponential backoff; rows arriving while `capacity` rows are already held are dropped
//! and counted. A row the database refuses outright (bad data) is dropped and counted
//! on its own, so one bad row never blocks the queue. A write the database does not
//! answer within `write_timeout` counts as failed (a database that hangs never holds the
//! writer); it is retried, and the database skips rows it already has, so none is
//! written twice.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llmroute_core::events::{RequestRecord, RequestSink};
use llmroute_core::store::{Store, StoreError};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

/// Sizes and timings of a [`LogWriter`].
#[derive(Debug, Clone)]
pub struct LogWriterConfig {
    /// Rows held at most (queued + being written); more are dropped (default 100 000).
    pub capacity: usize,
    /// Rows per insert (default 1000).
    pub batch_size: usize,
    /// Longest a row waits before a write is attempted (default 200 ms).
    pub flush_interval: Duration,
    /// First retry delay after a failed write, doubled up to `max_backoff` (default 100 ms).
    pub min_backoff: Duration,
    /// Longest retry delay (default 5 s).
    pub max_backoff: Duration,
    /// Longest wait for the database to answer one write before it counts as failed
    /// and is retried (default 5 s).
    pub write_timeout: Duration,
}

impl Default for LogWriterConfig {
    fn default() -> Self {
        LogWriterConfig {
            capacity: 100_000,
            batch_size: 1000,
            flush_interval: Duration::from_millis(200),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogWriterStats {
    /// Rows waiting to be written (queue depth).
    pub queued: u64,
    /// Rows dropped because the queue was full.
    pub dropped: u64,
    /// Rows written.
    pub written: u64,
    /// Rows the database refused (bad data), dropped.
    pub rejected: u64,
    /// Failed write attempts.
    pub failed_writes: u64,
}

type FlushWaiter = oneshot::Sender<Result<(), StoreError>>;

struct Shared {
    queue: Mutex<VecDeque<RequestRecord>>,
    held: AtomicUsize,
    dropped: AtomicU64,
    written: AtomicU64,
    rejected: AtomicU64,
    failed_writes: AtomicU64,
    wake: Notify,
    waiters: Mutex<Vec<FlushWaiter>>,
    closing: AtomicBool,
    config: LogWriterConfig,
}

/// The batched, non-blocking request log writer.
pub struct LogWriter {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl LogWriter {
    /// Starts the writer task on the current tokio runtime.
    pub fn spawn(store: Arc<dyn Store>, config: LogWriterConfig) -> Arc<Self> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::with_capacity(config.batch_size.max(1) * 2)),
            held: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            written: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            failed_writes: AtomicU64::new(0),
            wake: Notify::new(),
            waiters: Mutex::new(Vec::new()),
            closing: AtomicBool::new(false),
            config,
        });
        let task = tokio::spawn(run(shared.clone(), store));
        Arc::new(LogWriter {
            shared,
            task: Mutex::new(Some(task)),
        })
    }

    /// Current counters.
    pub fn stats(&self) -> LogWriterStats {
        let s = &self.shared;
        LogWriterStats {
            queued: s.held.load(Ordering::Relaxed) as u64,
            dropped: s.dropped.load(Ordering::Relaxed),
            written: s.written.load(Ordering::Relaxed),
            rejected: s.rejected.load(Ordering::Relaxed),
            failed_writes: s.failed_writes.load(Ordering::Relaxed),
        }
    }

    /// Rows held at most before new ones are dropped (the configured `capacity`).
    pub fn capacity(&self) -> usize {
        self.shared.config.capacity
    }

    /// Writes every row recorded before this call; fails (rows stay queued) if the
    /// database cannot take them right now.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.waiters).push(tx);
        self.shared.wake.notify_one();
        rx.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Stops taking the task's time: writes what is queued, retrying until `deadline`,
    /// then stops. Returns the final counters (`queued` is what could not be written).
    pub async fn shutdown(&self, deadline: Duration) -> LogWriterStats {
        self.shared.closing.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
        let task = lock(&self.task).take();
        if let Some(mut task) = task {
            if tokio::time::timeout(deadline, &mut task).await.is_err() {
                task.abort();
                tracing::warn!(
                    unwritten = self.stats().queued,
                    "request log writer stopped before the database took every row"
                );
            }
        }
        self.stats()
    }
}

impl RequestSink for LogWriter {
    fn record(&self, record: RequestRecord) {
        let s = &self.shared;
        if s.held.fetch_add(1, Ordering::SeqCst) >= s.config.capacity {
            s.held.fetch_sub(1, Ordering::SeqCst);
            let dropped = s.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped == 1 || dropped.is_multiple_of(10_000) {
                tracing::warn!(
                    dropped,
                    capacity = s.config.capacity,
                    "request log queue full: dropping logs until the database catches up"
                );
            }
            return;
        }
        let len = {
            let mut q = lock(&s.queue);
            q.push_back(record);
            q.len()
        };
        if len == s.config.batch_size {
            s.wake.notify_one();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn stopped() -> StoreError {
    StoreError::Unavailable {
        backend: "log writer",
        action: "flushing request logs".into(),
        reason: "the writer task has stopped".into(),
    }
}

async fn run(shared: Arc<Shared>, store: Arc<dyn Store>) {
    let cfg = shared.config.clone();
    let mut pending: Vec<RequestRecord> = Vec::new();
    let mut backoff: Option<Duration> = None;
    loop {
        let wait = backoff.unwrap_or(cfg.flush_interval);
        tokio::select! {
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
        let waiters = std::mem::take(&mut *lock(&shared.waiters));
        let result = drain(&shared, store.as_ref(), &mut pending).await;
        match &result {
            Ok(()) => backoff = None,
            Err(e) => {
                shared.failed_writes.fetch_add(1, Ordering::Relaxed);
                let next = backoff.map_or(cfg.min_backoff, |b| (b * 2).min(cfg.max_backoff));
                tracing::warn!(error = %e, queued = shared.held.load(Ordering::Relaxed), retry_in_ms = next.as_millis() as u64, "writing request logs failed; keeping them queued");
                backoff = Some(next);
            }
        }
        for w in waiters {
            let _ = w.send(result.clone());
        }
        let idle = shared.held.load(Ordering::SeqCst) == 0;
        let orphaned = Arc::strong_count(&shared) == 1;
        if idle && (shared.closing.load(Ordering::SeqCst) || orphaned) {
            return;
        }
        if orphaned && backoff.is_some_and(|b| b >= cfg.max_backoff) {
            tracing::warn!(
                lost = shared.held.load(Ordering::SeqCst),
                "request log writer dropped while the database is down"
            );
            return;
        }
    }
}

/// Writes batches until nothing is left or the database fails.
async fn drain(
    shared: &Shared,
    store: &dyn Store,
    pending: &mut Vec<RequestRecord>,
) -> Result<(), StoreError> {
    loop {
        if pending.is_empty() {
            let mut q = lock(&shared.queue);
            let n = q.len().min(shared.config.batch_size.max(1));
            pending.extend(q.drain(..n));
        }
        if pending.is_empty() {
            return Ok(());
        }
        match insert(shared, store, pending).await {
            Ok(_) => done(shared, pending.len(), 0),
            Err(e) if e.is_unavailable() => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, rows = pending.len(), "the database refused a batch of request logs; writing them one by one");
                one_by_one(shared, store, pending).await?;
            }
        }
        pending.clear();
    }
}

/// Writes rows singly, dropping (and counting) the ones the database refuses.
async fn one_by_one(
    shared: &Shared,
    store: &dyn Store,
    pending: &mut Vec<RequestRecord>,
) -> Result<(), StoreError> {
    while let Some(row) = pending.first() {
        match insert(shared, store, std::slice::from_ref(row)).await {
            Ok(_) => done(shared, 1, 0),
            Err(e) if e.is_unavailable() => return Err(e),
            Err(e) => {
                tracing::error!(error = %e, request_id = %row.request_id, "request log refused by the database; dropped");
                done(shared, 0, 1);
            }
        }
        pending.remove(0);
    }
    Ok(())
}

/// One write, given up after `write_timeout` as [`StoreError::Unavailable`].
async fn insert(
    shared: &Shared,
    store: &dyn Store,
    rows: &[RequestRecord],
) -> Result<u64, StoreError> {
    let limit = shared.config.write_timeout;
    tokio::time::timeout(limit, store.insert_logs(rows))
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::Unavailable {
                backend: store.backend(),
                action: "writing request logs".into(),
                reason: format!("no answer within {} ms", limit.as_millis()),
            })
        })
}

fn done(shared: &Shared, written: usize, rejected: usize) {
    shared.written.fetch_add(written as u64, Ordering::Relaxed);
    shared
        .rejected
        .fetch_add(rejected as u64, Ordering::Relaxed);
    shared.held.fetch_sub(written + rejected, Ordering::SeqCst);
}
