//! `llmroute import-litellm --from postgres://…`: carries a LiteLLM deployment's virtual
//! keys (limits, budgets, spend) and optionally its spend logs into llmroute's store.
//!
//! LiteLLM keeps the SHA-256 hex of each key, as llmroute does, so the keys users hold
//! keep working. Idempotent: a key already in llmroute is left alone, a log whose
//! request id is stored is skipped. Importing logs never changes a key's spend: the
//! spend LiteLLM recorded on the key is the one that counts.

use std::collections::HashMap;
use std::time::Duration;

use llmroute_core::store::KeyUpdate;
use serde::Serialize;

use super::import_rows::{read_keys, read_spend_logs};
use crate::args::ImportArgs;
use crate::context::open_store;
use crate::error::CliError;
use crate::output::Output;

/// What an import did (or, with `--dry-run`, would do).
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    /// Nothing was written.
    pub dry_run: bool,
    /// Keys in LiteLLM.
    pub keys_found: usize,
    /// Keys added to llmroute.
    pub keys_imported: usize,
    /// Keys already in llmroute, left as they are.
    pub keys_already_present: usize,
    /// Spend logs in LiteLLM (0 without `--spend-logs`).
    pub logs_found: usize,
    /// Spend logs added (already-imported ones are skipped).
    pub logs_imported: u64,
}

/// Runs `llmroute import-litellm`.
pub async fn run(args: ImportArgs, out: &Output) -> Result<u8, CliError> {
    let source =
        crate::pg::parse(&args.from).map_err(|e| CliError::Usage(format!("--from: {e}")))?;
    let client = crate::pg::connect(&source, Duration::from_secs(10))
        .await
        .map_err(|e| {
            CliError::Other(format!(
                "connecting to the LiteLLM database at {}: {e}",
                source.display
            ))
        })?;
    let keys = read_keys(&client).await.map_err(CliError::Other)?;
    let logs = if args.spend_logs {
        read_spend_logs(&client).await.map_err(CliError::Other)?
    } else {
        Vec::new()
    };
    let store = open_store(args.database_url.as_deref(), &args.config).await?;
    let mut report = ImportReport {
        dry_run: args.dry_run,
        keys_found: keys.len(),
        logs_found: logs.len(),
        ..Default::default()
    };
    for key in &keys {
        if store.get_key(&key.token_hash).await?.is_some() {
            report.keys_already_present += 1;
            continue;
        }
        if !args.dry_run {
            store.import_key(key).await?;
        }
        report.keys_imported += 1;
    }
    if !logs.is_empty() && !args.dry_run {
        // insert_logs adds each log's cost to its key; LiteLLM's key spend already counts
        // it, so put every touched key's spend back afterwards.
        let mut before: HashMap<String, f64> = HashMap::new();
        for hash in logs.iter().filter_map(|l| l.key_hash.as_ref()) {
            if !before.contains_key(hash) {
                if let Some(k) = store.get_key(hash).await? {
                    before.insert(hash.clone(), k.spend);
                }
            }
        }
        for batch in logs.chunks(500) {
            report.logs_imported += store.insert_logs(batch).await?;
        }
        for (hash, spend) in before {
            store
                .update_key(
                    &hash,
                    &KeyUpdate {
                        spend: Some(spend),
                        ..Default::default()
                    },
                )
                .await?;
        }
    }
    print_report(&report, &store.describe(), args.json, out);
    Ok(0)
}

fn print_report(r: &ImportReport, target: &str, as_json: bool, out: &Output) {
    if as_json {
        println!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
        return;
    }
    let verb = if r.dry_run {
        "would import"
    } else {
        "imported"
    };
    println!(
        "{} {} of {} LiteLLM key(s) into {target}; {} already present (left unchanged)",
        out.bold(verb),
        r.keys_imported,
        r.keys_found,
        r.keys_already_present
    );
    if r.logs_found > 0 {
        if r.dry_run {
            println!(
                "{verb} up to {} spend log(s) (those already imported are skipped)",
                r.logs_found
            );
        } else {
            println!(
                "{verb} {} of {} spend log(s); the rest were already there",
                r.logs_imported, r.logs_found
            );
        }
    }
    if r.dry_run {
        println!(
            "{}",
            out.yellow("dry run: nothing was written; run again without --dry-run to import")
        );
    }
}
