//! JSON string escaping, a word at a time, exactly as serde_json escapes.
//!
//! serde_json escapes byte by byte (~10 instructions a byte); long message text and
//! log lines are escaped here instead: eight bytes are checked at once for a byte that
//! needs escaping, and the runs between such bytes are copied whole.

/// Appends `text` escaped for the inside of a JSON string, as serde_json escapes it:
/// `"` and `\` with a backslash, `\b \f \n \r \t` by name, other bytes below 0x20 as
/// `\u00XX`.
pub fn push_escaped(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let mut start = 0;
    while let Some(found) = next_special(&bytes[start..]) {
        let i = start + found;
        out.push_str(&text[start..i]);
        push_escape(out, bytes[i]);
        start = i + 1;
    }
    out.push_str(&text[start..]);
}

/// Where the first byte that needs escaping is (`"`, `\` or below 0x20).
fn next_special(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let word = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        // The classic zero-byte test marks a byte's high bit; bytes above a real match
        // may be marked too, never below it, so the lowest mark is the first match.
        let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
        let quote = zero(word ^ (ONES * u64::from(b'"')));
        let backslash = zero(word ^ (ONES * u64::from(b'\\')));
        // Below 0x20: subtracting 0x20 borrows into the high bit, for ASCII bytes only.
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
        let marks = quote | backslash | control;
        if marks != 0 {
            return Some(at + marks.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|found| at + found)
}

fn push_escape(out: &mut String, byte: u8) {
    match byte {
        b'"' => out.push_str("\\\""),
        b'\\' => out.push_str("\\\\"),
        b'\n' => out.push_str("\\n"),
        b'\r' => out.push_str("\\r"),
        b'\t' => out.push_str("\\t"),
        0x08 => out.push_str("\\b"),
        0x0c => out.push_str("\\f"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn escapes_exactly_as_serde_json_does() {
        let mut rng = StdRng::seed_from_u64(5);
        // Quotes, backslashes, every control byte, their neighbours, DEL, and
        // multi-byte characters (whose bytes are all >= 0x80).
        let mut alphabet: Vec<char> = (0u8..0x20).map(char::from).collect();
        alphabet.extend([
            '"', '\\', '!', '#', '[', ']', ' ', 'a', '\u{7f}', 'é', '✓', '😀',
        ]);
        for _ in 0..3000 {
            let len = rng.gen_range(0..120);
            let text: String = (0..len)
                .map(|_| match rng.gen_range(0..4) {
                    0 => alphabet[rng.gen_range(0..alphabet.len())],
                    _ => 'x',
                })
                .collect();
            let mut quoted = String::from('"');
            push_escaped(&mut quoted, &text);
            quoted.push('"');
            assert_eq!(
                quoted,
                serde_json::to_string(&text).expect("json"),
                "{text:?}"
            );
        }
    }
}
