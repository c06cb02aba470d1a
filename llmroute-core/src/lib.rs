//! # llmroute-core
//!
//! The embeddable heart of llmroute: OpenAI chat-completions wire types, the
//! [`Provider`] trait every upstream implements, the error type that knows its HTTP
//! status, prices and cost, LiteLLM-compatible configuration, authentication traits and
//! the router that spreads a model name over deployments.
//!
//! ```
//! use llmroute_core::{mock::MockProvider, types::{ChatRequest, Message}, Provider};
//! # tokio_test_block(async {
//! let mock = MockProvider::fixed("mock", "hi");
//! let done = mock.chat(&ChatRequest::new("mock", vec![Message::user("hello")])).await.unwrap();
//! assert_eq!(done.response().first_text(), Some("hi"));
//! # });
//! # fn tokio_test_block<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

pub mod auth;
pub mod cache;
pub mod completion;
pub mod config;
pub mod cost;
pub mod error;
pub mod events;
pub mod json_escape;
pub mod keys;
pub mod limits;
pub mod mock;
pub mod percent;
pub mod provider;
pub mod router;
pub mod secret;
pub mod store;
pub mod types;

pub use error::{Error, Result};
pub use provider::{ChatStream, ChunkStream, Completion, Provider, UpstreamMeta};
pub use router::{
    Counters, DeploymentInfo, DeploymentLimits, RouteError, Routed, Router, RouterBuilder, Strategy,
};
pub use secret::Secret;
