//! The command line.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Uri};

/// How to call `loadgen`.
pub const USAGE: &str = "usage: loadgen --url URL --rate REQ_PER_S --connections N --duration S \
[--warmup S] [--header 'name: value']... [--body JSON] [--label NAME]";

/// What to send, how often, and for how long.
#[derive(Debug, Clone)]
pub struct Args {
    /// Where (http:// only).
    pub url: Uri,
    /// Requests per second over all connections.
    pub rate: f64,
    /// Keep-alive connections.
    pub connections: usize,
    /// Measured time.
    pub duration: Duration,
    /// Unmeasured time before it.
    pub warmup: Duration,
    /// Extra request headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// POST body; a GET when absent.
    pub body: Option<Bytes>,
    /// Written into the result line.
    pub label: String,
}

impl Args {
    /// Parses the flags (without the program name).
    pub fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut url = None;
        let (mut rate, mut connections, mut duration, mut warmup) = (None, None, None, 1.0);
        let mut headers = Vec::new();
        let (mut body, mut label) = (None, "-".to_string());
        while let Some(flag) = argv.next() {
            let mut value = || argv.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--url" => url = Some(value()?),
                "--rate" => rate = Some(number(&flag, &value()?)?),
                "--connections" => connections = Some(number(&flag, &value()?)? as usize),
                "--duration" => duration = Some(number(&flag, &value()?)?),
                "--warmup" => warmup = number(&flag, &value()?)?,
                "--header" => headers.push(header(&value()?)?),
                "--body" => body = Some(Bytes::from(value()?)),
                "--label" => label = value()?,
                other => return Err(format!("unknown flag {other}")),
            }
        }
        let url: Uri = url
            .ok_or("--url is required")?
            .parse()
            .map_err(|e| format!("--url: {e}"))?;
        if url.scheme_str() != Some("http") || url.host().is_none() {
            return Err("--url must be http://host:port/path".into());
        }
        let rate = rate.ok_or("--rate is required")?;
        let connections = connections.ok_or("--connections is required")?;
        let duration = duration.ok_or("--duration is required")?;
        if rate <= 0.0 || connections == 0 || duration <= 0.0 || warmup < 0.0 {
            return Err("--rate, --connections and --duration must be above 0".into());
        }
        Ok(Args {
            url,
            rate,
            connections,
            duration: Duration::from_secs_f64(duration),
            warmup: Duration::from_secs_f64(warmup),
            headers,
            body,
            label,
        })
    }
}

fn number(flag: &str, text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or(format!("{flag}: {text:?} is not a number"))
}

fn header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or(format!("--header {text:?}: write it as 'name: value'"))?;
    let name = HeaderName::try_from(name.trim()).map_err(|e| format!("--header name: {e}"))?;
    let value = HeaderValue::try_from(value.trim()).map_err(|e| format!("--header value: {e}"))?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Args, String> {
        Args::parse(s.split(' ').map(str::to_string))
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
