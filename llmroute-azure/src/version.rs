//! Azure `api-version` values: which route they select and which request fields they know.
//!
//! `2024-10-21` (the default, latest GA) and `v1` know every field llmroute sends.
//! `2024-06-01` GA and older, and previews before `2024-09-01-preview`, reject
//! `stream_options`, `max_completion_tokens` and `parallel_tool_calls`; `json_schema`
//! response formats arrived with `2024-08-01-preview` and the `2024-10-21` GA.

/// The api-version used when the configuration names none: the latest GA.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

/// A parsed `api_version` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersion {
    /// The value as configured (sent as `?api-version=` on the classic route).
    pub raw: String,
    /// `v1`: the versionless `/openai/v1/...` route, deployment in the body's `model`.
    pub v1: bool,
    /// `(year, month, day, preview)` when the value is a dated version.
    date: Option<(u16, u8, u8, bool)>,
}

/// A request field that some api-versions reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// `stream_options` (`include_usage`).
    StreamOptions,
    /// `max_completion_tokens`.
    MaxCompletionTokens,
    /// `parallel_tool_calls`.
    ParallelToolCalls,
    /// `response_format: {"type": "json_schema"}` (structured outputs).
    JsonSchema,
}

impl Feature {
    /// The request field's name.
    pub fn param(self) -> &'static str {
        match self {
            Feature::StreamOptions => "stream_options",
            Feature::MaxCompletionTokens => "max_completion_tokens",
            Feature::ParallelToolCalls => "parallel_tool_calls",
            Feature::JsonSchema => "response_format",
        }
    }
}

impl ApiVersion {
    /// Parses a configured value; `None` gives [`DEFAULT_API_VERSION`]. Unknown shapes
    /// (`preview`, `latest`) are sent as they are and assumed to know every field.
    pub fn parse(value: Option<&str>) -> ApiVersion {
        let raw = value
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .unwrap_or(DEFAULT_API_VERSION)
            .to_string();
        let v1 = raw.eq_ignore_ascii_case("v1");
        let date = parse_date(&raw);
        ApiVersion { raw, v1, date }
    }

    /// Whether this version accepts `feature`.
    pub fn supports(&self, feature: Feature) -> bool {
        let Some((y, m, d, preview)) = self.date else {
            return true;
        };
        let at_least = |yy: u16, mm: u8, dd: u8| (y, m, d) >= (yy, mm, dd);
        match (feature, preview) {
            (Feature::JsonSchema, true) => at_least(2024, 8, 1),
            (_, true) => at_least(2024, 9, 1),
            (_, false) => at_least(2024, 10, 21),
        }
    }
}

fn parse_date(raw: &str) -> Option<(u16, u8, u8, bool)> {
    let (date, preview) = match raw.strip_suffix("-preview") {
        Some(d) => (d, true),
        None => (raw, false),
    };
    let mut parts = date.splitn(3, '-');
    let y = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let d = parts.next()?.parse().ok()?;
    Some((y, m, d, preview))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_latest_ga_and_knows_everything() {
        let v = ApiVersion::parse(None);
        assert_eq!(v.raw, "2024-10-21");
        assert!(!v.v1);
        for f in [
            Feature::StreamOptions,
            Feature::MaxCompletionTokens,
            Feature::ParallelToolCalls,
            Feature::JsonSchema,
        ] {
            assert!(v.supports(f));
        }
    }

    #[test]
    fn old_versions_lack_the_new_fields() {
        let old = ApiVersion::parse(Some("2024-06-01"));
        assert!(!old.supports(Feature::StreamOptions));
        assert!(!old.supports(Feature::JsonSchema));
        let aug = ApiVersion::parse(Some("2024-08-01-preview"));
        assert!(aug.supports(Feature::JsonSchema));
        assert!(!aug.supports(Feature::MaxCompletionTokens));
        assert!(ApiVersion::parse(Some("2024-09-01-preview")).supports(Feature::StreamOptions));
        assert!(ApiVersion::parse(Some("2025-04-01-preview")).supports(Feature::StreamOptions));
    }

    #[test]
    fn v1_and_unknown_values() {
        let v1 = ApiVersion::parse(Some("v1"));
        assert!(v1.v1 && v1.supports(Feature::StreamOptions));
        assert!(ApiVersion::parse(Some("preview")).supports(Feature::JsonSchema));
    }
}
