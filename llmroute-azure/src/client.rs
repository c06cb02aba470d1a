//! The one shared HTTP client: pooled connections, rustls, HTTP/2 when the server offers
//! it, connect and read timeouts, TCP keep-alive, no redirects. Build it once and clone
//! it into every provider; clones share the pool.
//!
//! Redirects are not followed: Azure OpenAI never redirects an API call, a redirect means
//! `api_base` points at something else (a portal, a proxy, http instead of https), and
//! following it would send the credential on. The 3xx comes back as an error that says
//! so.

use std::time::Duration;

use llmroute_core::Error;

/// Tunables of [`AzureClient`]. The defaults suit Azure OpenAI.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Time to open a TCP + TLS connection (default 10 s).
    pub connect_timeout: Duration,
    /// Longest wait for any single read, headers or body (default 600 s, the OpenAI
    /// SDKs' request timeout: a long non-streamed answer sends nothing until it is done).
    pub read_timeout: Duration,
    /// How long an idle pooled connection is kept (default 90 s).
    pub pool_idle_timeout: Duration,
    /// Idle connections kept per host (default 256).
    pub pool_max_idle_per_host: usize,
    /// TCP keep-alive interval (default 30 s).
    pub tcp_keepalive: Duration,
    /// Speak HTTP/2 from the first byte over plain `http://` (h2c), for an upstream such
    /// as a local gateway that expects it (default off). Over `https://`, as with Azure,
    /// HTTP/2 is negotiated in the TLS handshake without this.
    pub http2_prior_knowledge: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(600),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 256,
            tcp_keepalive: Duration::from_secs(30),
            http2_prior_knowledge: false,
        }
    }
}

/// A pooled HTTP client for Azure; cheap to clone (clones share connections).
#[derive(Debug, Clone)]
pub struct AzureClient {
    http: reqwest::Client,
}

impl AzureClient {
    /// A client with [`ClientOptions::default`].
    pub fn new() -> Result<AzureClient, Error> {
        Self::with_options(&ClientOptions::default())
    }

    /// A client with the given options.
    pub fn with_options(opts: &ClientOptions) -> Result<AzureClient, Error> {
        let mut builder = reqwest::Client::builder();
        if opts.http2_prior_knowledge {
            builder = builder.http2_prior_knowledge();
        }
        let http = builder
            .use_rustls_tls()
            .connect_timeout(opts.connect_timeout)
            .read_timeout(opts.read_timeout)
            .pool_idle_timeout(opts.pool_idle_timeout)
            .pool_max_idle_per_host(opts.pool_max_idle_per_host)
            .tcp_keepalive(opts.tcp_keepalive)
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("llmroute/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::internal(format!("building the HTTP client for Azure (rustls): {e}"))
            })?;
        Ok(AzureClient { http })
    }

    /// The underlying reqwest client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }
}
