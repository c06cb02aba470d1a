//! `llmroute keys create|list|info|update|revoke`, against the database directly (this
//! file) or a server's admin API ([`super::keys_server`]). Both print the same lines and
//! the same JSON.

use llmroute_core::keys::VirtualKey;
use llmroute_core::store::{KeyUpdate, NewKey, Page};
use llmroute_core::Secret;
use serde_json::{json, Value};

use crate::args::{KeyFields, KeysAction, KeysArgs};
use crate::context::{key_hash_of, open_store};
use crate::error::CliError;
use crate::output::{dollars, table, Output};
use crate::time::{format_utc, now_secs, parse_expiry};

/// Runs `llmroute keys …`.
pub async fn run(args: KeysArgs, out: &Output) -> Result<u8, CliError> {
    if let Some(server) = args.target.server.clone() {
        return super::keys_server::run(&server, args, out).await;
    }
    let store = open_store(args.target.database_url.as_deref(), &args.target.config).await?;
    match args.action {
        KeysAction::Create { fields, key } => {
            let new = new_key(&fields, key)?;
            let created = store.create_key(new).await?;
            print_created(created.key.expose(), &created.record, args.json, out);
        }
        KeysAction::List { page, size } => {
            let listed = store.list_keys(Page { page, size }).await?;
            print_list(&listed.items, listed.total, args.json, out);
        }
        KeysAction::Info { key } => {
            let hash = key_hash_of(&key);
            let found = store.get_key(&hash).await?.ok_or_else(|| not_found(&key))?;
            print_key(&found, args.json, out);
        }
        KeysAction::Update {
            key,
            fields,
            block,
            unblock,
            reset_spend,
        } => {
            let update = key_update(&fields, block, unblock, reset_spend)?;
            let updated = store.update_key(&key_hash_of(&key), &update).await?;
            print_key(&updated, args.json, out);
        }
        KeysAction::Revoke { keys } => {
            let hashes: Vec<String> = keys.iter().map(|k| key_hash_of(k)).collect();
            let n = store.delete_keys(&hashes).await?;
            print_revoked(n, hashes.len(), args.json)?;
        }
    }
    Ok(0)
}

/// "key not found" with the fix.
pub fn not_found(key: &str) -> CliError {
    CliError::Usage(format!(
        "no key {} here; `llmroute keys list` shows the keys (a key is matched by its SHA-256)",
        llmroute_core::secret::redact_key(key)
    ))
}

fn metadata(fields: &KeyFields) -> Result<Option<Value>, CliError> {
    fields
        .metadata
        .as_deref()
        .map(|m| {
            let v: Value = serde_json::from_str(m)
                .map_err(|e| CliError::Usage(format!("--metadata is not JSON: {e}")))?;
            if v.is_object() {
                Ok(v)
            } else {
                Err(CliError::Usage(
                    "--metadata must be a JSON object, e.g. '{\"team\":\"a\"}'".into(),
                ))
            }
        })
        .transpose()
}

fn expiry(fields: &KeyFields) -> Result<Option<i64>, CliError> {
    fields
        .expires
        .as_deref()
        .map(|e| parse_expiry(e, now_secs()).map_err(CliError::Usage))
        .transpose()
}

/// The new key's record from the flags.
pub fn new_key(fields: &KeyFields, key: Option<String>) -> Result<NewKey, CliError> {
    Ok(NewKey {
        key: key.map(Secret::new),
        key_alias: fields.alias.clone(),
        models: fields.models.clone().unwrap_or_default(),
        max_budget: fields.max_budget,
        budget_duration: fields.budget_duration.clone(),
        rpm_limit: fields.rpm_limit,
        tpm_limit: fields.tpm_limit,
        expires: expiry(fields)?,
        metadata: metadata(fields)?.unwrap_or(Value::Null),
        blocked: false,
    })
}

/// The changes from the flags; refuses an update that changes nothing.
pub fn key_update(
    fields: &KeyFields,
    block: bool,
    unblock: bool,
    reset_spend: bool,
) -> Result<KeyUpdate, CliError> {
    let u = KeyUpdate {
        key_alias: fields.alias.clone().map(Some),
        models: fields.models.clone(),
        max_budget: fields.max_budget.map(Some),
        budget_duration: fields.budget_duration.clone().map(Some),
        spend: reset_spend.then_some(0.0),
        rpm_limit: fields.rpm_limit.map(Some),
        tpm_limit: fields.tpm_limit.map(Some),
        expires: expiry(fields)?.map(Some),
        metadata: metadata(fields)?,
        blocked: if block {
            Some(true)
        } else if unblock {
            Some(false)
        } else {
            None
        },
    };
    let nothing = u.key_alias.is_none()
        && u.models.is_none()
        && u.max_budget.is_none()
        && u.budget_duration.is_none()
        && u.spend.is_none()
        && u.rpm_limit.is_none()
        && u.tpm_limit.is_none()
        && u.expires.is_none()
        && u.metadata.is_none()
        && u.blocked.is_none();
    if nothing {
        return Err(CliError::Usage("nothing to change: give at least one of --alias, --models, --max-budget, --budget-duration, --rpm-limit, --tpm-limit, --expires, --metadata, --block, --unblock, --reset-spend".into()));
    }
    Ok(u)
}

/// A key as JSON (LiteLLM's field names; `token` is the hash; times as RFC 3339).
pub fn key_json(k: &VirtualKey) -> Value {
    json!({
        "token": k.token_hash,
        "key_alias": k.key_alias,
        "models": k.models,
        "spend": k.spend,
        "max_budget": k.max_budget,
        "budget_duration": k.budget_duration,
        "budget_reset_at": k.budget_reset_at.map(format_utc),
        "rpm_limit": k.rpm_limit,
        "tpm_limit": k.tpm_limit,
        "expires": k.expires.map(format_utc),
        "metadata": k.metadata,
        "blocked": k.blocked,
        "created_at": format_utc(k.created_at),
    })
}

/// Prints a just-created key: the key itself once, then its record.
pub fn print_created(key: &str, record: &VirtualKey, as_json: bool, out: &Output) {
    if as_json {
        let mut v = key_json(record);
        v["key"] = json!(key);
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    println!("{} {}", out.bold("key:"), key);
    println!(
        "{}",
        out.yellow("  (shown once: store it now; llmroute keeps only its SHA-256 hash)")
    );
    print_fields(record);
}

/// Prints one key.
pub fn print_key(k: &VirtualKey, as_json: bool, _out: &Output) {
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&key_json(k)).unwrap_or_default()
        );
    } else {
        print_fields(k);
    }
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|x| x.to_string())
        .unwrap_or_else(|| "-".into())
}

fn print_fields(k: &VirtualKey) {
    let models = if k.models.is_empty() {
        "(all)".to_string()
    } else {
        k.models.join(",")
    };
    let expired = k.expires.is_some_and(|e| e <= now_secs());
    let lines = [
        ("hash", k.token_hash.clone()),
        ("alias", opt(&k.key_alias)),
        ("models", models),
        ("spend", dollars(k.spend)),
        (
            "max_budget",
            k.max_budget.map(dollars).unwrap_or_else(|| "-".into()),
        ),
        ("budget_duration", opt(&k.budget_duration)),
        (
            "budget_reset_at",
            k.budget_reset_at
                .map(format_utc)
                .unwrap_or_else(|| "-".into()),
        ),
        ("rpm_limit", opt(&k.rpm_limit)),
        ("tpm_limit", opt(&k.tpm_limit)),
        (
            "expires",
            k.expires
                .map(|e| {
                    format!(
                        "{}{}",
                        format_utc(e),
                        if expired { " (expired)" } else { "" }
                    )
                })
                .unwrap_or_else(|| "never".into()),
        ),
        ("metadata", k.metadata.to_string()),
        ("blocked", k.blocked.to_string()),
        ("created_at", format_utc(k.created_at)),
    ];
    for (name, value) in lines {
        println!("{name:<16}{value}");
    }
}

/// Prints a page of keys as a table (or JSON).
pub fn print_list(keys: &[VirtualKey], total: u64, as_json: bool, out: &Output) {
    if as_json {
        let v = json!({ "keys": keys.iter().map(key_json).collect::<Vec<_>>(), "total": total });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.token_hash.chars().take(12).collect(),
                opt(&k.key_alias),
                if k.models.is_empty() {
                    "(all)".into()
                } else {
                    k.models.join(",")
                },
                dollars(k.spend),
                k.max_budget.map(dollars).unwrap_or_else(|| "-".into()),
                opt(&k.rpm_limit),
                opt(&k.tpm_limit),
                k.expires.map(format_utc).unwrap_or_else(|| "never".into()),
                if k.blocked {
                    "blocked".into()
                } else {
                    "active".into()
                },
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["hash", "alias", "models", "spend", "budget", "rpm", "tpm", "expires", "state"],
            &rows
        )
    );
    println!("{}", out.dim(&format!("{} of {total} key(s)", keys.len())));
}

/// Prints how many keys were revoked; an error when none was found.
pub fn print_revoked(n: u64, asked: usize, as_json: bool) -> Result<(), CliError> {
    if as_json {
        println!("{}", json!({ "revoked": n, "asked": asked }));
    } else {
        println!("revoked {n} of {asked} key(s)");
    }
    if n == 0 {
        return Err(CliError::Usage(
            "no such key: nothing was revoked; `llmroute keys list` shows the keys".into(),
        ));
    }
    Ok(())
}
