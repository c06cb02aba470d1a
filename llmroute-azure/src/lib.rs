//! # llmroute-azure
//!
//! The Azure OpenAI provider of llmroute: [`AzureProvider`] implements core's
//! [`Provider`](llmroute_core::Provider) for one chat-completions deployment (gpt-4o),
//! over one shared, pooled [`AzureClient`] (hyper-util + rustls, HTTP/2 when offered;
//! reqwest when a proxy is configured).
//!
//! The crate is two layers, as `STYLE.md` asks:
//! - pure translation, testable without a server: [`version`] (api-versions and the
//!   fields they know), [`request`] (URL and body), [`errors`] (Azure's three error body
//!   families to [`llmroute_core::Error`]), [`meta`] (response headers), [`sse`] (an
//!   incremental event-stream parser other crates may use) and [`stream`] (events to
//!   chat chunks);
//! - a small sending layer: [`client`], `transport` (one HTTP exchange, direct or
//!   through a proxy), [`entra`] (Entra ID tokens) and [`provider`].
//!
//! With the `fake` feature, [`fake::FakeAzure`] is a real HTTP server on 127.0.0.1 that
//! answers like Azure, for tests and benchmarks.
//!
//! ```no_run
//! # async fn demo(cfg: llmroute_core::config::DeploymentConfig) -> Result<(), Box<dyn std::error::Error>> {
//! use llmroute_azure::{AzureClient, AzureProvider};
//! use llmroute_core::{types::{ChatRequest, Message}, Provider};
//! let client = AzureClient::new()?; // once per process
//! let provider = AzureProvider::from_config(&cfg, false, &client)?;
//! let done = provider.chat(&ChatRequest::new("gpt-4o", vec![Message::user("hi")])).await?;
//! println!("{:?} (apim-request-id {:?})", done.response().first_text(), done.meta.request_id);
//! # Ok(()) }
//! ```

pub mod client;
mod connect;
pub mod entra;
pub mod errors;
mod json_text;
pub mod meta;
pub mod provider;
pub mod request;
pub mod sse;
pub mod stream;
mod transport;
pub mod version;

#[cfg(feature = "fake")]
pub mod fake;

pub use client::{AzureClient, ClientOptions};
pub use entra::{ClientCredentials, StaticToken, TokenProvider};
pub use provider::{AzureProvider, Credential};
pub use version::{ApiVersion, DEFAULT_API_VERSION};
