//! One flush per event: a body stream that pauses after each item.
//!
//! hyper copies a response body's frames into its write buffer for as long as the body
//! has more ready, and flushes when the body returns `Pending`. Chunks that arrive from
//! the upstream in one read (a burst) would therefore leave together, after all of them
//! were processed: the caller would wait for the whole burst before its first token.
//! Returning `Pending` once after each item, with the task woken at once, makes hyper
//! flush each event on its own; the cost is one more poll and one write per event.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

/// Wraps a stream so that each item is flushed before the next is produced.
#[derive(Debug)]
pub struct FlushEach<S> {
    inner: S,
    paused: bool,
}

impl<S> FlushEach<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        FlushEach {
            inner,
            paused: false,
        }
    }
}

impl<S: Stream + Unpin> Stream for FlushEach<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if self.paused {
            // Give the writer its turn (hyper flushes on Pending), then come back at once.
            self.paused = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let next = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(_)) = next {
            self.paused = true;
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    struct CountingWaker(AtomicUsize);

    impl futures::task::ArcWake for CountingWaker {
        fn wake_by_ref(arc_self: &Arc<Self>) {
            arc_self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn each_ready_item_is_followed_by_one_pending_that_wakes_at_once() {
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = futures::task::waker(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut stream = FlushEach::new(futures::stream::iter([1, 2]));
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push(Pin::new(&mut stream).poll_next(&mut cx));
        }
        assert_eq!(
            seen,
            [
                Poll::Ready(Some(1)),
                Poll::Pending,
                Poll::Ready(Some(2)),
                Poll::Pending,
                Poll::Ready(None),
            ]
        );
        assert_eq!(counter.0.load(Ordering::SeqCst), 2, "woken for each pause");
    }

    #[test]
    fn a_pending_inner_stream_is_passed_on_without_a_pause() {
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut stream = FlushEach::new(futures::stream::pending::<u8>());
        assert_eq!(Pin::new(&mut stream).poll_next(&mut cx), Poll::Pending);
        assert!(!stream.paused);
    }
}
