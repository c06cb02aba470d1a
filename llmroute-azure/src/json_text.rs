//! Long message text written into the Azure body a word at a time.
//!
//! serde_json escapes a string byte by byte (~10 instructions a byte here); a 20 KB
//! conversation spent 42% of a proxied request's instructions in it
//! (docs/performance.md). [`Text`] escapes with `llmroute_core::json_escape` (eight
//! bytes at a time, exactly serde_json's escaping) and hands
//! the quoted result to serde_json as a raw value (which checks it again, at a fraction
//! of the cost of escaping). Short strings keep serde_json's own path.

use llmroute_core::json_escape::push_escaped;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// Strings shorter than this are written by serde_json itself.
const LONG: usize = 256;

/// A string serialized as a JSON string, long ones through [`quoted`]. Only for
/// serde_json serializers: with another format a long one would be written as
/// serde_json's raw-value wrapper.
pub(crate) struct Text<'a>(pub &'a str);

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.len() < LONG {
            return s.serialize_str(self.0);
        }
        match RawValue::from_string(quoted(self.0)) {
            Ok(raw) => raw.serialize(s),
            // Not reachable for a `str`; serde_json's own path is always right.
            Err(_) => s.serialize_str(self.0),
        }
    }
}

/// `text` as a JSON string, quotes included, escaped as serde_json escapes it.
pub(crate) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16 + 2);
    out.push('"');
    push_escaped(&mut out, text);
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_and_short_text_serialize_the_same_as_a_plain_string() {
        for text in [
            "short".to_string(),
            "a \"long\" line\twith\\escapes\n".repeat(40),
            "ünïcödé ✓ ".repeat(60),
        ] {
            assert_eq!(
                serde_json::to_string(&Text(&text)).expect("text"),
                serde_json::to_string(&text).expect("string")
            );
        }
    }
}
