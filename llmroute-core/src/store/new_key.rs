//! Creating and changing keys: key generation, budget periods, [`NewKey`] and
//! [`KeyUpdate`], shared by every backend so they validate alike.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::{distributions::Alphanumeric, rngs::OsRng, Rng};

use super::{StoreError, StoreResult};
use crate::auth::hash_key;
use crate::keys::VirtualKey;
use crate::secret::Secret;

/// Unix seconds of a time (negative before 1970).
pub fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Unix milliseconds of a time.
pub fn unix_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Parses a LiteLLM budget period: `30s`, `30m`, `1h`, `7d`, `1w`, `1mo` (30 days).
///
/// ```
/// use llmroute_core::store::parse_budget_duration;
/// assert_eq!(parse_budget_duration("30d").map(|d| d.as_secs()), Some(30 * 86400));
/// assert_eq!(parse_budget_duration("soon"), None);
/// ```
pub fn parse_budget_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "mo" => 30 * 86_400,
        _ => return None,
    };
    n.checked_mul(secs).map(Duration::from_secs)
}

fn checked_duration(value: Option<&str>) -> StoreResult<Option<Duration>> {
    match value {
        None => Ok(None),
        Some(v) => parse_budget_duration(v).map(Some).ok_or_else(|| StoreError::Invalid {
            field: "budget_duration",
            message: format!("budget_duration '{v}' is not a period; use a number and a unit: 30s, 30m, 1h, 7d, 1w or 1mo"),
        }),
    }
}

/// A new virtual key: `sk-` and 40 random letters and digits from the OS (≈238 bits).
pub fn generate_key() -> Secret {
    let body: String = OsRng
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    Secret::new(format!("sk-{body}"))
}

/// What `POST /key/generate` asks for (LiteLLM's field names).
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    /// A caller-chosen key; generated when `None`. Must start with `sk-`.
    pub key: Option<Secret>,
    /// A readable name.
    pub key_alias: Option<String>,
    /// Model groups the key may call; empty means all.
    pub models: Vec<String>,
    /// Dollars per budget period (or in all).
    pub max_budget: Option<f64>,
    /// Budget period (`30d`, `1h`, ...).
    pub budget_duration: Option<String>,
    /// Requests per minute.
    pub rpm_limit: Option<u64>,
    /// Tokens per minute.
    pub tpm_limit: Option<u64>,
    /// Expiry (Unix seconds).
    pub expires: Option<i64>,
    /// Free-form metadata (`null` becomes `{}`).
    pub metadata: serde_json::Value,
    /// Create the key blocked.
    pub blocked: bool,
}

impl NewKey {
    /// The plaintext key and the record to insert, created at `now` (validated).
    pub fn into_record(self, now: SystemTime) -> StoreResult<(Secret, VirtualKey)> {
        let key = self.key.unwrap_or_else(generate_key);
        if !key.expose().starts_with("sk-") || key.expose().len() < 12 {
            return Err(StoreError::Invalid {
                field: "key",
                message: "a chosen key must start with 'sk-' and be at least 12 characters long"
                    .into(),
            });
        }
        let period = checked_duration(self.budget_duration.as_deref())?;
        let now_s = unix_secs(now);
        let record = VirtualKey {
            token_hash: hash_key(key.expose()),
            key_alias: self.key_alias,
            models: self.models,
            max_budget: self.max_budget,
            budget_reset_at: period.map(|p| now_s + p.as_secs() as i64),
            budget_duration: self.budget_duration,
            spend: 0.0,
            rpm_limit: self.rpm_limit,
            tpm_limit: self.tpm_limit,
            expires: self.expires,
            metadata: if self.metadata.is_null() {
                serde_json::json!({})
            } else {
                self.metadata
            },
            blocked: self.blocked,
            created_at: now_s,
        };
        Ok((key, record))
    }
}

/// A key just created: the plaintext (shown once, never stored) and its record.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The `sk-...` key to hand to the caller.
    pub key: Secret,
    /// What was stored.
    pub record: VirtualKey,
}

/// Changes to a key; `None` leaves a field alone, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct KeyUpdate {
    /// New alias.
    pub key_alias: Option<Option<String>>,
    /// New allowed models.
    pub models: Option<Vec<String>>,
    /// New budget.
    pub max_budget: Option<Option<f64>>,
    /// New budget period (restarts the period now).
    pub budget_duration: Option<Option<String>>,
    /// Set the spend (e.g. 0 to forgive).
    pub spend: Option<f64>,
    /// New rpm limit.
    pub rpm_limit: Option<Option<u64>>,
    /// New tpm limit.
    pub tpm_limit: Option<Option<u64>>,
    /// New expiry (Unix seconds).
    pub expires: Option<Option<i64>>,
    /// New metadata (replaces the old).
    pub metadata: Option<serde_json::Value>,
    /// Block or unblock.
    pub blocked: Option<bool>,
}

impl KeyUpdate {
    /// Applies the changes to `key` at `now` (validated; the period restarts when it changes).
    pub fn apply(&self, key: &mut VirtualKey, now: SystemTime) -> StoreResult<()> {
        if let Some(d) = &self.budget_duration {
            let period = checked_duration(d.as_deref())?;
            key.budget_reset_at = period.map(|p| unix_secs(now) + p.as_secs() as i64);
            key.budget_duration = d.clone();
        }
        macro_rules! set {
            ($($f:ident),*) => { $(if let Some(v) = &self.$f { key.$f = v.clone(); })* };
        }
        set!(
            key_alias, models, max_budget, spend, rpm_limit, tpm_limit, expires, metadata, blocked
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Page;

    #[test]
    fn generated_keys_are_long_unique_and_hashed() {
        let (a, b) = (generate_key(), generate_key());
        assert!(a.expose().starts_with("sk-") && a.expose().len() == 43);
        assert_ne!(a, b);
        let (key, rec) = NewKey {
            budget_duration: Some("1h".into()),
            ..Default::default()
        }
        .into_record(UNIX_EPOCH + Duration::from_secs(1000))
        .expect("valid");
        assert_eq!(rec.token_hash, hash_key(key.expose()));
        assert_eq!(rec.budget_reset_at, Some(4600));
        assert_eq!(rec.metadata, serde_json::json!({}));
    }

    #[test]
    fn bad_period_and_short_chosen_key_are_refused() {
        let e = NewKey {
            budget_duration: Some("7x".into()),
            ..Default::default()
        }
        .into_record(SystemTime::now());
        assert!(matches!(
            e,
            Err(StoreError::Invalid {
                field: "budget_duration",
                ..
            })
        ));
        let e = NewKey {
            key: Some(Secret::new("pk-123")),
            ..Default::default()
        }
        .into_record(SystemTime::now());
        assert!(matches!(e, Err(StoreError::Invalid { field: "key", .. })));
        assert_eq!(
            parse_budget_duration("1mo"),
            Some(Duration::from_secs(30 * 86400))
        );
        assert_eq!(parse_budget_duration("0d"), None);
    }

    #[test]
    fn update_clears_and_restarts_period() {
        let mut k = VirtualKey {
            max_budget: Some(5.0),
            key_alias: Some("a".into()),
            ..Default::default()
        };
        let u = KeyUpdate {
            max_budget: Some(None),
            budget_duration: Some(Some("1d".into())),
            ..Default::default()
        };
        u.apply(&mut k, UNIX_EPOCH).expect("apply");
        assert_eq!(
            (k.max_budget, k.budget_reset_at, k.key_alias.as_deref()),
            (None, Some(86400), Some("a"))
        );
        assert_eq!(Page { page: 3, size: 20 }.offset(), 40);
    }
}
