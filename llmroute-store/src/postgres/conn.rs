//! [`Conn`]: a pooled connection lent to one operation, which goes back to the pool
//! only when the operation got its answer.
//!
//! An operation can end without one: its caller stops waiting (the key lookup's
//! `db_timeout`, readiness's 2 s and the log writer's `write_timeout` drop the future
//! mid-query), or it fails. A query may then still be in flight on the connection, and
//! if the connection went silent (the database hangs, or its packets go nowhere after a
//! failover) every later query on it queues behind that one for as long as the
//! operating system keeps the socket open — about 15 minutes on Linux. So such a
//! connection is closed, and the pool makes a new one for the next caller.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use deadpool_postgres::Object;

/// A connection for one operation; call [`Conn::release`] once it has its answer.
pub(crate) struct Conn {
    object: Option<Object>,
    closed: Arc<AtomicU64>,
}

impl Conn {
    /// Lends `object`; `closed` counts connections closed instead of returned.
    pub(crate) fn new(object: Object, closed: Arc<AtomicU64>) -> Self {
        Conn {
            object: Some(object),
            closed,
        }
    }

    /// The operation has its answer: the connection goes back to the pool.
    pub(crate) fn release(mut self) {
        drop(self.object.take());
    }
}

impl Deref for Conn {
    type Target = Object;

    fn deref(&self) -> &Object {
        self.object
            .as_ref()
            .expect("a Conn holds its connection until it is released or dropped")
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Object {
        self.object
            .as_mut()
            .expect("a Conn holds its connection until it is released or dropped")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(object) = self.object.take() {
            // Out of the pool; dropping deadpool's wrapper aborts the connection's task,
            // which closes the socket.
            drop(Object::take(object));
            self.closed.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                "closed a PostgreSQL connection whose operation ended without an answer"
            );
        }
    }
}
