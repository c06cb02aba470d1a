//! A string that never shows itself in `Debug`, `Display` or logs.

use std::fmt;

/// A credential: an API key, a password, a database URL with a password in it.
///
/// `Debug` and `Display` print `[REDACTED]`; read the value with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself. Call only where it is sent or compared, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A hint safe to show an operator: the first 3 and last 4 characters of a long
    /// key (`sk-...a1b2`), nothing of a short one.
    pub fn hint(&self) -> String {
        redact_key(&self.0)
    }
}

/// A hint of a key that is safe to show: `sk-...a1b2` for long keys, `***` otherwise.
pub fn redact_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        return "***".to_string();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}...{tail}")
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_itself() {
        let s = Secret::new("sk-very-secret-value-1234");
        assert_eq!(format!("{s:?} {s}"), "[REDACTED] [REDACTED]");
        assert_eq!(s.hint(), "sk-...1234");
        assert_eq!(Secret::new("short").hint(), "***");
    }
}
