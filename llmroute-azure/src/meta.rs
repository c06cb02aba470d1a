//! Reading Azure's response headers into [`UpstreamMeta`].

use llmroute_core::UpstreamMeta;
use reqwest::header::HeaderMap;

/// The value of a header as text, when present and printable.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Request id, remaining rate-limit headroom and region from a response.
///
/// `x-ratelimit-remaining-*` values that are not non-negative integers (Azure has sent
/// `-1`) are treated as unknown.
pub fn upstream_meta(headers: &HeaderMap, dropped_params: Vec<&'static str>) -> UpstreamMeta {
    let number = |name: &str| header(headers, name).and_then(|v| v.parse::<u64>().ok());
    UpstreamMeta {
        request_id: header(headers, "apim-request-id")
            .or_else(|| header(headers, "x-request-id"))
            .map(str::to_string),
        remaining_requests: number("x-ratelimit-remaining-requests"),
        remaining_tokens: number("x-ratelimit-remaining-tokens"),
        region: header(headers, "x-ms-region").map(str::to_string),
        dropped_params,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reads_ids_and_headroom() {
        let mut h = HeaderMap::new();
        h.insert("apim-request-id", HeaderValue::from_static("abc-123"));
        h.insert(
            "x-ratelimit-remaining-requests",
            HeaderValue::from_static("99"),
        );
        h.insert(
            "x-ratelimit-remaining-tokens",
            HeaderValue::from_static("-1"),
        );
        h.insert("x-ms-region", HeaderValue::from_static("East US"));
        let m = upstream_meta(&h, vec!["stream_options"]);
        assert_eq!(m.request_id.as_deref(), Some("abc-123"));
        assert_eq!(m.remaining_requests, Some(99));
        assert_eq!(m.remaining_tokens, None);
        assert_eq!(m.region.as_deref(), Some("East US"));
        assert_eq!(m.dropped_params, vec!["stream_options"]);
    }
}
