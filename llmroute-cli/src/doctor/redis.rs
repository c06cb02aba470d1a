//! Doctor's Redis checks: DNS, TCP connect with a timeout, AUTH when the URL has a
//! password, and PING. Redis is optional: without it caching and rate-limit counters stay
//! in the process, and a Redis outage never fails a request.

use std::time::Duration;

use llmroute_core::config::Config;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::net::{dns, tcp, tcp_check};
use super::Check;

const G: &str = "redis";

/// Every Redis check for the config.
pub async fn check_all(cfg: &Config, timeout: Duration) -> Vec<Check> {
    match &cfg.redis {
        None => vec![Check::pass(
            G,
            "configured",
            "no Redis: cache and rate-limit counters are per process",
        )],
        Some(r) => check_url(r.url.expose(), &r.from, timeout).await,
    }
}

/// The checks for one `redis://` / `rediss://` URL.
pub async fn check_url(url: &str, from: &str, timeout: Duration) -> Vec<Check> {
    let mut out = Vec::new();
    let parsed = match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "redis" | "rediss") => u,
        _ => {
            out.push(Check::fail(G, "URL", format!("{from}: not a redis:// URL"), "write redis://host:6379 (rediss:// for TLS, e.g. ElastiCache with in-transit encryption)"));
            return out;
        }
    };
    let host = parsed.host_str().unwrap_or("localhost").to_string();
    let port = parsed.port().unwrap_or(6379);
    let tls = parsed.scheme() == "rediss";
    out.push(Check::pass(
        G,
        "URL",
        format!(
            "{host}:{port}{} (from {from})",
            if tls { " with TLS" } else { "" }
        ),
    ));
    let (line, addrs) = dns(G, &host, port, timeout).await;
    let ok = line.status == super::Status::Pass;
    out.push(line);
    if !ok {
        return out;
    }
    let conn = tcp(&addrs, timeout).await;
    out.push(degrade(tcp_check(G, "Redis", &host, port, timeout, &conn)));
    let Ok((stream, _)) = conn else { return out };
    if tls {
        out.push(Check::skip(
            G,
            "PING",
            "rediss:// (TLS): PING not checked by doctor; the server logs Redis errors at start-up",
        ));
        return out;
    }
    let password = parsed.password().map(|p| p.to_string());
    let user = Some(parsed.username().to_string()).filter(|u| !u.is_empty());
    out.push(degrade(ping(stream, user, password, timeout).await));
    out
}

/// A Redis failure costs caching, not requests: said in the detail.
fn degrade(mut c: Check) -> Check {
    if c.status == super::Status::Fail {
        c.detail
            .push_str(" (requests still work; caching and shared rate limits are off)");
    }
    c
}

fn command(args: &[&str]) -> Vec<u8> {
    let mut b = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        b.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    b
}

async fn ping(
    stream: tokio::net::TcpStream,
    user: Option<String>,
    password: Option<String>,
    timeout: Duration,
) -> Check {
    let talk = async {
        let mut s = BufReader::new(stream);
        let mut line = String::new();
        if let Some(pw) = &password {
            let auth = match &user {
                Some(u) => command(&["AUTH", u, pw]),
                None => command(&["AUTH", pw]),
            };
            s.get_mut().write_all(&auth).await?;
            s.read_line(&mut line).await?;
            if !line.starts_with('+') {
                return Ok(("AUTH", line.trim().to_string()));
            }
            line.clear();
        }
        s.get_mut().write_all(&command(&["PING"])).await?;
        s.read_line(&mut line).await?;
        Ok::<_, std::io::Error>(("PING", line.trim().to_string()))
    };
    match tokio::time::timeout(timeout, talk).await {
        Ok(Ok((_, reply))) if reply == "+PONG" => Check::pass(G, "PING", "PONG"),
        Ok(Ok((_, reply))) if reply.contains("NOAUTH") => Check::fail(
            G,
            "PING",
            format!("Redis wants a password: {reply}"),
            "put it in the URL: redis://:PASSWORD@host:6379 (or router_settings.redis_password)",
        ),
        Ok(Ok(("AUTH", reply))) => Check::fail(
            G,
            "auth",
            format!("AUTH refused: {reply}"),
            "check the password (ElastiCache: the AUTH token)",
        ),
        Ok(Ok((_, reply))) => Check::fail(
            G,
            "PING",
            format!("unexpected answer {reply:?}"),
            "is this port really Redis?",
        ),
        Ok(Err(e)) => Check::fail(
            G,
            "PING",
            format!("the connection broke: {e}"),
            "is this port really Redis? with in-transit encryption use rediss://",
        ),
        Err(_) => Check::fail(
            G,
            "PING",
            format!("no answer within {} s", timeout.as_secs_f64()),
            "is this port really Redis? with in-transit encryption use rediss://",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_encoding() {
        assert_eq!(command(&["PING"]), b"*1\r\n$4\r\nPING\r\n");
    }

    #[tokio::test]
    async fn fake_redis_pongs_and_closed_port_fails() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = l.local_addr().expect("addr").port();
        tokio::spawn(async move {
            if let Ok((mut s, _)) = l.accept().await {
                let mut buf = [0u8; 64];
                let _ = tokio::io::AsyncReadExt::read(&mut s, &mut buf).await;
                let _ = s.write_all(b"+PONG\r\n").await;
            }
        });
        let ok = check_url(
            &format!("redis://127.0.0.1:{port}"),
            "test",
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(ok.last().map(|c| c.detail.as_str()), Some("PONG"), "{ok:?}");
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let cport = closed.local_addr().expect("addr").port();
        drop(closed);
        let bad = check_url(
            &format!("redis://127.0.0.1:{cport}"),
            "test",
            Duration::from_secs(2),
        )
        .await;
        let last = bad.last().expect("line");
        assert_eq!(last.status, super::super::Status::Fail);
        assert!(
            last.detail.contains("refused") && last.detail.contains("requests still work"),
            "{last:?}"
        );
    }
}
