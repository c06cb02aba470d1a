//! Per-request checks of a virtual key, each failure with its own status, code and
//! message: blocked, expired, model not allowed, budget exceeded.

use std::time::SystemTime;

use llmroute_core::keys::VirtualKey;
use llmroute_core::store::unix_secs;
use llmroute_core::Error;

/// How a key is named in messages: its alias, or the start of its hash.
pub fn key_name(key: &VirtualKey) -> String {
    match &key.key_alias {
        Some(a) => format!("'{a}'"),
        None => format!(
            "with hash {}…",
            key.token_hash.get(..12).unwrap_or(&key.token_hash)
        ),
    }
}

/// The spend that counts now: 0 when the budget period has already ended.
pub fn effective_spend(key: &VirtualKey, now: SystemTime) -> f64 {
    match key.budget_reset_at {
        Some(reset) if reset <= unix_secs(now) => 0.0,
        _ => key.spend,
    }
}

/// Refuses a blocked key (403 `key_blocked`) or an expired one (401 `key_expired`).
pub fn check_key(key: &VirtualKey, now: SystemTime) -> Result<(), Error> {
    if key.blocked {
        return Err(Error::Forbidden {
            message: format!("key {} is blocked; an admin can unblock it with POST /key/update {{\"blocked\": false}}", key_name(key)),
            code: "key_blocked",
        });
    }
    if let Some(exp) = key.expires.filter(|e| *e <= unix_secs(now)) {
        return Err(Error::Unauthorized {
            message: format!(
                "key {} expired at {exp} (Unix time); ask an admin for a new key or to extend it",
                key_name(key)
            ),
            code: "key_expired",
        });
    }
    Ok(())
}

/// Refuses a model the key may not call (403 `model_not_allowed`).
pub fn check_model(key: &VirtualKey, model: &str) -> Result<(), Error> {
    if key.allows_model(model) {
        return Ok(());
    }
    Err(Error::Forbidden {
        message: format!(
            "key {} may not call model '{model}'; it may call: {}",
            key_name(key),
            key.models.join(", ")
        ),
        code: "model_not_allowed",
    })
}

/// Refuses a key whose spend has reached its budget (400 `budget_exceeded`, as LiteLLM).
pub fn check_budget(key: &VirtualKey, now: SystemTime) -> Result<(), Error> {
    check_budget_with(key, now, 0.0)
}

/// Like [`check_budget`], counting `pending` dollars (reserved, not yet written) as spent
/// and refusing when spend + pending would pass the budget.
pub fn check_budget_with(key: &VirtualKey, now: SystemTime, pending: f64) -> Result<(), Error> {
    let Some(max) = key.max_budget else {
        return Ok(());
    };
    let spent = effective_spend(key, now);
    if spent >= max || (pending > 0.0 && spent + pending > max) {
        let resets = match (&key.budget_duration, key.budget_reset_at) {
            (Some(d), Some(at)) => format!("; the {d} budget period resets at {at} (Unix time)"),
            _ => "; an admin can raise max_budget with POST /key/update".to_string(),
        };
        return Err(Error::BudgetExceeded {
            message: format!(
                "budget exceeded for key {}: spent ${spent:.6} (+${pending:.6} in flight) of max_budget ${max:.6}{resets}",
                key_name(key)
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn each_failure_has_its_code() {
        let mut k = VirtualKey {
            key_alias: Some("team-a".into()),
            models: vec!["gpt-4o".into()],
            ..Default::default()
        };
        assert!(check_key(&k, at(100)).is_ok());
        k.expires = Some(50);
        assert_eq!(
            check_key(&k, at(100)).err().and_then(|e| e.code()),
            Some("key_expired")
        );
        k.blocked = true;
        let e = check_key(&k, at(100)).expect_err("blocked");
        assert_eq!((e.status(), e.code()), (403, Some("key_blocked")));
        let e = check_model(&k, "gpt-4o-mini").expect_err("not allowed");
        assert_eq!(e.code(), Some("model_not_allowed"));
        assert!(e.to_string().contains("gpt-4o") && e.to_string().contains("team-a"));
    }

    #[test]
    fn budget_counts_the_current_period_only() {
        let mut k = VirtualKey {
            max_budget: Some(1.0),
            spend: 1.0,
            ..Default::default()
        };
        let e = check_budget(&k, at(10)).expect_err("over");
        assert_eq!((e.status(), e.code()), (400, Some("budget_exceeded")));
        k.budget_duration = Some("1d".into());
        k.budget_reset_at = Some(5);
        assert!(
            check_budget(&k, at(10)).is_ok(),
            "period over: spend restarts"
        );
        k.budget_reset_at = Some(50);
        k.spend = 0.5;
        assert!(check_budget_with(&k, at(10), 0.4).is_ok());
        assert!(check_budget_with(&k, at(10), 0.6).is_err());
    }
}
