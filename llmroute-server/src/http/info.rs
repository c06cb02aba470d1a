//! The small routes: health, readiness, robots, metrics, models, deployment health.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Response, StatusCode};
use llmroute_core::Error;
use serde_json::json;

use super::credentials::{authenticate, authenticate_master};
use super::response::{self, Body};
use crate::gateway::Gateway;

/// `GET /health`: cheap, unauthenticated, no upstream call (what the ALB checks).
pub fn health() -> Response<Body> {
    response::json_bytes(StatusCode::OK, &b"{\"status\":\"healthy\"}"[..])
}

/// `GET /health/liveliness` and `/health/liveness`.
pub fn liveness() -> Response<Body> {
    response::json_bytes(StatusCode::OK, &b"\"I'm alive!\""[..])
}

/// `GET /health/readiness`: the config is loaded (and, with a store, it answers).
pub async fn readiness(gw: &Gateway) -> Response<Body> {
    let store = match tokio::time::timeout(Duration::from_secs(2), gw.store.health()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 2 s".to_string()),
    };
    let routing = gw.routing();
    let log_stats = gw.log_writer.stats();
    let body = json!({
        "status": if store.is_ok() { "healthy" } else { "unhealthy" },
        "db": if store.is_ok() { "connected" } else { "unreachable" },
        "log_queue": log_stats.queued,
        "logs_dropped": log_stats.dropped,
        "config": routing.config.source,
        "models": routing.config.model_names().len(),
        "deployments": routing.config.models.len(),
        "uptime_seconds": gw.started.elapsed().as_secs(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    if let Err(e) = &store {
        tracing::warn!(error = %e, database = %gw.store_description, "readiness: the database does not answer");
    }
    let status = if store.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    response::json(status, &body)
}

/// `GET /robots.txt`.
pub fn robots(gw: &Gateway) -> Response<Body> {
    let text: &'static str = if gw.routing().config.general.block_robots {
        "User-agent: *\nDisallow: /\n"
    } else {
        "User-agent: *\nAllow: /\n"
    };
    response::with_body(StatusCode::OK, "text/plain; charset=utf-8", text)
}

/// `GET /metrics`: Prometheus (OpenMetrics) text.
pub fn metrics(gw: &Gateway) -> Response<Body> {
    response::with_body(
        StatusCode::OK,
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
        gw.metrics.render(),
    )
}

/// `GET /v1/models` and `/models`.
pub async fn models(gw: &Gateway, headers: &HeaderMap) -> Response<Body> {
    match authenticate(gw, headers).await {
        Ok(_) => response::json_bytes(StatusCode::OK, gw.routing().models_json.clone()),
        Err(e) => response::error(&e),
    }
}

/// `GET /v1/models/{id}`.
pub async fn model(gw: &Gateway, headers: &HeaderMap, id: &str) -> Response<Body> {
    if let Err(e) = authenticate(gw, headers).await {
        return response::error(&e);
    }
    match gw.routing().model_json.get(id) {
        Some(bytes) => response::json_bytes(StatusCode::OK, bytes.clone()),
        None => response::error(&Error::ModelNotFound {
            model: id.to_string(),
        }),
    }
}

/// `GET /health/deployments`: probes every deployment (master key only).
pub async fn deployments(gw: Arc<Gateway>, headers: &HeaderMap) -> Response<Body> {
    if let Err(e) = authenticate_master(&gw, headers).await {
        return response::error(&e);
    }
    let router = gw.routing().router.clone();
    let probes = router.deployments().into_iter().map(|info| {
        let router = router.clone();
        async move {
            let Some(provider) = router.provider(&info.id) else {
                return json!({"id": info.id, "model_name": info.model_name, "healthy": false, "error": "not found"});
            };
            match tokio::time::timeout(Duration::from_secs(30), provider.health()).await {
                Ok(Ok(took)) => json!({
                    "id": info.id, "model_name": info.model_name, "provider": info.provider,
                    "healthy": true, "latency_ms": took.as_secs_f64() * 1000.0,
                }),
                Ok(Err(e)) => json!({
                    "id": info.id, "model_name": info.model_name, "provider": info.provider,
                    "healthy": false, "status": e.status(), "error": e.to_string(),
                }),
                Err(_) => json!({
                    "id": info.id, "model_name": info.model_name, "provider": info.provider,
                    "healthy": false, "error": "no answer within 30 s",
                }),
            }
        }
    });
    let results: Vec<serde_json::Value> = futures::future::join_all(probes).await;
    let (healthy, unhealthy): (Vec<_>, Vec<_>) =
        results.into_iter().partition(|r| r["healthy"] == true);
    let body = json!({
        "healthy_count": healthy.len(),
        "unhealthy_count": unhealthy.len(),
        "healthy_endpoints": healthy,
        "unhealthy_endpoints": unhealthy,
    });
    response::json(StatusCode::OK, &body)
}
