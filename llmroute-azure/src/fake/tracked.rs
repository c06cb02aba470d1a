//! Stream bodies that report how they ended: sent to their last event, or dropped
//! before it because the client (the proxy under test) went away.
//!
//! hyper drops a response body when the connection it is written to fails or closes,
//! so a body dropped before its end is a stream the caller cancelled.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::{Body as HttpBody, Frame, SizeHint};

use super::server::Body;

/// How the fake's streamed answers ended, counted since start.
#[derive(Debug, Default)]
pub(crate) struct StreamCounters {
    /// Streams whose every scripted event was handed to the connection.
    pub completed: AtomicU64,
    /// Streams dropped before their last event (the client went away).
    pub aborted: AtomicU64,
}

/// A body that counts itself as completed or aborted when dropped.
struct Tracked {
    inner: Body,
    counters: Arc<StreamCounters>,
    ended: bool,
}

/// Wraps a stream body so that its end is counted in `counters`.
pub(crate) fn tracked(inner: Body, counters: Arc<StreamCounters>) -> Body {
    UnsyncBoxBody::new(Tracked {
        inner,
        counters,
        ended: false,
    })
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.ended = true,
            // A whole body says it is over right after its only frame; hyper may then
            // drop it without polling again.
            Poll::Ready(Some(_)) if this.inner.is_end_stream() => this.ended = true,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let counter = if self.ended {
            &self.counters.completed
        } else {
            &self.counters.aborted
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
