//! # llmroute-server
//!
//! The OpenAI-compatible gateway as a library, and the `llmroute-server` binary on top.
//!
//! What happens to a request, in order, and where each step lives:
//!
//! 1. **Accept** — [`serve`]: hyper 1.x, HTTP/1.1 and HTTP/2, one task per connection,
//!    graceful shutdown on SIGTERM, config reload on SIGHUP.
//! 2. **Route** — [`http::routes`]: method + path to a handler; every response gets
//!    `x-request-id`.
//! 3. **Authenticate** — [`http::credentials`] reads `Authorization: Bearer` or
//!    `api-key`; the gateway's [`llmroute_core::auth::Authenticator`] checks it (master
//!    key in constant time, virtual keys from the store).
//! 4. **Parse** — [`http::body`]: size limit (413), JSON with the error position (400).
//! 5. **Admit** — [`http::chat`]: model known (404), allowed for the key (403); the
//!    key's rpm / tpm and budget ([`spending`]).
//! 6. **Cache** — [`response_cache`]: a cached answer is served without an upstream call.
//! 7. **Call** — [`llmroute_core::router::Router`]: strategy, retries, cooldowns,
//!    fallbacks, timeouts; providers translate and send ([`llmroute_azure`]).
//! 8. **Answer** — [`http::answer`]: whole JSON, or [`http::sse`]: chunks out as they arrive.
//! 9. **Record, off the hot path** — [`accounting`]: cost, metrics, the log line, and
//!    the [`llmroute_core::events::RequestRecord`] handed to the sink (the store writes
//!    it in batches).
//!
//! [`Gateway::build`] is the one function from a config to a running gateway.

pub mod accounting;
pub mod args;
pub mod gateway;
pub mod http;
pub mod json_log;
pub mod log_output;
pub mod master_key;
pub mod metrics;
pub mod prices;
pub mod request_log;
pub mod response_cache;
pub mod serve;
pub mod shared_state;
pub mod spending;
pub mod store_metrics;

pub use args::ServerArgs;
pub use gateway::{Gateway, Options, StartError};
