//! Doctor's checks of each deployment: DNS, TCP + TLS to `api_base`, whether the
//! api-version is one Azure serves, and one 1-token request (skipped with `--no-spend`)
//! whose error is translated into what to change.

use std::time::Duration;

use llmroute_azure::{AzureClient, AzureProvider, ClientOptions, DEFAULT_API_VERSION};
use llmroute_core::config::{DeploymentConfig, ProviderKind};
use llmroute_core::{Error, Provider};

use super::net::dns;
use super::{Check, Status};

/// api-versions Azure OpenAI serves for chat completions (GA, then previews).
pub const KNOWN_API_VERSIONS: &[&str] = &[
    "2022-12-01",
    "2023-05-15",
    "2024-02-01",
    "2024-06-01",
    "2024-10-21",
    "2023-06-01-preview",
    "2023-07-01-preview",
    "2023-08-01-preview",
    "2023-09-01-preview",
    "2023-10-01-preview",
    "2023-12-01-preview",
    "2024-02-15-preview",
    "2024-03-01-preview",
    "2024-04-01-preview",
    "2024-05-01-preview",
    "2024-07-01-preview",
    "2024-08-01-preview",
    "2024-09-01-preview",
    "2024-10-01-preview",
    "2024-12-01-preview",
    "2025-01-01-preview",
    "2025-02-01-preview",
    "2025-03-01-preview",
    "2025-04-01-preview",
    "v1",
    "preview",
    "latest",
];

/// Every check of one deployment; `spend` allows the 1-token request.
pub async fn check_deployment(
    d: &DeploymentConfig,
    drop_params: bool,
    timeout: Duration,
    spend: bool,
) -> Vec<Check> {
    let group = format!("deployment {}", d.id);
    let g = group.as_str();
    if d.provider == ProviderKind::Mock {
        return vec![Check::pass(
            g,
            "provider",
            format!("mock/{}: in-process, nothing to reach", d.deployment),
        )];
    }
    let mut out = Vec::new();
    let Some(base) = d.api_base.as_deref().filter(|b| !b.trim().is_empty()) else {
        out.push(Check::fail(
            g,
            "api_base",
            "not set",
            "set litellm_params.api_base: https://<resource>.openai.azure.com",
        ));
        return out;
    };
    let url = match url::Url::parse(base.trim()) {
        Ok(u) if u.host_str().is_some() => u,
        _ => {
            out.push(Check::fail(
                g,
                "api_base",
                format!("{base} is not a URL"),
                "write https://<resource>.openai.azure.com",
            ));
            return out;
        }
    };
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let (line, addrs) = dns(g, &host, port, timeout).await;
    let ok = line.status == Status::Pass;
    out.push(line);
    if !ok || addrs.is_empty() {
        return out;
    }
    let reach = reachable(base, timeout).await;
    let reached = reach.status != Status::Fail;
    out.push(Check {
        group: group.clone(),
        ..reach
    });
    out.push(api_version(g, d.api_version.as_deref()));
    if !reached {
        return out;
    }
    if !spend {
        out.push(Check::skip(
            g,
            "deployment and key",
            "not checked (--no-spend): run without it to send one 1-token request",
        ));
        return out;
    }
    out.push(one_token(g, d, drop_params, timeout).await);
    out
}

/// TCP + TLS to the endpoint: any HTTP answer means both worked.
async fn reachable(base: &str, timeout: Duration) -> Check {
    let g = "";
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => {
            return Check::fail(
                g,
                "TCP/TLS",
                format!("HTTP client: {e}"),
                "this is a bug; please report it",
            )
        }
    };
    let https = base.trim().starts_with("https://");
    match client.get(base.trim()).send().await {
        Ok(_) if https => Check::pass(g, "TCP/TLS", "connected; TLS certificate valid"),
        Ok(_) => Check::warn(
            g,
            "TCP/TLS",
            "connected over plain http",
            "Azure OpenAI answers on https:// only; plain http is for local test servers",
        ),
        Err(e) => {
            let why = crate::admin::chain(&e);
            let fix = if e.is_timeout() {
                "no answer in time: check the egress path (NAT gateway, security group outbound 443, the resource's network rules / private endpoint)"
            } else if why.contains("certificate") || why.contains("tls") || why.contains("TLS") {
                "the TLS handshake failed: a proxy intercepting TLS, or a wrong host name in api_base"
            } else {
                "check api_base and the network path to it (outbound 443)"
            };
            Check::fail(g, "TCP/TLS", why, fix)
        }
    }
}

/// Whether the api-version is one Azure serves.
pub fn api_version(g: &str, v: Option<&str>) -> Check {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Check::pass(g, "api-version", format!("{DEFAULT_API_VERSION} (the default)")),
        Some(v) if KNOWN_API_VERSIONS.contains(&v) => Check::pass(g, "api-version", format!("{v} (known)")),
        Some(v) => Check::warn(
            g,
            "api-version",
            format!("{v} is not a version llmroute knows Azure to serve"),
            format!("a wrong api-version gives 404 Resource not found; use {DEFAULT_API_VERSION} (GA) or v1"),
        ),
    }
}

/// One request with max_tokens 1; its error translated.
async fn one_token(g: &str, d: &DeploymentConfig, drop_params: bool, timeout: Duration) -> Check {
    const NAME: &str = "deployment and key";
    let opts = ClientOptions {
        connect_timeout: timeout,
        read_timeout: timeout,
        ..ClientOptions::default()
    };
    let client = match AzureClient::with_options(&opts) {
        Ok(c) => c,
        Err(e) => {
            return Check::fail(
                g,
                NAME,
                format!("HTTP client: {e}"),
                "this is a bug; please report it",
            )
        }
    };
    let provider = match AzureProvider::from_config(d, drop_params, &client) {
        Ok(p) => p,
        Err(e) => {
            return Check::fail(
                g,
                NAME,
                e.to_string(),
                "fix this deployment's litellm_params",
            )
        }
    };
    match provider.health().await {
        Ok(took) => Check::pass(
            g,
            NAME,
            format!(
                "deployment '{}' answered a 1-token request in {} ms; the key is valid",
                d.deployment,
                took.as_millis()
            ),
        ),
        Err(e) => translate(g, NAME, d, &e),
    }
}

/// Azure's answer to the probe, as a diagnosis and a fix.
pub fn translate(g: &str, name: &str, d: &DeploymentConfig, e: &Error) -> Check {
    let base = d.api_base.as_deref().unwrap_or_default();
    match e {
        Error::UpstreamAuth { message } => Check::fail(
            g,
            name,
            format!("401: key invalid or wrong regional endpoint — {message}"),
            format!("copy KEY 1 and the Endpoint from the same resource (Azure portal → the resource → Keys and Endpoint); api_base is {base}"),
        ),
        Error::UpstreamNotFound { message, code: "DeploymentNotFound" } => Check::fail(
            g,
            name,
            format!("404 DeploymentNotFound: no deployment '{}' on {base} — {message}", d.deployment),
            "litellm_params.model must be azure/<deployment name> as listed under Deployments in Azure AI Foundry (not the model name)",
        ),
        Error::UpstreamNotFound { message, .. } => Check::fail(
            g,
            name,
            format!("404 Resource not found: wrong api-version or path — {message}"),
            format!("set api_version: {DEFAULT_API_VERSION} and api_base: https://<resource>.openai.azure.com (no /openai/... path)"),
        ),
        Error::RateLimited { message, .. } => Check::warn(g, name, format!("429: reachable and the key works, but rate limited now — {message}"), "raise the deployment's TPM quota, or add deployments"),
        Error::Timeout { message } => Check::fail(g, name, format!("timed out: {message}"), "check the network path; raise --timeout for a slow deployment"),
        Error::UpstreamConnection { message } => Check::fail(g, name, format!("cannot connect: {message}"), "check api_base and outbound 443"),
        other => Check::fail(g, name, other.to_string(), "see the message; `llmroute chat -m <model> hi` reproduces it"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions() {
        assert_eq!(api_version("d", None).status, Status::Pass);
        assert_eq!(api_version("d", Some("2024-10-21")).status, Status::Pass);
        assert_eq!(api_version("d", Some("2019-01-01")).status, Status::Warn);
    }

    #[test]
    fn azure_errors_translate() {
        let d = DeploymentConfig {
            model_name: "gpt-4o".into(),
            id: "gpt-4o-0".into(),
            provider: ProviderKind::Azure,
            deployment: "gpt4o".into(),
            api_base: Some("https://r.openai.azure.com".into()),
            api_key: None,
            api_version: None,
            entra: None,
            azure_ad_token: None,
            rpm: None,
            tpm: None,
            weight: 1.0,
            order: None,
            timeout: None,
            stream_timeout: None,
            mock_response: None,
            price: None,
            base_model: None,
        };
        let c = translate(
            "g",
            "n",
            &d,
            &Error::UpstreamAuth {
                message: "denied".into(),
            },
        );
        assert!(c
            .detail
            .starts_with("401: key invalid or wrong regional endpoint"));
        let c = translate(
            "g",
            "n",
            &d,
            &Error::UpstreamNotFound {
                message: "x".into(),
                code: "DeploymentNotFound",
            },
        );
        assert!(c.detail.starts_with("404 DeploymentNotFound"));
        let c = translate(
            "g",
            "n",
            &d,
            &Error::UpstreamNotFound {
                message: "x".into(),
                code: "resource_not_found",
            },
        );
        assert!(c
            .detail
            .starts_with("404 Resource not found: wrong api-version or path"));
    }
}
