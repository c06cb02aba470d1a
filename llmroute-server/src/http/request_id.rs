//! The id every request gets: the caller's `x-request-id` when it sent a sane one,
//! else a new one that sorts by time.
//!
//! The id is the request log's primary key, in SQLite and in PostgreSQL. A random id
//! lands on a random page of that index, so every logged request dirtied a page of its
//! own: a batch of 1,000 rows wrote ~1,000 index pages (4 KiB each, two `pwrite`s per
//! page in SQLite's WAL). An id that starts with the time appends to the index instead
//! (docs/performance.md).

use http::HeaderMap;

/// The caller's `x-request-id` when it is non-empty, at most 128 characters and
/// printable ASCII without spaces; otherwise a new id from [`new_request_id`].
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(new_request_id)
}

/// A new id: `req-`, then 32 lowercase hex digits: the milliseconds since the Unix
/// epoch (12 digits, as in a UUIDv7), then 80 random bits. Ids made later sort after
/// ids made earlier (to the millisecond); two ids collide with odds of 2^-80 per
/// millisecond.
pub fn new_request_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let random: u128 = rand::random();
    format!(
        "req-{:012x}{:020x}",
        millis & 0xffff_ffff_ffff,
        random >> 48
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_32_hex_digits_and_sort_by_time() {
        let first = new_request_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let ids: Vec<String> = (0..1000).map(|_| new_request_id()).collect();
        for id in std::iter::once(&first).chain(&ids) {
            let hex = id.strip_prefix("req-").expect("req- prefix");
            assert_eq!(hex.len(), 32, "{id}");
            assert!(
                hex.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "{id}"
            );
        }
        assert!(
            ids.iter().all(|id| id > &first),
            "an id made later sorts after"
        );
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            ids.len(),
            "1,000 ids within a few ms are distinct"
        );
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as u64;
        let stamped = u64::from_str_radix(&ids[999][4..16], 16).expect("hex time");
        assert!(now_ms.abs_diff(stamped) < 5_000, "{stamped} vs {now_ms}");
    }

    #[test]
    fn a_sane_caller_id_is_kept_and_anything_else_replaced() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert("x-request-id", v.parse().expect("header value"));
            request_id(&h)
        };
        assert_eq!(with("trace-abc-123"), "trace-abc-123");
        for bad in ["", "has space", &"x".repeat(129)] {
            let id = with(bad);
            assert!(id.starts_with("req-") && id.len() == 36, "{bad:?} -> {id}");
        }
        assert!(request_id(&HeaderMap::new()).starts_with("req-"));
    }
}
