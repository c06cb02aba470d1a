//! The network steps every remote check shares: resolve a host name, open a TCP
//! connection within a timeout, and say what a failure most likely means on AWS.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::Check;

/// Resolves `host:port`; a check line either way.
pub async fn dns(
    group: &str,
    host: &str,
    port: u16,
    timeout: Duration,
) -> (Check, Vec<SocketAddr>) {
    let started = Instant::now();
    match tokio::time::timeout(timeout, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                return (Check::fail(group, "DNS", format!("{host} has no address"), "check the host name"), addrs);
            }
            let shown: Vec<String> = addrs.iter().take(3).map(|a| a.ip().to_string()).collect();
            (Check::pass(group, "DNS", format!("{host} → {} ({} ms)", shown.join(", "), started.elapsed().as_millis())), addrs)
        }
        Ok(Err(e)) => (
            Check::fail(
                group,
                "DNS",
                format!("cannot resolve {host}: {e}"),
                "check the host name for typos; inside a VPC, a private endpoint's name resolves only with the VPC's DNS (enableDnsSupport and enableDnsHostnames on)",
            ),
            Vec::new(),
        ),
        Err(_) => (
            Check::fail(group, "DNS", format!("resolving {host} timed out after {} s", timeout.as_secs_f64()), "check the resolver (/etc/resolv.conf) and the VPC's DNS settings"),
            Vec::new(),
        ),
    }
}

/// Why a TCP connection failed, and what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpFailure {
    /// Nothing answered before the timeout: a firewall dropping packets.
    Timeout,
    /// The host answered that nothing listens on the port.
    Refused,
    /// Anything else.
    Other(String),
}

/// Connects to the first address that answers; the stream, or why none did.
pub async fn tcp(
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<(TcpStream, Duration), TcpFailure> {
    let mut last = TcpFailure::Other("no address".into());
    for addr in addrs {
        let started = Instant::now();
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => return Ok((s, started.elapsed())),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = TcpFailure::Refused
            }
            Ok(Err(e)) => last = TcpFailure::Other(e.to_string()),
            Err(_) => last = TcpFailure::Timeout,
        }
    }
    Err(last)
}

/// The `TCP connect` line for `what` (e.g. `PostgreSQL`) at `host:port`.
pub fn tcp_check(
    group: &str,
    what: &str,
    host: &str,
    port: u16,
    timeout: Duration,
    result: &Result<(TcpStream, Duration), TcpFailure>,
) -> Check {
    match result {
        Ok((_, took)) => Check::pass(group, "TCP connect", format!("{host}:{port} accepted in {} ms", took.as_millis())),
        Err(TcpFailure::Timeout) => Check::fail(
            group,
            "TCP connect",
            format!("{host}:{port} did not answer within {} s — security group or subnet?", timeout.as_secs_f64()),
            format!("allow inbound {port}/tcp on the {what} security group from the task's security group, and make sure both are in the same VPC with routes between their subnets"),
        ),
        Err(TcpFailure::Refused) => Check::fail(
            group,
            "TCP connect",
            format!("{host}:{port} refused the connection: nothing listens there"),
            format!("is {what} running, and is the port right? (PostgreSQL 5432, Redis 6379)"),
        ),
        Err(TcpFailure::Other(e)) => Check::fail(group, "TCP connect", format!("{host}:{port}: {e}"), "check the host, port and network path"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn closed_port_is_refused_and_open_port_accepts() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let open = l.local_addr().expect("addr");
        assert!(tcp(&[open], Duration::from_secs(1)).await.is_ok());
        drop(l);
        let r = tcp(&[open], Duration::from_secs(1)).await;
        assert_eq!(r.as_ref().err(), Some(&TcpFailure::Refused));
        let c = tcp_check(
            "database",
            "PostgreSQL",
            "127.0.0.1",
            open.port(),
            Duration::from_secs(1),
            &r,
        );
        assert!(c.detail.contains("refused"), "{c:?}");
        let (d, addrs) = dns("x", "localhost", 1, Duration::from_secs(2)).await;
        assert_eq!(d.status, super::super::Status::Pass, "{d:?}");
        assert!(!addrs.is_empty());
    }

    #[test]
    fn timeout_says_security_group_or_subnet() {
        let c = tcp_check(
            "database",
            "PostgreSQL",
            "db.abc.eu-west-1.rds.amazonaws.com",
            5432,
            Duration::from_millis(1500),
            &Err(TcpFailure::Timeout),
        );
        assert_eq!(c.status, super::super::Status::Fail, "{c:?}");
        assert_eq!(c.name, "TCP connect");
        assert_eq!(
            c.detail,
            "db.abc.eu-west-1.rds.amazonaws.com:5432 did not answer within 1.5 s — security group or subnet?"
        );
        let fix = c.fix.as_deref().unwrap_or_default();
        assert!(
            fix.contains("allow inbound 5432/tcp on the PostgreSQL security group"),
            "{fix}"
        );
    }
}
