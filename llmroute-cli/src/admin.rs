//! A small client for a running server: the LiteLLM-compatible admin API (`/key/*`,
//! `/spend/logs`) with the master key, and `/v1/models`.

use std::time::Duration;

use serde_json::Value;

use crate::error::CliError;

/// A server and the key to present.
#[derive(Debug, Clone)]
pub struct ServerClient {
    base: String,
    key: Option<String>,
    http: reqwest::Client,
}

impl ServerClient {
    /// A client for `base` (`http://host:port`, a trailing `/` is fine).
    pub fn new(base: &str, key: Option<String>) -> Result<ServerClient, CliError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| CliError::Other(format!("creating the HTTP client: {e}")))?;
        Ok(ServerClient {
            base: base.trim_end_matches('/').to_string(),
            key,
            http,
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A request to `path` with the key as a bearer token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(k) => rb.bearer_auth(k),
            None => rb,
        }
    }

    /// Sends and returns the JSON body, or an error saying what the server answered.
    pub async fn send(&self, rb: reqwest::RequestBuilder, what: &str) -> Result<Value, CliError> {
        let resp = rb.send().await.map_err(|e| {
            CliError::Server(format!(
                "{what}: cannot reach {}: {}; is the server running and the URL right?",
                self.base,
                chain(&e)
            ))
        })?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| CliError::Server(format!("{what}: reading the answer: {e}")))?;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(json);
        }
        let message = json
            .pointer("/error/message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
        let hint = match status.as_u16() {
            401 => {
                "; the admin API needs the master key: pass --master-key or set LLMROUTE_MASTER_KEY"
            }
            403 => "; this key is not the master key",
            404 if message.contains("no route") => {
                "; this server has no admin API route for this (is it an older llmroute?)"
            }
            _ => "",
        };
        Err(CliError::Server(format!(
            "{what}: the server answered {status}: {message}{hint}"
        )))
    }

    /// POST a JSON body.
    pub async fn post(&self, path: &str, body: &Value, what: &str) -> Result<Value, CliError> {
        self.send(self.request(reqwest::Method::POST, path).json(body), what)
            .await
    }

    /// GET with query parameters.
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        what: &str,
    ) -> Result<Value, CliError> {
        self.send(self.request(reqwest::Method::GET, path).query(query), what)
            .await
    }
}

/// An error with its causes, one after the other (reqwest hides the useful part).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}
