//! Microsoft Entra ID credentials: an async [`TokenProvider`] trait, a fixed token, and
//! the client-credentials flow with a cached token refreshed before it expires.
//!
//! Refreshes are single-flight: when the cached token must be replaced, one caller asks
//! the token endpoint and the others wait for its answer (or, while the old token is
//! still valid, keep using it), so 100 concurrent requests cost one token request.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use llmroute_core::config::EntraCredentials;
use llmroute_core::{Error, Secret};
use serde::Deserialize;

use crate::client::AzureClient;

/// The scope of Azure OpenAI data-plane tokens.
pub const COGNITIVE_SERVICES_SCOPE: &str = "https://cognitiveservices.azure.com/.default";

/// The public token endpoint of a tenant.
pub fn default_token_url(tenant_id: &str) -> String {
    format!("https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token")
}

/// Gives a bearer token for `Authorization: Bearer <token>`.
#[async_trait]
pub trait TokenProvider: Send + Sync + 'static {
    /// A token valid for at least the next few seconds.
    async fn token(&self) -> Result<Secret, Error>;
}

/// A token given in the configuration (`azure_ad_token`); never refreshed.
#[derive(Debug, Clone)]
pub struct StaticToken(pub Secret);

#[async_trait]
impl TokenProvider for StaticToken {
    async fn token(&self) -> Result<Secret, Error> {
        Ok(self.0.clone())
    }
}

#[derive(Debug, Clone)]
struct Cached {
    token: Secret,
    refresh_at: Instant,
    expires_at: Instant,
}

/// The OAuth2 client-credentials flow against Entra ID, with a shared cached token.
pub struct ClientCredentials {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: Secret,
    scope: String,
    cached: RwLock<Option<Cached>>,
    refresh: tokio::sync::Mutex<()>,
    /// The last failed refresh, so callers that waited for it share its error instead of
    /// each asking the token endpoint again.
    failed: RwLock<Option<(Instant, Error)>>,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl ClientCredentials {
    /// A provider for `creds`, sending token requests with `client`. The token URL is
    /// `creds.token_url` when set, else the tenant's public endpoint.
    pub fn new(creds: &EntraCredentials, client: &AzureClient) -> Arc<ClientCredentials> {
        let token_url = creds
            .token_url
            .clone()
            .unwrap_or_else(|| default_token_url(&creds.tenant_id));
        Arc::new(ClientCredentials {
            http: client.http().clone(),
            token_url,
            client_id: creds.client_id.clone(),
            client_secret: creds.client_secret.clone(),
            scope: COGNITIVE_SERVICES_SCOPE.to_string(),
            cached: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            failed: RwLock::new(None),
        })
    }

    fn current(&self) -> Option<Cached> {
        self.cached.read().ok().and_then(|c| c.clone())
    }

    async fn fetch(&self) -> Result<Cached, Error> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
            ("scope", self.scope.as_str()),
        ];
        let started = Instant::now();
        let resp = self
            .http
            .post(&self.token_url)
            .form(&form)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| Error::UpstreamConnection {
                message: format!("requesting an Entra ID token from {}: {e}", self.token_url),
            })?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| Error::UpstreamConnection {
            message: format!(
                "reading the Entra ID token response from {}: {e}",
                self.token_url
            ),
        })?;
        if status != 200 {
            let said = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    v.get("error_description")
                        .or_else(|| v.get("error"))
                        .cloned()
                })
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                })
                .unwrap_or_else(|| {
                    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
                });
            return Err(Error::UpstreamAuth {
                message: format!(
                    "Entra ID refused a token for client_id {} at {} ({status}): {said}; \
                     check tenant_id, client_id and client_secret",
                    self.client_id, self.token_url
                ),
            });
        }
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| Error::UpstreamProtocol {
                message: format!(
                    "Entra ID token response from {} is not understood: {e}",
                    self.token_url
                ),
            })?;
        let ttl = parsed
            .expires_in
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(3600);
        let ttl = Duration::from_secs(ttl);
        // Refresh 5 minutes before expiry, or halfway through a short-lived token.
        let lead = Duration::from_secs(300).min(ttl / 2);
        Ok(Cached {
            token: Secret::new(parsed.access_token),
            refresh_at: started + (ttl - lead),
            expires_at: started + ttl,
        })
    }
}

#[async_trait]
impl TokenProvider for ClientCredentials {
    async fn token(&self) -> Result<Secret, Error> {
        let now = Instant::now();
        let current = self.current();
        if let Some(c) = &current {
            if now < c.refresh_at {
                return Ok(c.token.clone());
            }
        }
        // Due for refresh. While the old token still works, only one caller refreshes and
        // the rest keep using it; once it has expired, everyone waits for the refresh.
        let guard = match (&current, self.refresh.try_lock()) {
            (_, Ok(g)) => g,
            (Some(c), Err(_)) if now < c.expires_at => return Ok(c.token.clone()),
            (_, Err(_)) => self.refresh.lock().await,
        };
        if let Some(c) = self.current() {
            if Instant::now() < c.refresh_at {
                return Ok(c.token.clone());
            }
        }
        let failed_meanwhile = self.failed.read().ok().and_then(|f| {
            f.as_ref()
                .filter(|(at, _)| *at >= now)
                .map(|(_, e)| e.clone())
        });
        if let Some(e) = failed_meanwhile {
            return Err(e);
        }
        let result = self.fetch().await;
        if let (Err(e), Ok(mut failed)) = (&result, self.failed.write()) {
            *failed = Some((Instant::now(), e.clone()));
        }
        drop_guard_after(guard, || match result {
            Ok(fresh) => {
                let token = fresh.token.clone();
                if let Ok(mut slot) = self.cached.write() {
                    *slot = Some(fresh);
                }
                Ok(token)
            }
            Err(e) => match self.current() {
                Some(c) if Instant::now() < c.expires_at => {
                    tracing::warn!(error = %e, "Entra ID token refresh failed; using the current token until it expires");
                    Ok(c.token)
                }
                _ => Err(e),
            },
        })
    }
}

/// Runs `f` while still holding `guard`, so waiters see the stored token.
fn drop_guard_after<G, T>(guard: G, f: impl FnOnce() -> T) -> T {
    let out = f();
    drop(guard);
    out
}
