//! Durations and dates on the command line: `2s`, `500ms`, `7d`, `1mo`, RFC 3339 dates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses a duration: `500ms`, `2s`, `5m`, `1h`, `7d`, `1w`, `1mo` (30 days), or a bare
/// number of seconds.
///
/// ```
/// use llmroute_cli::time::parse_duration;
/// assert_eq!(parse_duration("500ms").ok(), Some(std::time::Duration::from_millis(500)));
/// assert_eq!(parse_duration("7d").ok().map(|d| d.as_secs()), Some(7 * 86400));
/// assert!(parse_duration("soon").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Some(ms) = s.strip_suffix("ms") {
        return ms
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| bad(s));
    }
    if let Ok(secs) = s.parse::<f64>() {
        return if secs.is_finite() && secs >= 0.0 {
            Ok(Duration::from_secs_f64(secs))
        } else {
            Err(bad(s))
        };
    }
    llmroute_core::store::parse_budget_duration(s).ok_or_else(|| bad(s))
}

fn bad(s: &str) -> String {
    format!("'{s}' is not a duration; use a number and a unit: 500ms, 2s, 5m, 1h, 7d, 1w or 1mo")
}

/// Unix seconds of now.
pub fn now_secs() -> i64 {
    llmroute_core::store::unix_secs(SystemTime::now())
}

/// Parses an expiry: a duration from now (`30d`) or a date (`2025-12-31` or
/// `2025-12-31T23:59:59Z`), to Unix seconds.
pub fn parse_expiry(s: &str, now: i64) -> Result<i64, String> {
    if let Ok(d) = parse_duration(s) {
        return Ok(now + d.as_secs() as i64);
    }
    parse_date(s).ok_or_else(|| {
        format!("--expires '{s}' is neither a duration (30d, 12h) nor a date (2025-12-31 or 2025-12-31T23:59:59Z)")
    })
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[Z]` (UTC) to Unix seconds.
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let mut secs = days_from_civil(y, m, day) * 86_400;
    if let Some(t) = time {
        let t = t.split(['.', '+']).next()?;
        let mut p = t.splitn(3, ':').map(|p| p.parse::<i64>().ok());
        let h = p.next()??;
        let mi = p.next().flatten().unwrap_or(0);
        let se = p.next().flatten().unwrap_or(0);
        secs += h * 3600 + mi * 60 + se;
    }
    Some(secs)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds.
pub fn format_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A time `secs` seconds before now.
pub fn ago(d: Duration) -> SystemTime {
    SystemTime::now().checked_sub(d).unwrap_or(UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_date("1970-01-02"), Some(86_400));
        assert_eq!(
            parse_date("2024-02-29T12:00:00Z")
                .map(format_utc)
                .as_deref(),
            Some("2024-02-29T12:00:00Z")
        );
        assert_eq!(parse_date("2024-13-01"), None);
        assert_eq!(parse_expiry("1h", 100), Ok(3700));
        assert!(parse_expiry("tomorrow", 0).is_err());
        assert_eq!(parse_duration("2").ok(), Some(Duration::from_secs(2)));
    }
}
