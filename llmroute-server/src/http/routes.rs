//! The route table: method and path to handler, and the headers every response gets.

use std::sync::Arc;

use http::header::HeaderValue;
use http::{Method, Request, Response};
use hyper::body::Incoming;
use llmroute_core::Error;

use super::admin::{self, AdminOp};
use super::chat::{self, ChatRoute};
use super::info;
use super::response::{self, Body};
use crate::gateway::Gateway;

/// A request id: the caller's `x-request-id` when it sent a sane one, else a new one.
fn request_id(req: &Request<Incoming>) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| {
            format!(
                "req-{:016x}{:016x}",
                rand::random::<u64>(),
                rand::random::<u64>()
            )
        })
}

/// Serves one request.
pub async fn serve(gw: Arc<Gateway>, req: Request<Incoming>) -> Response<Body> {
    let id = request_id(&req);
    let _in_flight = InFlight::new(&gw);
    let mut resp = dispatch(gw.clone(), req, id.clone()).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// Counts a request in flight until dropped (also when the caller goes away).
struct InFlight(Arc<Gateway>);

impl InFlight {
    fn new(gw: &Arc<Gateway>) -> Self {
        gw.metrics.in_flight.inc();
        InFlight(gw.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.metrics.in_flight.dec();
    }
}

fn not_allowed(method: &Method, path: &str, allowed: &'static str) -> Response<Body> {
    let mut resp = response::error(&Error::MethodNotAllowed {
        method: method.to_string(),
        path: path.to_string(),
        allowed,
    });
    if let Ok(v) = HeaderValue::from_str(allowed) {
        resp.headers_mut().insert(http::header::ALLOW, v);
    }
    resp
}

async fn dispatch(gw: Arc<Gateway>, req: Request<Incoming>, id: String) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let get = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    match path.as_str() {
        "/health" if get => info::health(),
        "/health/liveliness" | "/health/liveness" if get => info::liveness(),
        "/health/readiness" if get => info::readiness(&gw).await,
        "/health/deployments" if get => info::deployments(gw, req.headers()).await,
        "/robots.txt" if get => info::robots(&gw),
        "/metrics" if get => info::metrics(&gw),
        "/v1/models" | "/models" if get => info::models(&gw, req.headers()).await,
        "/v1/chat/completions" | "/chat/completions" if post => {
            chat::handle(gw, req, ChatRoute::OpenAi, id).await
        }
        "/key/generate" if post => admin::handle(&gw, req, AdminOp::Generate).await,
        "/key/update" if post => admin::handle(&gw, req, AdminOp::Update).await,
        "/key/delete" if post => admin::handle(&gw, req, AdminOp::Delete).await,
        "/key/info" if get => admin::handle(&gw, req, AdminOp::Info).await,
        "/key/list" if get => admin::handle(&gw, req, AdminOp::List).await,
        "/spend/logs" if get => admin::handle(&gw, req, AdminOp::SpendLogs).await,
        "/spend/report" if get => admin::handle(&gw, req, AdminOp::SpendReport).await,
        "/key/generate" | "/key/update" | "/key/delete" => not_allowed(&method, &path, "POST"),
        "/key/info" | "/key/list" | "/spend/logs" | "/spend/report" => {
            not_allowed(&method, &path, "GET")
        }
        "/health"
        | "/health/liveliness"
        | "/health/liveness"
        | "/health/readiness"
        | "/health/deployments"
        | "/robots.txt"
        | "/metrics"
        | "/v1/models"
        | "/models" => not_allowed(&method, &path, "GET"),
        "/v1/chat/completions" | "/chat/completions" => not_allowed(&method, &path, "POST"),
        _ => {
            if let Some(id_part) = path
                .strip_prefix("/v1/models/")
                .or_else(|| path.strip_prefix("/models/"))
            {
                return if get {
                    info::model(&gw, req.headers(), id_part).await
                } else {
                    not_allowed(&method, &path, "GET")
                };
            }
            if let Some(name) = azure_deployment(&path) {
                return if post {
                    chat::handle(gw, req, ChatRoute::AzureDeployment(name), id).await
                } else {
                    not_allowed(&method, &path, "POST")
                };
            }
            response::error(&Error::RouteNotFound {
                method: method.to_string(),
                path,
            })
        }
    }
}

/// The deployment name of `/openai/deployments/{name}/chat/completions`.
fn azure_deployment(path: &str) -> Option<String> {
    let name = path
        .strip_prefix("/openai/deployments/")?
        .strip_suffix("/chat/completions")?;
    (!name.is_empty() && !name.contains('/')).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::azure_deployment;

    #[test]
    fn azure_paths_name_the_deployment() {
        assert_eq!(
            azure_deployment("/openai/deployments/gpt-4o/chat/completions").as_deref(),
            Some("gpt-4o")
        );
        assert_eq!(
            azure_deployment("/openai/deployments//chat/completions"),
            None
        );
        assert_eq!(
            azure_deployment("/openai/deployments/a/b/chat/completions"),
            None
        );
        assert_eq!(
            azure_deployment("/openai/deployments/gpt-4o/completions"),
            None
        );
    }
}
