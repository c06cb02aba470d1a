//! Where log lines go: stderr, written by a background thread in batches.
//!
//! A line is appended to a shared buffer: one short lock, no system call, and no thread
//! woken while a batch is already gathering. The first line into an empty buffer wakes
//! the writer thread, which lets lines gather for [`GATHER`] and then writes them all
//! with one `write`. An idle server costs nothing (the thread sleeps until a line comes)
//! and a line is on stderr within about [`GATHER`] of being logged.
//!
//! tracing-appender, used before, woke its thread for nearly every line at moderate
//! load and wrote each line on its own: at 2,000 req/s a request cost 0.5 `write`s,
//! 0.65 `futex`es and 1.7 `sched_yield`s more with its log line on than off
//! (docs/performance.md).
//!
//! Bounded: at most [`MAX_PENDING`] bytes wait. Lines beyond that (stderr blocked by
//! whatever reads it) are dropped and counted, and the count is written as a line of
//! its own once writing resumes, so a stuck log pipe never grows memory or stalls a
//! request.

use std::io::{self, Write};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long the writer thread lets lines gather after the first one of a batch.
pub const GATHER: Duration = Duration::from_millis(10);

/// Bytes of log lines held at most while stderr does not take them.
pub const MAX_PENDING: usize = 4 * 1024 * 1024;

/// A write buffer larger than this is released after use.
const KEPT_CAPACITY: usize = 256 * 1024;

/// The `tracing` writer: hands each line to the writer thread's buffer.
#[derive(Clone)]
pub struct LogOutput {
    shared: Arc<Shared>,
}

/// How long dropping the guard waits for the pending lines to be written (a stderr
/// nobody reads must not hold the process at exit).
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

/// Keeps the writer thread; dropping it writes what is pending (waiting at most
/// [`SHUTDOWN_WAIT`]) and stops the thread.
pub struct LogOutputGuard {
    shared: Arc<Shared>,
    /// Disconnected when the writer thread has written its last batch.
    ended: mpsc::Receiver<()>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    max_pending: usize,
}

#[derive(Default)]
struct State {
    pending: Vec<u8>,
    dropped: u64,
    closing: bool,
}

impl LogOutput {
    /// Starts the writer thread over `sink` (stderr in the server).
    pub fn spawn<W: Write + Send + 'static>(sink: W) -> io::Result<(LogOutput, LogOutputGuard)> {
        Self::spawn_bounded(sink, MAX_PENDING)
    }

    fn spawn_bounded<W: Write + Send + 'static>(
        sink: W,
        max_pending: usize,
    ) -> io::Result<(LogOutput, LogOutputGuard)> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            max_pending,
        });
        let worker = shared.clone();
        let (ending, ended) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("llmroute-log".into())
            .spawn(move || {
                worker.run(sink);
                drop(ending);
            })?;
        let guard = LogOutputGuard {
            shared: shared.clone(),
            ended,
        };
        Ok((LogOutput { shared }, guard))
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends one line (tracing-subscriber writes each event with one `write_all`).
    fn push(&self, line: &[u8]) {
        let mut state = self.lock();
        if state.pending.len() + line.len() > self.max_pending {
            state.dropped += 1;
            drop(state);
            // The count is written even if no other line comes.
            self.wake.notify_one();
            return;
        }
        let was_empty = state.pending.is_empty();
        state.pending.extend_from_slice(line);
        drop(state);
        if was_empty {
            self.wake.notify_one();
        }
    }

    /// The writer thread: waits for a first line, lets more gather, writes them at once.
    fn run<W: Write>(&self, mut sink: W) {
        let mut batch = Vec::new();
        loop {
            let mut state = self.lock();
            while state.pending.is_empty() && state.dropped == 0 && !state.closing {
                state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            if !state.closing {
                drop(state);
                std::thread::sleep(GATHER);
                state = self.lock();
            }
            std::mem::swap(&mut batch, &mut state.pending);
            let dropped = std::mem::take(&mut state.dropped);
            let closing = state.closing;
            drop(state);
            // Nothing to do about a failed write to stderr; the next batch tries again.
            let _ = sink.write_all(&batch);
            batch.clear();
            if batch.capacity() > KEPT_CAPACITY {
                batch = Vec::new(); // a burst's buffer is not kept for good
            }
            if dropped > 0 {
                let _ = writeln!(
                    sink,
                    "{{\"level\":\"WARN\",\"message\":\"log output could not keep up: {dropped} log lines were dropped\",\"target\":\"llmroute_server::log_output\"}}"
                );
            }
            let _ = sink.flush();
            if closing && self.lock().pending.is_empty() {
                return;
            }
        }
    }
}

impl Drop for LogOutputGuard {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        // Returns when the thread is done, or after the wait with the thread left behind.
        let _ = self.ended.recv_timeout(SHUTDOWN_WAIT);
    }
}

/// One line's writer, handed out by [`LogOutput`] for each event.
pub struct LineWriter<'a>(&'a Shared);

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogOutput {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(&self.shared)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    /// A sink the test can read, counting the writes it got.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut s = self.0.lock().expect("sink");
            s.0.extend_from_slice(buf);
            s.1 += 1;
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().expect("sink").0.clone()).expect("utf-8")
        }
        fn writes(&self) -> usize {
            self.0.lock().expect("sink").1
        }
    }

    fn line(out: &LogOutput, text: &str) {
        out.make_writer()
            .write_all(format!("{text}\n").as_bytes())
            .expect("write");
    }

    #[test]
    fn lines_from_many_threads_leave_whole_in_few_writes() {
        let sink = Sink::default();
        let (out, guard) = LogOutput::spawn(sink.clone()).expect("thread");
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let out = out.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        line(&out, &format!("thread {t} line {i} {}", "x".repeat(50)));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("writer thread");
        }
        drop(guard);
        let text = sink.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2000, "every line, once");
        for t in 0..4 {
            let mine: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .collect();
            assert_eq!(mine.len(), 500);
            for (i, l) in mine.iter().enumerate() {
                assert!(l.starts_with(&format!("thread {t} line {i} ")), "{l}");
                assert!(l.ends_with(&"x".repeat(50)), "cut line: {l}");
            }
        }
        assert!(
            sink.writes() < 200,
            "{} writes for 2,000 lines",
            sink.writes()
        );
    }

    #[test]
    fn a_line_on_an_idle_server_leaves_within_the_gathering_time() {
        let sink = Sink::default();
        let (out, _guard) = LogOutput::spawn(sink.clone()).expect("thread");
        std::thread::sleep(Duration::from_millis(50));
        let logged = Instant::now();
        line(&out, "ready");
        while sink.text().is_empty() {
            assert!(
                logged.elapsed() < Duration::from_secs(2),
                "the line never left"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(sink.text(), "ready\n");
        assert!(logged.elapsed() >= GATHER);
    }

    #[test]
    fn exit_waits_for_a_stuck_stderr_no_longer_than_the_shutdown_wait() {
        /// Never returns from a write.
        struct Stuck;
        impl Write for Stuck {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                loop {
                    std::thread::park();
                }
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let (out, guard) = LogOutput::spawn(Stuck).expect("thread");
        line(&out, "never written");
        std::thread::sleep(GATHER * 3);
        let dropping = Instant::now();
        drop(guard);
        let waited = dropping.elapsed();
        assert!(
            waited >= SHUTDOWN_WAIT && waited < SHUTDOWN_WAIT + Duration::from_secs(1),
            "{waited:?}"
        );
    }

    #[test]
    fn a_blocked_sink_drops_lines_past_the_bound_and_says_how_many() {
        /// Takes nothing until opened.
        struct Gate(Arc<(Mutex<bool>, Condvar)>, Sink);
        impl Write for Gate {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                let (open, cv) = &*self.0;
                let mut o = open.lock().expect("gate");
                while !*o {
                    o = cv.wait(o).expect("gate");
                }
                self.1.write(buf)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let sink = Sink::default();
        let (out, guard) =
            LogOutput::spawn_bounded(Gate(gate.clone(), sink.clone()), 100).expect("thread");
        line(&out, "first");
        std::thread::sleep(GATHER * 3); // the thread now waits in the sink with "first"
        for i in 0..50 {
            line(&out, &format!("held {i:02}")); // 8 bytes each: 12 fit in 100
        }
        *gate.0.lock().expect("gate") = true;
        gate.1.notify_all();
        drop(guard);
        let text = sink.text();
        assert!(text.starts_with("first\nheld 00\n"), "{text}");
        assert!(
            text.contains("held 11\n") && !text.contains("held 12"),
            "{text}"
        );
        assert!(text.contains("38 log lines were dropped"), "{text}");
    }
}
