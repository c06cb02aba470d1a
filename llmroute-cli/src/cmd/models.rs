//! `llmroute models`: the model names a config (or a running server) serves.

use serde_json::json;

use crate::admin::ServerClient;
use crate::args::ModelsArgs;
use crate::context::load_config;
use crate::error::CliError;
use crate::output::{table, Output};

/// Runs `llmroute models`.
pub async fn run(args: ModelsArgs, out: &Output) -> Result<u8, CliError> {
    if let Some(server) = &args.server {
        let client = ServerClient::new(server, args.key.clone())?;
        let v = client
            .get("/v1/models", &[], "listing the server's models")
            .await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        } else {
            for m in v
                .get("data")
                .and_then(|d| d.as_array())
                .into_iter()
                .flatten()
            {
                println!(
                    "{}",
                    m.get("id").and_then(|i| i.as_str()).unwrap_or_default()
                );
            }
        }
        return Ok(0);
    }
    let config = load_config(&args.config)?;
    if args.json {
        let v: Vec<_> = config
            .models
            .iter()
            .map(|d| json!({"model_name": d.model_name, "id": d.id, "provider": d.provider.prefix(), "deployment": d.deployment, "api_base": d.api_base, "api_version": d.api_version, "rpm": d.rpm, "tpm": d.tpm}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = config
        .models
        .iter()
        .map(|d| {
            vec![
                d.model_name.clone(),
                d.id.clone(),
                format!("{}/{}", d.provider.prefix(), d.deployment),
                d.api_base.clone().unwrap_or_else(|| "-".into()),
                d.api_version.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "model",
                "deployment id",
                "upstream",
                "api_base",
                "api_version"
            ],
            &rows
        )
    );
    println!(
        "{}",
        out.dim(&format!(
            "{} model name(s), {} deployment(s), from {}",
            config.model_names().len(),
            config.models.len(),
            config.source
        ))
    );
    Ok(0)
}
