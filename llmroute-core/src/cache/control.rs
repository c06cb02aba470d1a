//! Per-request cache control: the `Cache-Control` header and LiteLLM's body field
//! `"cache": {"no-cache": true, "no-store": true, "ttl": 60, "s-maxage": 30}`.

use std::time::Duration;

use serde_json::Value;

use crate::types::ChatRequest;

/// What a request allows the cache to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheControl {
    /// A cached answer may be served (`no-cache` turns this off).
    pub read: bool,
    /// The answer may be stored (`no-store` turns this off).
    pub write: bool,
    /// Lifetime of the stored answer instead of the configured one (body `cache.ttl`).
    pub ttl: Option<Duration>,
    /// Only serve answers at most this old (header `max-age=N`, body `cache.s-maxage`).
    pub max_age: Option<Duration>,
}

impl Default for CacheControl {
    fn default() -> Self {
        CacheControl {
            read: true,
            write: true,
            ttl: None,
            max_age: None,
        }
    }
}

impl CacheControl {
    /// Whether a cached answer of this age may be served.
    pub fn accepts_age(&self, age: Duration) -> bool {
        self.read && self.max_age.is_none_or(|max| age <= max)
    }
}

/// Reads the request's cache controls: `cache_control_header` is the value of the
/// `Cache-Control` header (comma-separated directives, any case), and the body's
/// `cache` object is LiteLLM's. A directive in either place applies.
pub fn cache_control(cache_control_header: Option<&str>, req: &ChatRequest) -> CacheControl {
    let mut cc = CacheControl::default();
    for directive in cache_control_header.unwrap_or("").split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (
                n.trim().to_string(),
                Some(v.trim().trim_matches('"').to_string()),
            ),
            None => (directive.clone(), None),
        };
        match name.as_str() {
            "no-cache" => cc.read = false,
            "no-store" => cc.write = false,
            "max-age" | "s-maxage" => {
                if let Some(secs) = value.and_then(|v| v.parse::<u64>().ok()) {
                    cc.max_age = Some(Duration::from_secs(secs));
                }
            }
            _ => {}
        }
    }
    if let Some(Value::Object(body)) = req.extra.get("cache") {
        if body.get("no-cache").is_some_and(truthy) {
            cc.read = false;
        }
        if body.get("no-store").is_some_and(truthy) {
            cc.write = false;
        }
        if let Some(ttl) = body.get("ttl").and_then(seconds) {
            cc.ttl = Some(ttl);
        }
        if let Some(max) = body.get("s-maxage").and_then(seconds) {
            cc.max_age = Some(max);
        }
    }
    cc
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        _ => false,
    }
}

fn seconds(v: &Value) -> Option<Duration> {
    let secs = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Message;
    use serde_json::json;

    fn with_cache(cache: Value) -> ChatRequest {
        let mut r = ChatRequest::new("m", vec![Message::user("hi")]);
        r.extra.insert("cache".into(), cache);
        r
    }

    #[test]
    fn absurd_ttls_are_ignored_not_a_panic() {
        for ttl in [json!(1e20), json!("1e300"), json!(-5), json!(f64::MAX)] {
            let cc = cache_control(
                None,
                &with_cache(json!({"ttl": ttl.clone(), "s-maxage": ttl})),
            );
            assert_eq!((cc.ttl, cc.max_age), (None, None));
        }
    }

    #[test]
    fn no_directives_allow_both() {
        let r = ChatRequest::new("m", vec![]);
        assert_eq!(cache_control(None, &r), CacheControl::default());
        assert_eq!(cache_control(Some("private"), &r), CacheControl::default());
    }

    #[test]
    fn header_directives() {
        let r = ChatRequest::new("m", vec![]);
        let cc = cache_control(Some("No-Cache"), &r);
        assert!(!cc.read && cc.write);
        let cc = cache_control(Some("no-store"), &r);
        assert!(cc.read && !cc.write);
        let cc = cache_control(Some("no-cache, no-store"), &r);
        assert!(!cc.read && !cc.write);
        let cc = cache_control(Some("max-age=30"), &r);
        assert_eq!(cc.max_age, Some(Duration::from_secs(30)));
        assert!(
            cc.accepts_age(Duration::from_secs(30)) && !cc.accepts_age(Duration::from_secs(31))
        );
    }

    #[test]
    fn litellm_body_field() {
        let cc = cache_control(None, &with_cache(json!({"no-cache": true})));
        assert!(!cc.read && cc.write);
        let cc = cache_control(None, &with_cache(json!({"no-store": true})));
        assert!(cc.read && !cc.write);
        let cc = cache_control(
            None,
            &with_cache(json!({"no-cache": false, "ttl": 60, "s-maxage": "5"})),
        );
        assert!(cc.read && cc.write);
        assert_eq!(cc.ttl, Some(Duration::from_secs(60)));
        assert_eq!(cc.max_age, Some(Duration::from_secs(5)));
        // Header and body combine.
        let cc = cache_control(Some("no-store"), &with_cache(json!({"no-cache": true})));
        assert!(!cc.read && !cc.write);
    }
}
