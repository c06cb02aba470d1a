//! The attempt loop (minimal for now: the first deployment of the group, once).

use std::sync::Arc;

use tokio::time::Instant;

use super::counters::Counters;
use super::{Inner, RouteError, Routed};
use crate::error::Error;
use crate::provider::{ChatStream, Completion};
use crate::types::ChatRequest;

pub(crate) async fn chat(
    inner: &Inner,
    _counters: Arc<dyn Counters>,
    req: &ChatRequest,
) -> Result<Routed<Completion>, RouteError> {
    let group = inner
        .by_name
        .get(&req.model)
        .map(|i| &inner.groups[*i])
        .ok_or_else(|| {
            RouteError::before_upstream(Error::ModelNotFound {
                model: req.model.clone(),
            })
        })?;
    let deployment = &group.deployments[0];
    let started = Instant::now();
    let result = deployment.provider.chat(req).await;
    let upstream_time = started.elapsed();
    match result {
        Ok(value) => Ok(Routed {
            value,
            deployment: deployment.id.clone(),
            model_group: group.name.clone(),
            attempts: 1,
            upstream_time,
        }),
        Err(error) => Err(RouteError {
            error,
            deployment: Some(deployment.id.clone()),
            attempts: 1,
            upstream_time,
        }),
    }
}

pub(crate) async fn chat_stream(
    inner: &Inner,
    _counters: Arc<dyn Counters>,
    req: &ChatRequest,
) -> Result<Routed<ChatStream>, RouteError> {
    let group = inner
        .by_name
        .get(&req.model)
        .map(|i| &inner.groups[*i])
        .ok_or_else(|| {
            RouteError::before_upstream(Error::ModelNotFound {
                model: req.model.clone(),
            })
        })?;
    let deployment = &group.deployments[0];
    let started = Instant::now();
    let result = deployment.provider.chat_stream(req).await;
    let upstream_time = started.elapsed();
    match result {
        Ok(value) => Ok(Routed {
            value,
            deployment: deployment.id.clone(),
            model_group: group.name.clone(),
            attempts: 1,
            upstream_time,
        }),
        Err(error) => Err(RouteError {
            error,
            deployment: Some(deployment.id.clone()),
            attempts: 1,
            upstream_time,
        }),
    }
}
