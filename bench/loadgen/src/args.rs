//! The command line (clap, as the other binaries of the workspace).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Uri};

/// What to send, how often, and for how long.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "loadgen",
    about = "Requests at a fixed rate; latency percentiles as one JSON line"
)]
pub struct Args {
    /// Where (http:// only).
    #[arg(long, value_parser = http_url)]
    pub url: Uri,
    /// Requests per second over all connections.
    #[arg(long, value_parser = positive)]
    pub rate: f64,
    /// Keep-alive connections.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub connections: u32,
    /// Measured time, seconds.
    #[arg(long, value_parser = seconds_above_zero)]
    pub duration: Duration,
    /// Unmeasured time before it, seconds.
    #[arg(long, default_value = "1", value_parser = seconds)]
    pub warmup: Duration,
    /// Extra request header, `name: value` (repeatable).
    #[arg(long = "header", value_parser = header)]
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// POST body; a GET when absent.
    #[arg(long)]
    pub body: Option<Bytes>,
    /// Written into the result line.
    #[arg(long, default_value = "-")]
    pub label: String,
}

fn http_url(text: &str) -> Result<Uri, String> {
    let url: Uri = text.parse().map_err(|e| format!("{e}"))?;
    if url.scheme_str() != Some("http") || url.host().is_none() {
        return Err("write it as http://host:port/path".into());
    }
    Ok(url)
}

fn number(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or(format!("{text:?} is not a number"))
}

fn positive(text: &str) -> Result<f64, String> {
    let n = number(text)?;
    if n > 0.0 {
        Ok(n)
    } else {
        Err("must be above 0".into())
    }
}

fn seconds(text: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(number(text)?).map_err(|e| e.to_string())
}

fn seconds_above_zero(text: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(positive(text)?).map_err(|e| e.to_string())
}

fn header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or(format!("{text:?}: write it as 'name: value'"))?;
    let name = HeaderName::try_from(name.trim()).map_err(|e| e.to_string())?;
    let value = HeaderValue::try_from(value.trim()).map_err(|e| e.to_string())?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(s: &str) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("loadgen").chain(s.split(' ')))
    }

    #[test]
    fn flags_are_read_and_checked() {
        let a = parse("--url http://127.0.0.1:9/p --rate 500 --connections 4 --duration 2 --header api-key:k --label x")
            .expect("valid");
        assert_eq!((a.rate, a.connections, a.label.as_str()), (500.0, 4, "x"));
        assert_eq!(a.warmup, Duration::from_secs(1));
        assert_eq!(a.headers[0].0, "api-key");
        assert!(a.body.is_none());
        for bad in [
            "--url https://h/p --rate 1 --connections 1 --duration 1",
            "--url http://h/p --rate 0 --connections 1 --duration 1",
            "--url http://h/p --rate 1 --connections 1",
            "--url http://h/p --rate x --connections 1 --duration 1",
            "--url http://h/p --rate 1 --connections 1 --duration 1 --header nocolon",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
