//! Streams: opened and read up to their first chunk inside the attempt (so a failure
//! before it fails over), then handed on with that chunk put back in front. Once the
//! caller has the first chunk the stream is never retried; what happens after is only
//! accounted for: tokens from the usage chunk, a mid-stream error as a failure, and the
//! request counted in flight until the stream ends or is dropped.

use std::sync::Arc;

use futures::{stream, StreamExt};

use super::counters::Counters;
use super::deployment::{Deployment, InFlight};
use super::retry::{record_failure, CooldownPolicy};
use crate::provider::ChunkStream;
use crate::types::ChatChunk;

/// What the rest of a stream needs to account for itself.
pub(crate) struct StreamTail {
    /// Keeps the request counted in flight while the stream lives.
    pub in_flight: InFlight,
    /// The deployment serving it.
    pub deployment: Arc<Deployment>,
    /// Where its usage and failures go.
    pub counters: Arc<dyn Counters>,
    /// Deployments in its group (for the cooldown rule).
    pub group_size: usize,
    /// Cooldown settings.
    pub policy: CooldownPolicy,
}

/// The stream as the caller sees it: `first`, then the rest of `rest`.
pub(crate) fn resume(first: ChatChunk, rest: ChunkStream, tail: StreamTail) -> ChunkStream {
    let stream = stream::iter([Ok(first)]).chain(rest).inspect(move |item| {
        let _alive = &tail.in_flight;
        match item {
            Ok(chunk) => {
                if let Some(usage) = chunk.usage.as_ref().filter(|u| u.total_tokens > 0) {
                    let (counters, id, tokens) = (Arc::clone(&tail.counters), tail.deployment.id.clone(), usage.total_tokens);
                    spawn(async move {
                        if let Err(e) = counters.add_usage(&id, 0, tokens).await {
                            tracing::warn!(deployment = %id, error = %e, "could not record stream usage in the router counters");
                        }
                    });
                }
            }
            Err(error) => {
                tracing::warn!(deployment = %tail.deployment.id, error = %error, "stream failed after its first chunk; not retried");
                let (counters, deployment, error) = (Arc::clone(&tail.counters), Arc::clone(&tail.deployment), error.clone());
                let (group_size, policy) = (tail.group_size, tail.policy);
                spawn(async move { record_failure(&counters, &deployment, group_size, policy, &error).await });
            }
        }
    });
    Box::pin(stream)
}

/// Runs accounting off the stream's path, when a runtime is there to run it.
fn spawn(task: impl std::future::Future<Output = ()> + Send + 'static) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(task);
    }
}
