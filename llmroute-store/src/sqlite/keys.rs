//! Virtual keys in SQLite.

use std::time::SystemTime;

use async_trait::async_trait;
use llmroute_core::keys::VirtualKey;
use llmroute_core::store::{
    parse_budget_duration, unix_secs, CreatedKey, KeyStore, KeyUpdate, NewKey, Page, Paged,
    StoreError, StoreResult,
};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::{q, SqliteStore};

const COLS: &str = "token_hash, key_alias, models, max_budget, budget_duration, budget_reset_at, \
     spend, rpm_limit, tpm_limit, expires, metadata, blocked, created_at";

/// Adds `?2` dollars to key `?1` at time `?3`, restarting an ended budget period.
pub(super) const ADD_SPEND: &str = "UPDATE llmroute_keys SET
    spend = CASE WHEN budget_reset_at IS NOT NULL AND budget_reset_at <= ?3 THEN ?2 ELSE spend + ?2 END,
    budget_reset_at = CASE WHEN budget_reset_at IS NOT NULL AND budget_reset_at <= ?3
        THEN ?3 + budget_duration_secs ELSE budget_reset_at END
    WHERE token_hash = ?1";

fn from_row(r: &Row<'_>) -> rusqlite::Result<VirtualKey> {
    let models: String = r.get(2)?;
    let metadata: String = r.get(10)?;
    Ok(VirtualKey {
        token_hash: r.get(0)?,
        key_alias: r.get(1)?,
        models: serde_json::from_str(&models).unwrap_or_default(),
        max_budget: r.get(3)?,
        budget_duration: r.get(4)?,
        budget_reset_at: r.get(5)?,
        spend: r.get(6)?,
        rpm_limit: r.get::<_, Option<i64>>(7)?.map(|v| v.max(0) as u64),
        tpm_limit: r.get::<_, Option<i64>>(8)?.map(|v| v.max(0) as u64),
        expires: r.get(9)?,
        metadata: serde_json::from_str(&metadata).unwrap_or_default(),
        blocked: r.get(11)?,
        created_at: r.get(12)?,
    })
}

fn get(c: &Connection, hash: &str) -> StoreResult<Option<VirtualKey>> {
    c.query_row(
        &format!("SELECT {COLS} FROM llmroute_keys WHERE token_hash = ?1"),
        [hash],
        from_row,
    )
    .optional()
    .map_err(q("reading a key"))
}

fn insert(c: &Connection, k: &VirtualKey) -> StoreResult<()> {
    let period = k
        .budget_duration
        .as_deref()
        .and_then(parse_budget_duration)
        .map(|d| d.as_secs() as i64);
    let n = c
        .execute(
            &format!(
                "INSERT OR IGNORE INTO llmroute_keys ({COLS}, budget_duration_secs, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?13)"
            ),
            params![
                k.token_hash,
                k.key_alias,
                serde_json::to_string(&k.models).unwrap_or_else(|_| "[]".into()),
                k.max_budget,
                k.budget_duration,
                k.budget_reset_at,
                k.spend,
                k.rpm_limit.map(|v| v as i64),
                k.tpm_limit.map(|v| v as i64),
                k.expires,
                k.metadata.to_string(),
                k.blocked,
                k.created_at,
                period,
            ],
        )
        .map_err(q("inserting a key"))?;
    if n == 0 {
        return Err(StoreError::Invalid {
            field: "key",
            message: "a key with this hash already exists".into(),
        });
    }
    Ok(())
}

fn write(c: &Connection, k: &VirtualKey, now: i64) -> StoreResult<()> {
    let period = k
        .budget_duration
        .as_deref()
        .and_then(parse_budget_duration)
        .map(|d| d.as_secs() as i64);
    c.execute(
        "UPDATE llmroute_keys SET key_alias = ?2, models = ?3, max_budget = ?4, budget_duration = ?5,
            budget_reset_at = ?6, spend = ?7, rpm_limit = ?8, tpm_limit = ?9, expires = ?10,
            metadata = ?11, blocked = ?12, budget_duration_secs = ?13, updated_at = ?14
         WHERE token_hash = ?1",
        params![
            k.token_hash,
            k.key_alias,
            serde_json::to_string(&k.models).unwrap_or_else(|_| "[]".into()),
            k.max_budget,
            k.budget_duration,
            k.budget_reset_at,
            k.spend,
            k.rpm_limit.map(|v| v as i64),
            k.tpm_limit.map(|v| v as i64),
            k.expires,
            k.metadata.to_string(),
            k.blocked,
            period,
            now,
        ],
    )
    .map_err(q("updating a key"))?;
    Ok(())
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn create_key(&self, new: NewKey) -> StoreResult<CreatedKey> {
        let (key, record) = new.into_record(SystemTime::now())?;
        let rec = record.clone();
        self.call("creating a key", move |c| insert(c, &rec))
            .await?;
        Ok(CreatedKey { key, record })
    }

    async fn import_key(&self, record: &VirtualKey) -> StoreResult<()> {
        let rec = record.clone();
        self.call("importing a key", move |c| insert(c, &rec)).await
    }

    async fn get_key(&self, token_hash: &str) -> StoreResult<Option<VirtualKey>> {
        let hash = token_hash.to_string();
        self.call("reading a key", move |c| get(c, &hash)).await
    }

    async fn update_key(&self, token_hash: &str, update: &KeyUpdate) -> StoreResult<VirtualKey> {
        let (hash, update) = (token_hash.to_string(), update.clone());
        self.call("updating a key", move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(q("updating a key"))?;
            let now = SystemTime::now();
            let mut key = get(&tx, &hash)?.ok_or_else(|| StoreError::NotFound {
                what: format!("key with hash {hash}"),
            })?;
            update.apply(&mut key, now)?;
            write(&tx, &key, unix_secs(now))?;
            tx.commit().map_err(q("updating a key"))?;
            Ok(key)
        })
        .await
    }

    async fn list_keys(&self, page: Page) -> StoreResult<Paged<VirtualKey>> {
        self.call("listing keys", move |c| {
            let total: i64 = c.query_row("SELECT COUNT(*) FROM llmroute_keys", [], |r| r.get(0)).map_err(q("counting keys"))?;
            let mut st = c
                .prepare(&format!(
                    "SELECT {COLS} FROM llmroute_keys ORDER BY created_at DESC, token_hash LIMIT ?1 OFFSET ?2"
                ))
                .map_err(q("listing keys"))?;
            let items = st
                .query_map(params![page.limit(), page.offset() as i64], from_row)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(q("listing keys"))?;
            Ok(Paged { items, total: total as u64 })
        })
        .await
    }

    async fn delete_keys(&self, token_hashes: &[String]) -> StoreResult<u64> {
        let hashes = token_hashes.to_vec();
        self.call("deleting keys", move |c| {
            let tx = c.transaction().map_err(q("deleting keys"))?;
            let mut n = 0;
            for h in &hashes {
                n += tx
                    .execute("DELETE FROM llmroute_keys WHERE token_hash = ?1", [h])
                    .map_err(q("deleting keys"))? as u64;
            }
            tx.commit().map_err(q("deleting keys"))?;
            Ok(n)
        })
        .await
    }

    async fn add_spend(&self, token_hash: &str, amount: f64) -> StoreResult<()> {
        let hash = token_hash.to_string();
        let now = unix_secs(SystemTime::now());
        self.call("adding spend", move |c| {
            c.execute(ADD_SPEND, params![hash, amount, now])
                .map_err(q("adding spend"))?;
            Ok(())
        })
        .await
    }

    async fn reset_budgets(&self, now: SystemTime) -> StoreResult<u64> {
        let now = unix_secs(now);
        self.call("resetting budgets", move |c| {
            let n = c
                .execute(
                    "UPDATE llmroute_keys SET spend = 0, budget_reset_at = ?1 + budget_duration_secs
                     WHERE budget_reset_at IS NOT NULL AND budget_reset_at <= ?1",
                    [now],
                )
                .map_err(q("resetting budgets"))?;
            Ok(n as u64)
        })
        .await
    }
}
