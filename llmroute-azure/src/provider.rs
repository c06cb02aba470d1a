//! [`AzureProvider`]: one Azure OpenAI deployment behind core's [`Provider`] trait.
//!
//! This is the small layer that sends: it asks [`crate::request`] for the URL and body,
//! adds exactly one credential header, and hands statuses to [`crate::errors`] and
//! bodies to [`crate::stream`]. Nothing from the caller's HTTP request (its
//! `Authorization`, `api-key`, `x-stainless-*` headers) is ever forwarded: only the typed
//! [`ChatRequest`] crosses this boundary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use llmroute_core::config::{ConfigError, DeploymentConfig, ProviderKind};
use llmroute_core::types::{ChatRequest, Message};
use llmroute_core::{ChatStream, Completion, Error, Provider, Secret};

use crate::client::AzureClient;
use crate::entra::{ClientCredentials, StaticToken, TokenProvider};
use crate::errors::{map_status, retry_after, ErrorContext};
use crate::meta::{header, upstream_meta};
use crate::request::{chat_url, prepare, Target};
use crate::stream::{chunk_stream, StreamLabels};
use crate::transport::{Outgoing, Reply, Route, SendError};
use crate::version::ApiVersion;

/// How the provider proves itself to Azure: exactly one header per request.
#[derive(Clone)]
pub enum Credential {
    /// `api-key: <key>`.
    ApiKey(Secret),
    /// `Authorization: Bearer <token>` from Entra ID.
    Bearer(Arc<dyn TokenProvider>),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credential::ApiKey(_) => "ApiKey([REDACTED])",
            Credential::Bearer(_) => "Bearer(<token provider>)",
        })
    }
}

/// One Azure OpenAI deployment.
#[derive(Debug, Clone)]
pub struct AzureProvider {
    name: String,
    url: String,
    /// How calls are sent (direct, or through a proxy), the URL parsed once; the
    /// parse error when `url` is not one (each request reports it).
    route: Result<Route, String>,
    version: ApiVersion,
    credential: Credential,
    /// The `api-key` header value, built once (`None` for a bearer credential).
    api_key_header: Option<HeaderValue>,
    drop_params: bool,
    timeout: Option<Duration>,
    stream_timeout: Option<Duration>,
    labels: Arc<StreamLabels>,
}

fn config_error(cfg: &DeploymentConfig, key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        source_name: format!("deployment {}", cfg.id),
        path: format!("litellm_params.{key}"),
        message: message.into(),
    }
}

impl AzureProvider {
    /// The provider for one `azure/<deployment>` entry of the configuration.
    ///
    /// Credential: Entra ID client credentials when `tenant_id`/`client_id`/
    /// `client_secret` are set, else a fixed `azure_ad_token`, else `api_key`.
    /// `api_version` defaults to `2024-10-21`; `v1` selects the `/openai/v1` route.
    pub fn from_config(
        cfg: &DeploymentConfig,
        drop_params: bool,
        client: &AzureClient,
    ) -> Result<AzureProvider, ConfigError> {
        if cfg.provider != ProviderKind::Azure {
            return Err(config_error(
                cfg,
                "model",
                "not an azure/<deployment> model",
            ));
        }
        let api_base = cfg
            .api_base
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| {
                config_error(
                    cfg,
                    "api_base",
                    "required for azure/ models: https://<resource>.openai.azure.com",
                )
            })?;
        if !(api_base.starts_with("https://") || api_base.starts_with("http://")) {
            return Err(config_error(
                cfg,
                "api_base",
                format!("{api_base:?} is not a URL; write https://<resource>.openai.azure.com"),
            ));
        }
        let credential = if let Some(entra) = &cfg.entra {
            Credential::Bearer(ClientCredentials::new(entra, client))
        } else if let Some(token) = &cfg.azure_ad_token {
            check_header_value(cfg, "azure_ad_token", token)?;
            Credential::Bearer(Arc::new(StaticToken(token.clone())))
        } else if let Some(key) = &cfg.api_key {
            check_header_value(cfg, "api_key", key)?;
            Credential::ApiKey(key.clone())
        } else {
            return Err(config_error(
                cfg,
                "api_key",
                "azure/ models need a credential: api_key, azure_ad_token, or tenant_id + client_id + client_secret",
            ));
        };
        if cfg.entra.is_some() && cfg.api_key.is_some() {
            tracing::warn!(deployment = %cfg.deployment, "both Entra ID credentials and api_key are set; using Entra ID");
        }
        let version = ApiVersion::parse(cfg.api_version.as_deref());
        let url = chat_url(api_base, &cfg.deployment, &version);
        let route = client.route(&url);
        let api_key_header = api_key_header(&credential);
        Ok(AzureProvider {
            name: format!("azure/{}", cfg.deployment),
            labels: Arc::new(StreamLabels {
                deployment: cfg.deployment.clone(),
                api_base: api_base.trim_end_matches('/').to_string(),
                api_version: version.raw.clone(),
            }),
            url,
            route,
            version,
            api_key_header,
            credential,
            drop_params,
            timeout: cfg.timeout,
            stream_timeout: cfg.stream_timeout,
        })
    }

    /// Replaces the credential, e.g. with a managed-identity [`TokenProvider`].
    pub fn with_credential(mut self, credential: Credential) -> AzureProvider {
        self.api_key_header = api_key_header(&credential);
        self.credential = credential;
        self
    }

    /// The chat-completions URL this provider posts to.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn ctx<'a>(&'a self, request_id: Option<&'a str>) -> ErrorContext<'a> {
        ErrorContext {
            deployment: &self.labels.deployment,
            api_base: &self.labels.api_base,
            api_version: &self.version.raw,
            entra: matches!(self.credential, Credential::Bearer(_)),
            request_id,
        }
    }

    /// Sends one request; returns the successful response and the dropped parameters.
    async fn send(
        &self,
        request: &ChatRequest,
        stream: bool,
    ) -> Result<(Reply, Vec<&'static str>), Error> {
        let target = Target {
            deployment: &self.labels.deployment,
            version: &self.version,
            drop_params: self.drop_params,
        };
        let prepared = prepare(request, &target, stream)?;
        let credential = match (&self.credential, &self.api_key_header) {
            (Credential::ApiKey(_), Some(value)) => (API_KEY.clone(), value.clone()),
            (Credential::ApiKey(key), None) => {
                (API_KEY.clone(), self.credential_header(key.expose())?)
            }
            (Credential::Bearer(provider), _) => (
                AUTHORIZATION,
                self.credential_header(&format!("Bearer {}", provider.token().await?.expose()))?,
            ),
        };
        let route = self.route.as_ref().map_err(|e| Error::UpstreamConnection {
            message: format!(
                "the request to Azure deployment {} failed: builder error: {e}; check api_base",
                self.labels.deployment
            ),
        })?;
        let accept = if stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        let outgoing = Outgoing {
            headers: vec![
                credential,
                (CONTENT_TYPE, HeaderValue::from_static("application/json")),
                (ACCEPT, HeaderValue::from_static(accept)),
                (
                    USER_AGENT,
                    HeaderValue::from_static(crate::client::USER_AGENT),
                ),
            ],
            body: Bytes::from(prepared.body),
            total: self.timeout,
        };
        let first_byte = if stream { self.stream_timeout } else { None };
        let sent = match first_byte {
            Some(limit) => tokio::time::timeout(limit, route.send(outgoing)).await.map_err(|_| Error::Timeout {
                message: format!(
                    "Azure deployment {} sent no response headers within the stream timeout of {:.1}s",
                    self.labels.deployment,
                    limit.as_secs_f64()
                ),
            })?,
            None => route.send(outgoing).await,
        };
        let reply = sent.map_err(|e| self.send_error(e))?;
        let status = reply.status;
        if (200..300).contains(&status) {
            return Ok((reply, prepared.dropped));
        }
        let headers = reply.headers;
        let body = reply.body.bytes().await.unwrap_or_default();
        let retry = retry_after(
            header(&headers, "retry-after-ms"),
            header(&headers, "retry-after"),
        );
        let error = map_status(
            status,
            &body,
            retry,
            &self.ctx(header(&headers, "apim-request-id")),
        );
        tracing::warn!(
            deployment = %self.labels.deployment,
            status,
            apim_request_id = header(&headers, "apim-request-id").unwrap_or("-"),
            kind = error.label(),
            "Azure answered with an error"
        );
        Err(error)
    }

    /// A credential as a sensitive header value.
    fn credential_header(&self, value: &str) -> Result<HeaderValue, Error> {
        let mut value = HeaderValue::from_str(value).map_err(|_| {
            Error::internal(format!(
                "the credential of Azure deployment {} is not a valid header value",
                self.labels.deployment
            ))
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    fn send_error(&self, e: SendError) -> Error {
        let dep = &self.labels.deployment;
        match e {
            SendError::Timeout(cause) => {
                let after = self
                    .timeout
                    .map(|t| format!(" within {:.1}s", t.as_secs_f64()))
                    .unwrap_or_default();
                Error::Timeout {
                    message: format!("Azure deployment {dep} did not answer{after}: {cause}"),
                }
            }
            SendError::Connect(cause) => Error::UpstreamConnection {
                message: format!(
                    "cannot connect to Azure at {} for deployment {dep}: {cause}; check api_base and the network path",
                    self.labels.api_base
                ),
            },
            SendError::Other(cause) => Error::UpstreamConnection {
                message: format!("the request to Azure deployment {dep} failed: {cause}"),
            },
        }
    }
}

/// The `api-key` header name.
static API_KEY: HeaderName = HeaderName::from_static("api-key");

/// The `api-key` header of an api-key credential, built once (sensitive: never logged).
fn api_key_header(credential: &Credential) -> Option<HeaderValue> {
    match credential {
        Credential::ApiKey(key) => HeaderValue::from_str(key.expose()).ok().map(|mut v| {
            v.set_sensitive(true);
            v
        }),
        Credential::Bearer(_) => None,
    }
}

fn check_header_value(
    cfg: &DeploymentConfig,
    key: &str,
    secret: &Secret,
) -> Result<(), ConfigError> {
    HeaderValue::from_str(secret.expose())
        .map(|_| ())
        .map_err(|_| {
            config_error(
                cfg,
                key,
                "contains characters that cannot be sent in an HTTP header (a newline?)",
            )
        })
}

#[async_trait]
impl Provider for AzureProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn chat(&self, request: &ChatRequest) -> Result<Completion, Error> {
        let (reply, dropped) = self.send(request, false).await?;
        let meta = upstream_meta(&reply.headers, dropped);
        let body = reply.body.bytes().await.map_err(|e| {
            let message = format!(
                "reading the answer of Azure deployment {}: {}",
                self.labels.deployment, e.message
            );
            if e.timeout {
                Error::Timeout { message }
            } else {
                Error::UpstreamConnection { message }
            }
        })?;
        // Only the model and usage are read now; a proxy forwards the bytes unparsed.
        Completion::from_upstream(body.clone(), meta).map_err(|e| Error::UpstreamProtocol {
            message: format!(
                "Azure deployment {} answered 200 with a body that is not a chat completion ({e}): {}",
                self.labels.deployment,
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ),
        })
    }

    async fn chat_stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let (reply, dropped) = self.send(request, true).await?;
        let meta = upstream_meta(&reply.headers, dropped);
        let chunks = chunk_stream(reply.body.into_stream(), self.labels.clone());
        Ok(ChatStream { meta, chunks })
    }

    async fn health(&self) -> Result<Duration, Error> {
        let started = Instant::now();
        let mut probe =
            ChatRequest::new(self.labels.deployment.clone(), vec![Message::user("ping")]);
        probe.max_tokens = Some(1);
        self.chat(&probe).await?;
        Ok(started.elapsed())
    }
}
