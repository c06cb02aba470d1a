//! Percent-encoding of one URL component (a path segment, a query value, a password).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes everything but RFC 3986 unreserved characters, so the text survives
/// as one component of a URL: `#`, `%`, `/`, `@`, `:`, `?` and spaces included.
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
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
