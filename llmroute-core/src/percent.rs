//! Percent-encoding of one URL component (a path segment, a query value, a password).

/// Percent-encodes everything but RFC 3986 unreserved characters, so the text survives
/// as one component of a URL: `#`, `%`, `/`, `@`, `:`, `?` and spaces included.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreserved_characters_stay_as_they_are() {
        assert_eq!(encode_component("a-Z.0_~"), "a-Z.0_~");
        assert_eq!(
            encode_component("p#s%w/d@:? é"),
            "p%23s%25w%2Fd%40%3A%3F%20%C3%A9"
        );
    }
}
