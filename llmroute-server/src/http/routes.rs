//! The route table: method and path to handler, the headers every response gets, and
//! the count of every request by route pattern (chat completions count themselves, with
//! their model, when they end).

use std::sync::Arc;
use std::time::Instant;

use http::header::HeaderValue;
use http::{Method, Request, Response};
use hyper::body::Incoming;
use llmroute_core::Error;

use super::admin::{self, AdminOp};
use super::chat::{self, ChatRoute};
use super::info;
use super::request_id::request_id;
use super::response::{self, Body};
use crate::gateway::Gateway;
use crate::metrics::{NO_MODEL, UNMATCHED_ROUTE};

/// The method a route answers (`GET` also answers `HEAD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allowed {
    Get,
    Post,
}

impl Allowed {
    fn admits(self, method: &Method) -> bool {
        match self {
            Allowed::Get => method == Method::GET || method == Method::HEAD,
            Allowed::Post => method == Method::POST,
        }
    }

    fn header(self) -> &'static str {
        match self {
            Allowed::Get => "GET",
            Allowed::Post => "POST",
        }
    }
}

/// What serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handler {
    Health,
    Liveness,
    Readiness,
    Deployments,
    Robots,
    Metrics,
    Models,
    Model,
    Chat,
    AzureChat,
    Admin(AdminOp),
}

/// Every route with a fixed path: pattern, method, handler.
const FIXED: &[(&str, Allowed, Handler)] = &[
    ("/health", Allowed::Get, Handler::Health),
    ("/health/liveliness", Allowed::Get, Handler::Liveness),
    ("/health/liveness", Allowed::Get, Handler::Liveness),
    ("/health/readiness", Allowed::Get, Handler::Readiness),
    ("/health/deployments", Allowed::Get, Handler::Deployments),
    ("/robots.txt", Allowed::Get, Handler::Robots),
    ("/metrics", Allowed::Get, Handler::Metrics),
    ("/v1/models", Allowed::Get, Handler::Models),
    ("/models", Allowed::Get, Handler::Models),
    ("/v1/chat/completions", Allowed::Post, Handler::Chat),
    ("/chat/completions", Allowed::Post, Handler::Chat),
    (
        "/key/generate",
        Allowed::Post,
        Handler::Admin(AdminOp::Generate),
    ),
    (
        "/key/update",
        Allowed::Post,
        Handler::Admin(AdminOp::Update),
    ),
    (
        "/key/delete",
        Allowed::Post,
        Handler::Admin(AdminOp::Delete),
    ),
    ("/key/info", Allowed::Get, Handler::Admin(AdminOp::Info)),
    ("/key/list", Allowed::Get, Handler::Admin(AdminOp::List)),
    (
        "/spend/logs",
        Allowed::Get,
        Handler::Admin(AdminOp::SpendLogs),
    ),
    (
        "/spend/report",
        Allowed::Get,
        Handler::Admin(AdminOp::SpendReport),
    ),
];

/// A path resolved against the route table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    /// The route's pattern (`/v1/models/{id}`): its label in the metrics.
    pattern: &'static str,
    allowed: Allowed,
    handler: Handler,
    /// The path's parameter (`{id}`, `{deployment}`).
    param: Option<String>,
}

/// The route of `path`, if any.
fn resolve(path: &str) -> Option<Route> {
    let route = |pattern, allowed, handler, param| {
        Some(Route {
            pattern,
            allowed,
            handler,
            param,
        })
    };
    if let Some((pattern, allowed, handler)) = FIXED.iter().find(|(p, ..)| *p == path) {
        return route(pattern, *allowed, *handler, None);
    }
    let id = |prefix| path.strip_prefix(prefix).map(str::to_string);
    if let Some(id) = id("/v1/models/") {
        return route("/v1/models/{id}", Allowed::Get, Handler::Model, Some(id));
    }
    if let Some(id) = id("/models/") {
        return route("/models/{id}", Allowed::Get, Handler::Model, Some(id));
    }
    let name = azure_deployment(path)?;
    route(
        "/openai/deployments/{deployment}/chat/completions",
        Allowed::Post,
        Handler::AzureChat,
        Some(name),
    )
}

/// Serves one request.
pub async fn serve(gw: Arc<Gateway>, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let id = request_id(req.headers());
    let _in_flight = InFlight::new(&gw);
    let route = resolve(req.uri().path());
    let pattern = route.as_ref().map_or(UNMATCHED_ROUTE, |r| r.pattern);
    let is_chat = route.as_ref().is_some_and(|r| {
        matches!(r.handler, Handler::Chat | Handler::AzureChat) && r.allowed.admits(req.method())
    });
    // The chat handler records its own requests (with their model, when they end);
    // this records every other one, also when its caller goes away first (499).
    let mut counted = (!is_chat).then(|| Counted {
        gw: gw.clone(),
        pattern,
        started,
        status: 499,
    });
    let mut resp = dispatch(gw.clone(), req, route, id.clone()).await;
    if let Some(counted) = counted.as_mut() {
        counted.status = resp.status().as_u16();
    }
    drop(counted);
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// Counts a request that is not a chat completion when dropped: with the response's
/// status, or 499 when the caller went away first.
struct Counted {
    gw: Arc<Gateway>,
    pattern: &'static str,
    started: Instant,
    status: u16,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.gw
            .metrics
            .finish_request(self.pattern, NO_MODEL, self.status, self.started.elapsed());
    }
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

async fn dispatch(
    gw: Arc<Gateway>,
    req: Request<Incoming>,
    route: Option<Route>,
    id: String,
) -> Response<Body> {
    let method = req.method().clone();
    let Some(route) = route else {
        return response::error(&Error::RouteNotFound {
            method: method.to_string(),
            path: req.uri().path().to_string(),
        });
    };
    if !route.allowed.admits(&method) {
        return not_allowed(&method, req.uri().path(), route.allowed.header());
    }
    let param = route.param.unwrap_or_default();
    match route.handler {
        Handler::Health => info::health(),
        Handler::Liveness => info::liveness(),
        Handler::Readiness => info::readiness(&gw).await,
        Handler::Deployments => info::deployments(gw, req.headers()).await,
        Handler::Robots => info::robots(&gw),
        Handler::Metrics => info::metrics(&gw),
        Handler::Models => info::models(&gw, req.headers()).await,
        Handler::Model => info::model(&gw, req.headers(), &param).await,
        Handler::Chat => chat::handle(gw, req, ChatRoute::OpenAi, route.pattern, id).await,
        Handler::AzureChat => {
            let chat_route = ChatRoute::AzureDeployment(param);
            chat::handle(gw, req, chat_route, route.pattern, id).await
        }
        Handler::Admin(op) => admin::handle(&gw, req, op).await,
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
    use super::{azure_deployment, resolve, FIXED};

    #[test]
    fn paths_resolve_to_their_pattern_never_the_raw_path() {
        let pattern = |path| resolve(path).map(|r| r.pattern);
        for (path, ..) in FIXED {
            assert_eq!(pattern(path), Some(*path));
        }
        assert_eq!(pattern("/v1/models/gpt-4o"), Some("/v1/models/{id}"));
        assert_eq!(pattern("/models/anything"), Some("/models/{id}"));
        assert_eq!(
            resolve("/v1/models/gpt-4o")
                .and_then(|r| r.param)
                .as_deref(),
            Some("gpt-4o")
        );
        assert_eq!(
            pattern("/openai/deployments/eastus/chat/completions"),
            Some("/openai/deployments/{deployment}/chat/completions")
        );
        for unmatched in [
            "/",
            "/nope",
            "/v1/chat",
            "/openai/deployments/a/b/chat/completions",
        ] {
            assert_eq!(pattern(unmatched), None, "{unmatched}");
        }
    }

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
