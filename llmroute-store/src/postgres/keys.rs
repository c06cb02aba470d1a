//! Virtual keys in PostgreSQL.

use std::time::SystemTime;

use async_trait::async_trait;
use llmroute_core::keys::VirtualKey;
use llmroute_core::store::{
    parse_budget_duration, unix_secs, CreatedKey, KeyStore, KeyUpdate, NewKey, Page, Paged,
    StoreError, StoreResult,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{from_secs, pg, PgStore};

const COLS: &str = "token_hash, key_alias, models, max_budget, budget_duration, budget_reset_at, \
     spend, rpm_limit, tpm_limit, expires, metadata, blocked, created_at";

fn from_row(r: &Row) -> Result<VirtualKey, tokio_postgres::Error> {
    let ts = |t: Option<SystemTime>| t.map(unix_secs);
    Ok(VirtualKey {
        token_hash: r.try_get(0)?,
        key_alias: r.try_get(1)?,
        models: r.try_get(2)?,
        max_budget: r.try_get(3)?,
        budget_duration: r.try_get(4)?,
        budget_reset_at: ts(r.try_get(5)?),
        spend: r.try_get(6)?,
        rpm_limit: r.try_get::<_, Option<i64>>(7)?.map(|v| v.max(0) as u64),
        tpm_limit: r.try_get::<_, Option<i64>>(8)?.map(|v| v.max(0) as u64),
        expires: ts(r.try_get(9)?),
        metadata: r.try_get(10)?,
        blocked: r.try_get(11)?,
        created_at: unix_secs(r.try_get(12)?),
    })
}

/// The key's fields as SQL parameters `$1..$14`, in `COLS` order then `budget_duration_secs`.
struct Params {
    rpm: Option<i64>,
    tpm: Option<i64>,
    reset_at: Option<SystemTime>,
    expires: Option<SystemTime>,
    created_at: SystemTime,
    period: Option<i64>,
}

impl Params {
    fn of(k: &VirtualKey) -> Self {
        Params {
            rpm: k.rpm_limit.map(|v| v as i64),
            tpm: k.tpm_limit.map(|v| v as i64),
            reset_at: k.budget_reset_at.map(from_secs),
            expires: k.expires.map(from_secs),
            created_at: from_secs(k.created_at),
            period: k
                .budget_duration
                .as_deref()
                .and_then(parse_budget_duration)
                .map(|d| d.as_secs() as i64),
        }
    }

    fn list<'a>(&'a self, k: &'a VirtualKey) -> [&'a (dyn ToSql + Sync); 14] {
        [
            &k.token_hash,
            &k.key_alias,
            &k.models,
            &k.max_budget,
            &k.budget_duration,
            &self.reset_at,
            &k.spend,
            &self.rpm,
            &self.tpm,
            &self.expires,
            &k.metadata,
            &k.blocked,
            &self.created_at,
            &self.period,
        ]
    }
}

impl PgStore {
    async fn insert(&self, k: &VirtualKey, action: &'static str) -> StoreResult<()> {
        let c = self.client(action).await?;
        let p = Params::of(k);
        let n = c
            .execute(
                &format!(
                    "INSERT INTO llmroute_keys ({COLS}, budget_duration_secs)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                     ON CONFLICT (token_hash) DO NOTHING"
                ),
                &p.list(k),
            )
            .await
            .map_err(pg(action))?;
        c.release();
        if n == 0 {
            return Err(StoreError::Invalid {
                field: "key",
                message: "a key with this hash already exists".into(),
            });
        }
        Ok(())
    }
}

/// Adds `$2` dollars to key `$1`, restarting an ended budget period (database clock).
pub(super) const ADD_SPEND: &str = "UPDATE llmroute_keys SET
    spend = CASE WHEN budget_reset_at <= now() THEN $2 ELSE spend + $2 END,
    budget_reset_at = CASE WHEN budget_reset_at <= now()
        THEN now() + budget_duration_secs * interval '1 second' ELSE budget_reset_at END
    WHERE token_hash = $1";

#[async_trait]
impl KeyStore for PgStore {
    async fn create_key(&self, new: NewKey) -> StoreResult<CreatedKey> {
        let (key, record) = new.into_record(SystemTime::now())?;
        self.insert(&record, "creating a key").await?;
        Ok(CreatedKey { key, record })
    }

    async fn import_key(&self, record: &VirtualKey) -> StoreResult<()> {
        self.insert(record, "importing a key").await
    }

    async fn get_key(&self, token_hash: &str) -> StoreResult<Option<VirtualKey>> {
        let c = self.client("reading a key").await?;
        let st = c
            .prepare_cached(&format!(
                "SELECT {COLS} FROM llmroute_keys WHERE token_hash = $1"
            ))
            .await
            .map_err(pg("reading a key"))?;
        let row = c
            .query_opt(&st, &[&token_hash])
            .await
            .map_err(pg("reading a key"))?;
        c.release();
        row.as_ref()
            .map(from_row)
            .transpose()
            .map_err(pg("reading a key"))
    }

    async fn update_key(&self, token_hash: &str, update: &KeyUpdate) -> StoreResult<VirtualKey> {
        const ACTION: &str = "updating a key";
        let mut c = self.client(ACTION).await?;
        let tx = c.transaction().await.map_err(pg(ACTION))?;
        let row = tx
            .query_opt(
                &format!("SELECT {COLS} FROM llmroute_keys WHERE token_hash = $1 FOR UPDATE"),
                &[&token_hash],
            )
            .await
            .map_err(pg(ACTION))?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("key with hash {token_hash}"),
            })?;
        let mut key = from_row(&row).map_err(pg(ACTION))?;
        update.apply(&mut key, SystemTime::now())?;
        let p = Params::of(&key);
        tx.execute(
            "UPDATE llmroute_keys SET key_alias = $2, models = $3, max_budget = $4, budget_duration = $5,
                budget_reset_at = $6, spend = $7, rpm_limit = $8, tpm_limit = $9, expires = $10,
                metadata = $11, blocked = $12, budget_duration_secs = $14, updated_at = now()
             WHERE token_hash = $1 AND created_at = $13",
            &p.list(&key),
        )
        .await
        .map_err(pg(ACTION))?;
        tx.commit().await.map_err(pg(ACTION))?;
        c.release();
        Ok(key)
    }

    async fn list_keys(&self, page: Page) -> StoreResult<Paged<VirtualKey>> {
        const ACTION: &str = "listing keys";
        let c = self.client(ACTION).await?;
        let total: i64 = c
            .query_one("SELECT COUNT(*) FROM llmroute_keys", &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(pg(ACTION))?;
        let rows = c
            .query(
                &format!("SELECT {COLS} FROM llmroute_keys ORDER BY created_at DESC, token_hash LIMIT $1 OFFSET $2"),
                &[&i64::from(page.limit()), &(page.offset() as i64)],
            )
            .await
            .map_err(pg(ACTION))?;
        c.release();
        let items = rows
            .iter()
            .map(from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(pg(ACTION))?;
        Ok(Paged {
            items,
            total: total as u64,
        })
    }

    async fn delete_keys(&self, token_hashes: &[String]) -> StoreResult<u64> {
        let c = self.client("deleting keys").await?;
        let n = c
            .execute(
                "DELETE FROM llmroute_keys WHERE token_hash = ANY($1)",
                &[&token_hashes],
            )
            .await
            .map_err(pg("deleting keys"))?;
        c.release();
        Ok(n)
    }

    async fn add_spend(&self, token_hash: &str, amount: f64) -> StoreResult<()> {
        let c = self.client("adding spend").await?;
        c.execute(ADD_SPEND, &[&token_hash, &amount])
            .await
            .map_err(pg("adding spend"))?;
        c.release();
        Ok(())
    }

    async fn reset_budgets(&self, now: SystemTime) -> StoreResult<u64> {
        let c = self.client("resetting budgets").await?;
        let n = c
            .execute(
                "UPDATE llmroute_keys SET spend = 0, budget_reset_at = $1 + budget_duration_secs * interval '1 second'
                 WHERE budget_reset_at <= $1",
                &[&now],
            )
            .await
            .map_err(pg("resetting budgets"))?;
        c.release();
        Ok(n)
    }
}
