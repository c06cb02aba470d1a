//! A fake Azure OpenAI server for tests and benchmarks (feature `fake`).
//!
//! Real HTTP/1.1 and HTTP/2 (prior knowledge) on 127.0.0.1, answering like Azure:
//!
//! | route | what it does |
//! | --- | --- |
//! | `POST /openai/deployments/{deployment}/chat/completions?api-version=…` | classic route |
//! | `POST /openai/v1/chat/completions` (deployment in the body's `model`) | v1 route |
//! | `POST /{tenant}/oauth2/v2.0/token` | Entra ID client-credentials token endpoint |
//! | anything else | 404 `{"error":{"code":"404","message":"Resource not found"}}` |
//!
//! Every chat request is counted ([`FakeAzure::calls`], [`FakeAzure::calls_for`]) and
//! recorded ([`FakeAzure::last_request`]: path, headers, body) before it is checked, in
//! Azure's order: credential (`api-key`, or `Authorization: Bearer` with a token the
//! token endpoint issued, or the api-key itself on v1; both headers at once is refused)
//! → 401; api-version (required and known on the classic route) → 404 `Resource not
//! found`; JSON body → 400; deployment → 404 `DeploymentNotFound`; then the next
//! scripted [`Fault`], if any; then the body: non-empty `messages`, no `developer` role,
//! `stream_options` only with `stream`, and the fields old api-versions reject
//! (`stream_options`, `max_completion_tokens`, `parallel_tool_calls`, `json_schema`) →
//! Azure's 400 `Unrecognized request argument supplied: …`.
//!
//! Answers have Azure's shapes: `prompt_filter_results` and `content_filter_results`;
//! streams start with the annotation chunk (empty `choices`, `id`, `object`), then a role
//! chunk, `chunks` content chunks, a `finish_reason` chunk, the usage chunk only when
//! `stream_options.include_usage` was asked, and `data: [DONE]`. Headers:
//! `apim-request-id`, `x-ratelimit-remaining-requests`, `x-ratelimit-remaining-tokens`,
//! `x-ms-region`. Bodies are prepared once at start, so the hot path only checks and
//! copies reference-counted bytes; that makes it usable as the benchmark upstream.
//!
//! Tools: a request with `tools` and a `tool_choice` that forces a call (`"required"`,
//! or a named function) gets a `tool_calls` answer (`finish_reason: tool_calls`,
//! arguments built from the parameter schema), whole or as tool-call deltas with the
//! arguments split over chunks; `tool` messages must answer the calls of the assistant
//! message before them (Azure's 400s otherwise).
//!
//! Every streamed answer counts how it ended: [`FakeAzure::completed_streams`] (sent to
//! its last event) or [`FakeAzure::aborted_streams`] (the client went away first).
//!
//! The API other crates' tests rely on (kept stable): [`FakeAzure::start`] /
//! [`FakeAzure::start_on`] with a [`FakeConfig`]; [`FakeAzure::base_url`] (the
//! `api_base`), [`FakeAzure::token_url`] (the Entra `token_url`); counters
//! [`FakeAzure::calls`], [`FakeAzure::calls_for`], [`FakeAzure::token_requests`],
//! [`FakeAzure::connections`], [`FakeAzure::completed_streams`],
//! [`FakeAzure::aborted_streams`]; scripted faults [`FakeAzure::push_fault`],
//! [`FakeAzure::push_fault_for`], [`FakeAzure::push_faults`], [`FakeAzure::clear_faults`];
//! and [`FakeAzure::last_request`] / [`FakeAzure::last_request_headers`]. Dropping the
//! value stops the server.
//!
//! ```no_run
//! # async fn demo() {
//! use llmroute_azure::fake::{FakeAzure, FakeConfig, Fault};
//! let fake = FakeAzure::start(FakeConfig {
//!     deployments: vec!["gpt-4o-prod".into()],
//!     ..FakeConfig::default()
//! })
//! .await
//! .expect("fake azure");
//! fake.push_fault(Fault::RateLimited { retry_after_secs: Some(2), retry_after_ms: Some(1500) });
//! // point a deployment at fake.base_url() with api_key FakeConfig::default().api_key ...
//! assert_eq!(fake.calls(), 0);
//! # }
//! ```

mod canned;
mod chat;
mod faults;
mod server;
mod stream;
mod token;
mod tools;
mod tracked;

#[cfg(test)]
mod tests;

pub use faults::Fault;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// How the fake behaves. `FakeConfig::default()` serves deployment `gpt-4o` with key
/// `fake-azure-key`.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// Deployment names that exist; others get 404 `DeploymentNotFound`.
    pub deployments: Vec<String>,
    /// The resource's api-key (accepted as `api-key`, and as a bearer on v1).
    pub api_key: String,
    /// The answer. Streams split it into words, one content chunk each, unless
    /// `stream_chunks` is set.
    pub response_text: String,
    /// Content chunks per stream (0: one per word of `response_text`). With more chunks
    /// than words the words repeat; the non-streamed answer is the same text.
    pub stream_chunks: usize,
    /// The model the answers name (`model` field).
    pub model: String,
    /// `usage.prompt_tokens` reported on every answer.
    pub prompt_tokens: u64,
    /// Delay before the response headers of every chat answer.
    pub latency: Duration,
    /// Delay between stream chunks of every answer.
    pub chunk_delay: Duration,
    /// Entra client id the token endpoint accepts.
    pub entra_client_id: String,
    /// Entra client secret the token endpoint accepts.
    pub entra_client_secret: String,
    /// Lifetime (`expires_in`) of issued tokens.
    pub token_ttl: Duration,
    /// Delay of the token endpoint (to make concurrent refreshes overlap in tests).
    pub token_delay: Duration,
    /// `x-ms-region` header value.
    pub region: String,
    /// `x-ratelimit-remaining-requests` header value.
    pub remaining_requests: u64,
    /// `x-ratelimit-remaining-tokens` header value.
    pub remaining_tokens: u64,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            deployments: vec!["gpt-4o".to_string()],
            api_key: "fake-azure-key".to_string(),
            response_text: "Hello! How can I help you today?".to_string(),
            stream_chunks: 0,
            model: "gpt-4o-2024-08-06".to_string(),
            prompt_tokens: 12,
            latency: Duration::ZERO,
            chunk_delay: Duration::ZERO,
            entra_client_id: "fake-client-id".to_string(),
            entra_client_secret: "fake-client-secret".to_string(),
            token_ttl: Duration::from_secs(3600),
            token_delay: Duration::ZERO,
            region: "East US".to_string(),
            remaining_requests: 999,
            remaining_tokens: 99_000,
        }
    }
}

/// What the last chat request looked like, as the fake received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Path and query.
    pub path: String,
    /// All request headers.
    pub headers: http::HeaderMap,
    /// The body bytes.
    pub body: Bytes,
    /// The HTTP version it came over.
    pub version: http::Version,
}

impl RecordedRequest {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Shared state of a running fake.
pub(crate) struct State {
    pub(crate) cfg: FakeConfig,
    pub(crate) canned: canned::Canned,
    calls: AtomicU64,
    calls_by_deployment: HashMap<String, AtomicU64>,
    pub(crate) token_requests: AtomicU64,
    pub(crate) connections: AtomicU64,
    faults: Mutex<VecDeque<(Option<String>, Fault)>>,
    pending_faults: AtomicUsize,
    pub(crate) tokens: Mutex<HashMap<String, Instant>>,
    pub(crate) seq: AtomicU64,
    last: Mutex<Option<RecordedRequest>>,
    pub(crate) streams: Arc<tracked::StreamCounters>,
}

impl State {
    pub(crate) fn count_call(&self, deployment: Option<&str>) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Some(counter) = deployment.and_then(|d| self.calls_by_deployment.get(d)) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn record(&self, request: RecordedRequest) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some(request);
        }
    }

    /// The next fault for `deployment`: the first queued one aimed at it or at any.
    pub(crate) fn take_fault(&self, deployment: &str) -> Option<Fault> {
        if self.pending_faults.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut faults = self.faults.lock().ok()?;
        let at = faults
            .iter()
            .position(|(d, _)| d.as_deref().is_none_or(|d| d == deployment))?;
        let (_, fault) = faults.remove(at)?;
        self.pending_faults.store(faults.len(), Ordering::Release);
        Some(fault)
    }
}

/// A running fake Azure. Dropping it stops the server and closes its connections.
pub struct FakeAzure {
    state: Arc<State>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeAzure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAzure")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FakeAzure {
    /// Starts a fake on an ephemeral port of 127.0.0.1.
    pub async fn start(cfg: FakeConfig) -> std::io::Result<FakeAzure> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), cfg).await
    }

    /// Starts a fake on `addr` (the example binary uses a fixed port).
    pub async fn start_on(addr: SocketAddr, cfg: FakeConfig) -> std::io::Result<FakeAzure> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let calls_by_deployment = cfg
            .deployments
            .iter()
            .map(|d| (d.clone(), AtomicU64::new(0)))
            .collect();
        let state = Arc::new(State {
            canned: canned::Canned::build(&cfg),
            cfg,
            calls: AtomicU64::new(0),
            calls_by_deployment,
            token_requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            faults: Mutex::new(VecDeque::new()),
            pending_faults: AtomicUsize::new(0),
            tokens: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(0),
            last: Mutex::new(None),
            streams: Arc::default(),
        });
        let task = tokio::spawn(server::serve(listener, state.clone()));
        Ok(FakeAzure { state, addr, task })
    }

    /// `http://127.0.0.1:<port>`: the `api_base` to configure.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Entra token endpoint of `tenant` on this fake (for `EntraCredentials::token_url`).
    pub fn token_url(&self, tenant: &str) -> String {
        format!("http://{}/{tenant}/oauth2/v2.0/token", self.addr)
    }

    /// Chat requests received, whatever their outcome.
    pub fn calls(&self) -> u64 {
        self.state.calls.load(Ordering::Relaxed)
    }

    /// Chat requests received for one configured deployment (0 for unknown names).
    pub fn calls_for(&self, deployment: &str) -> u64 {
        self.state
            .calls_by_deployment
            .get(deployment)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// TCP connections accepted so far (to check that clients reuse pooled connections).
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::Relaxed)
    }

    /// Streamed answers sent to their last event (`[DONE]`, or the scripted cut or
    /// error event of a stream fault).
    pub fn completed_streams(&self) -> u64 {
        self.state.streams.completed.load(Ordering::Relaxed)
    }

    /// Streamed answers whose client went away before the last event was sent: the
    /// connection closed or failed and the response body was dropped. A proxy that
    /// cancels its upstream call when its own caller disconnects shows up here.
    pub fn aborted_streams(&self) -> u64 {
        self.state.streams.aborted.load(Ordering::Relaxed)
    }

    /// Requests received by the token endpoint.
    pub fn token_requests(&self) -> u64 {
        self.state.token_requests.load(Ordering::Relaxed)
    }

    /// Queues a fault for the next chat request to any deployment. Faults fire in order,
    /// one per request, after the credential, api-version and deployment checks pass.
    pub fn push_fault(&self, fault: Fault) {
        self.queue(None, fault);
    }

    /// Queues a fault for the next chat request to `deployment`.
    pub fn push_fault_for(&self, deployment: &str, fault: Fault) {
        self.queue(Some(deployment.to_string()), fault);
    }

    /// Queues the same fault `n` times (e.g. to make a deployment fail until it cools down).
    pub fn push_faults(&self, fault: Fault, n: usize) {
        for _ in 0..n {
            self.queue(None, fault.clone());
        }
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        if let Ok(mut q) = self.state.faults.lock() {
            q.clear();
            self.state.pending_faults.store(0, Ordering::Release);
        }
    }

    /// Faults queued and not yet fired.
    pub fn pending_faults(&self) -> usize {
        self.state.pending_faults.load(Ordering::Acquire)
    }

    fn queue(&self, deployment: Option<String>, fault: Fault) {
        if let Ok(mut q) = self.state.faults.lock() {
            q.push_back((deployment, fault));
            self.state.pending_faults.store(q.len(), Ordering::Release);
        }
    }

    /// The last chat request received (path, headers, body), to assert on what the
    /// provider sent: e.g. that no client `Authorization` or `x-stainless-*` header
    /// reached the upstream.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.state.last.lock().ok().and_then(|l| l.clone())
    }

    /// The headers of the last chat request.
    pub fn last_request_headers(&self) -> Option<http::HeaderMap> {
        self.last_request().map(|r| r.headers)
    }
}

impl Drop for FakeAzure {
    fn drop(&mut self) {
        self.task.abort();
    }
}
