//! The one shared HTTP client: pooled connections, rustls, HTTP/2 when the server offers
//! it, connect and read timeouts, TCP keep-alive, no redirects. Build it once and clone
//! it into every provider; clones share the pool.
//!
//! Calls go straight out over hyper-util's client, or over reqwest when a proxy is
//! configured for the deployment's URL ([`crate::transport`]); Entra ID token requests
//! always use reqwest.
//!
//! Redirects are not followed: Azure OpenAI never redirects an API call, a redirect means
//! `api_base` points at something else (a portal, a proxy, http instead of https), and
//! following it would send the credential on. The 3xx comes back as an error that says
//! so.

use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use llmroute_core::Error;

use crate::connect::TimedConnector;
use crate::transport::{DirectClient, Route};

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
    /// An HTTP proxy for every call to Azure, e.g. `http://proxy.internal:3128` (default
    /// none: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` from the
    /// environment decide, as curl reads them).
    pub proxy: Option<String>,
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
            proxy: None,
        }
    }
}

/// A pooled HTTP client for Azure; cheap to clone (clones share connections).
#[derive(Clone)]
pub struct AzureClient {
    /// Entra ID tokens, and calls that go through a proxy.
    http: reqwest::Client,
    /// Calls that go straight out.
    direct: DirectClient,
    /// Which URLs go through a proxy: `None` when every call does (an explicit proxy).
    proxy_env: Option<Arc<Matcher>>,
    read_timeout: Duration,
}

impl std::fmt::Debug for AzureClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureClient")
            .field("explicit_proxy", &self.proxy_env.is_none())
            .field("read_timeout", &self.read_timeout)
            .finish_non_exhaustive()
    }
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
        if let Some(proxy) = &opts.proxy {
            let proxy = reqwest::Proxy::all(proxy).map_err(|e| {
                Error::internal(format!(
                    "the proxy {proxy:?} for Azure is not a URL ({e}); write it like http://proxy.internal:3128"
                ))
            })?;
            builder = builder.proxy(proxy);
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
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| {
                Error::internal(format!("building the HTTP client for Azure (rustls): {e}"))
            })?;
        Ok(AzureClient {
            http,
            direct: direct_client(opts)?,
            proxy_env: opts.proxy.is_none().then(|| Arc::new(Matcher::from_env())),
            read_timeout: opts.read_timeout,
        })
    }

    /// The underlying reqwest client (Entra ID tokens, proxied calls).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// How calls to `url` are sent: through reqwest when a proxy applies (or when the URL
    /// is one only reqwest's parser takes, such as a non-ASCII host), else directly.
    pub(crate) fn route(&self, url: &str) -> Result<Route, String> {
        let direct = url.parse::<Uri>().ok().filter(|uri| match &self.proxy_env {
            None => false,
            Some(matcher) => matcher.intercept(uri).is_none(),
        });
        match direct {
            Some(uri) => Ok(Route::Direct {
                client: Box::new(self.direct.clone()),
                uri,
                read_timeout: self.read_timeout,
            }),
            None => Ok(Route::Reqwest {
                client: self.http.clone(),
                url: reqwest::Url::parse(url).map_err(|e| format!("{e}"))?,
            }),
        }
    }
}

/// `llmroute/<version>`, sent on every call.
pub(crate) const USER_AGENT: &str = concat!("llmroute/", env!("CARGO_PKG_VERSION"));

/// hyper-util's pooled client over rustls (ring, Mozilla's roots), HTTP/2 by ALPN.
fn direct_client(opts: &ClientOptions) -> Result<DirectClient, Error> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(opts.connect_timeout));
    http.set_keepalive(Some(opts.tcp_keepalive));
    http.set_nodelay(true);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("setting up TLS for Azure (rustls): {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    let connector = TimedConnector {
        inner: https,
        timeout: opts.connect_timeout,
    };
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_idle_timeout(opts.pool_idle_timeout)
        .pool_max_idle_per_host(opts.pool_max_idle_per_host)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new());
    if opts.http2_prior_knowledge {
        builder.http2_only(true);
    }
    Ok(builder.build(connector))
}
