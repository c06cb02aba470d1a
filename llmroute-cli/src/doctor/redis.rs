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
            "rediss:// (TLS): checked up to TCP only; the TLS handshake, AUTH and PING are not checked by doctor (the server logs `Redis unavailable` when it cannot use it)",
        ));
        return out;
    }
    // The URL keeps them percent-encoded; Redis (and the redis crate) want them decoded.
    let password = parsed.password().map(percent_decode);
    let user = Some(percent_decode(parsed.username())).filter(|u| !u.is_empty());
    out.push(degrade(ping(stream, user, password, timeout).await));
    out
}

/// `%XX` escapes decoded (as the redis crate does with a URL's user and password).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
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

    #[test]
    fn percent_escapes_are_decoded() {
        assert_eq!(percent_decode("p%40ss%2Fw%3Ard"), "p@ss/w:rd");
        assert_eq!(percent_decode("plain"), "plain");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    /// A fake Redis that accepts only `AUTH app p@ss/w:rd` (decoded), then answers PING.
    #[tokio::test]
    async fn auth_sends_the_decoded_user_and_password() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = l.local_addr().expect("addr").port();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut s = BufReader::new(s);
                    let mut args = Vec::new();
                    let mut line = String::new();
                    // *3 $4 AUTH $3 app $10 p@ss/w:rd: read the array header and 3 bulk strings.
                    if s.read_line(&mut line).await.is_err() {
                        return;
                    }
                    let n: usize = line.trim().trim_start_matches('*').parse().unwrap_or(0);
                    for _ in 0..n {
                        line.clear();
                        let _ = s.read_line(&mut line).await;
                        line.clear();
                        let _ = s.read_line(&mut line).await;
                        args.push(line.trim_end().to_string());
                    }
                    let reply: &[u8] = if args == ["AUTH", "app", "p@ss/w:rd"] {
                        b"+OK\r\n"
                    } else {
                        b"-WRONGPASS invalid username-password pair\r\n"
                    };
                    let _ = s.get_mut().write_all(reply).await;
                    line.clear();
                    let _ = s.read_line(&mut line).await;
                    let _ = s.get_mut().write_all(b"+PONG\r\n").await;
                });
            }
        });
        let ok = check_url(
            &format!("redis://app:p%40ss%2Fw%3Ard@127.0.0.1:{port}"),
            "test",
            Duration::from_secs(2),
        )
        .await;
        let last = ok.last().expect("line");
        assert_eq!(
            (last.name.as_str(), last.detail.as_str()),
            ("PING", "PONG"),
            "{ok:?}"
        );
        let bad = check_url(
            &format!("redis://app:wrong@127.0.0.1:{port}"),
            "test",
            Duration::from_secs(2),
        )
        .await;
        let last = bad.last().expect("line");
        assert_eq!(last.name, "auth", "{bad:?}");
        assert!(
            last.detail.starts_with("AUTH refused: -WRONGPASS"),
            "{last:?}"
        );
    }

    #[tokio::test]
    async fn rediss_says_it_stops_at_tcp() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = l.local_addr().expect("addr").port();
        let lines = check_url(
            &format!("rediss://127.0.0.1:{port}"),
            "test",
            Duration::from_secs(2),
        )
        .await;
        let last = lines.last().expect("line");
        assert_eq!(last.status, super::super::Status::Skip, "{lines:?}");
        assert!(last.detail.contains("checked up to TCP only"), "{last:?}");
    }
}
