//! `llmroute healthcheck`: exit 0 when the server's `/health` answers 200, 1 otherwise.
//! The container image has no curl; its Dockerfile `HEALTHCHECK` runs this.

use crate::args::HealthcheckArgs;
use crate::error::CliError;

/// Runs `llmroute healthcheck`; prints one line to stderr when unhealthy.
pub async fn run(args: HealthcheckArgs) -> Result<u8, CliError> {
    match check(&args.url, args.timeout).await {
        Ok(()) => Ok(0),
        Err(why) => {
            eprintln!("unhealthy: {why}");
            Ok(1)
        }
    }
}

/// `Ok` when `url` answers 200 within `timeout`.
pub async fn check(url: &str, timeout: std::time::Duration) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {}", crate::admin::chain(&e)))?;
    if resp.status() == reqwest::StatusCode::OK {
        Ok(())
    } else {
        Err(format!("GET {url} answered {}", resp.status()))
    }
}
