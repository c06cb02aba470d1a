//! Doctor's database checks: DNS, TCP connect (with a timeout: a silent drop means a
//! security group or subnet), TLS, authentication, and whether the schema is current.

use std::path::Path;
use std::time::Duration;

use llmroute_core::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::net::{dns, tcp, tcp_check};
use super::Check;
use crate::context::database_url;
use crate::pg;

const G: &str = "database";

/// Every database check for the config (and `DATABASE_URL`).
pub async fn check_all(cfg: &Config, data_dir: &Path, timeout: Duration) -> Vec<Check> {
    let env = std::env::var("DATABASE_URL").ok();
    let (url, origin) = database_url(env.as_deref(), Some(cfg));
    match url {
        None => vec![Check::pass(
            G,
            "backend",
            format!(
                "embedded SQLite at {} (no DATABASE_URL)",
                data_dir.join("llmroute.db").display()
            ),
        )],
        Some(u) if u.starts_with("sqlite:") => {
            vec![Check::pass(G, "backend", format!("SQLite ({origin})"))]
        }
        Some(u) => check_postgres(&u, &origin, timeout).await,
    }
}

/// DNS → TCP → TLS → auth → schema, stopping at the first failure.
pub async fn check_postgres(url: &str, origin: &str, timeout: Duration) -> Vec<Check> {
    let mut out = Vec::new();
    let target = match pg::parse(url) {
        Ok(t) => t,
        Err(e) => {
            out.push(Check::fail(
                G,
                "URL",
                format!("{origin}: {e}"),
                "write postgres://user:password@host:5432/db?sslmode=require",
            ));
            return out;
        }
    };
    let host = target
        .display
        .split(':')
        .next()
        .unwrap_or("localhost")
        .to_string();
    let port = target.config.get_ports().first().copied().unwrap_or(5432);
    out.push(Check::pass(
        G,
        "URL",
        format!("PostgreSQL at {} (from {origin})", target.display),
    ));
    let (line, addrs) = dns(G, &host, port, timeout).await;
    let ok = line.status == super::Status::Pass;
    out.push(line);
    if !ok {
        return out;
    }
    let conn = tcp(&addrs, timeout).await;
    out.push(tcp_check(G, "PostgreSQL", &host, port, timeout, &conn));
    let Ok((stream, _)) = conn else { return out };
    out.push(tls_probe(stream, target.tls, timeout).await);
    let client = match pg::connect(&target, timeout).await {
        Ok(c) => {
            out.push(Check::pass(
                G,
                "auth",
                format!("logged in to {}", target.display),
            ));
            c
        }
        Err(e) => {
            out.push(auth_failure(&e));
            return out;
        }
    };
    out.push(schema(&client).await);
    out
}

/// Asks the server whether it speaks TLS (PostgreSQL's SSLRequest), against what the URL wants.
async fn tls_probe(mut stream: tokio::net::TcpStream, wanted: bool, timeout: Duration) -> Check {
    const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    let answer = tokio::time::timeout(timeout, async {
        stream.write_all(&SSL_REQUEST).await?;
        let mut b = [0u8; 1];
        stream.read_exact(&mut b).await?;
        Ok::<u8, std::io::Error>(b[0])
    })
    .await;
    match (answer, wanted) {
        (Ok(Ok(b'S')), true) => Check::pass(G, "TLS", "the server offers TLS and the URL requires it (sslmode=require)"),
        (Ok(Ok(b'S')), false) => Check::warn(G, "TLS", "the server offers TLS but the URL does not ask for it: traffic is in clear", "add ?sslmode=require to the URL (RDS: also sslrootcert= the RDS CA bundle, or PGSSLROOTCERT)"),
        (Ok(Ok(_)), true) => Check::fail(G, "TLS", "the URL requires TLS (sslmode=require) but the server does not offer it", "turn TLS on in PostgreSQL (ssl=on), or drop sslmode=require for a local database"),
        (Ok(Ok(_)), false) => Check::pass(G, "TLS", "not used (the server offers none and the URL asks for none)"),
        (Ok(Err(e)), _) => Check::fail(G, "TLS", format!("the server closed the connection at the TLS probe: {e}"), "is this port really PostgreSQL?"),
        (Err(_), _) => Check::fail(G, "TLS", format!("no answer to the TLS probe within {} s", timeout.as_secs_f64()), "is this port really PostgreSQL?"),
    }
}

/// The auth line for a connection error, translated.
pub fn auth_failure(e: &str) -> Check {
    let (what, fix) = if e.contains("28P01") || e.contains("password authentication failed") {
        ("password authentication failed", "check the user and password in the URL (on AWS: the RDS master secret in Secrets Manager)")
    } else if e.contains("3D000") {
        (
            "the database does not exist",
            "create it, or fix the path after the port in the URL",
        )
    } else if e.contains("28000") || e.contains("pg_hba") {
        (
            "the server refuses this user or host (pg_hba.conf / no TLS)",
            "add ?sslmode=require (RDS forces TLS), or allow the client in pg_hba.conf",
        )
    } else if e.contains("certificate") || e.contains("UnknownIssuer") || e.contains("tls") {
        ("the TLS handshake failed (the server's certificate is not trusted)", "for RDS download the global CA bundle and add sslrootcert=/path/global-bundle.pem (or set PGSSLROOTCERT)")
    } else if e.contains("timed out") {
        (
            "logging in timed out",
            "the port answers but the server does not: check it is PostgreSQL and not overloaded",
        )
    } else {
        (
            "cannot log in",
            "check the URL's user, password and database",
        )
    };
    Check::fail(G, "auth", format!("{what}: {e}"), fix)
}

async fn schema(client: &tokio_postgres::Client) -> Check {
    let row = client
        .query_opt("SELECT MAX(version) FROM llmroute_schema_migrations", &[])
        .await;
    let found: Option<i32> = match row {
        Ok(r) => r.and_then(|r| r.try_get::<_, Option<i32>>(0).ok().flatten()),
        Err(e) if e.as_db_error().is_some_and(|d| d.code().code() == "42P01") => {
            return Check::warn(G, "migrations", "llmroute's tables are not there yet", "llmroute-server creates them at start-up (so does any `llmroute keys list` against this database)");
        }
        Err(e) => {
            return Check::fail(
                G,
                "migrations",
                format!("reading the schema version: {}", pg::describe(&e)),
                "the user needs SELECT on llmroute_schema_migrations",
            )
        }
    };
    let found = found.unwrap_or(0).max(0) as u32;
    match Some(llmroute_store::postgres::schema_version()) {
        Some(k) if found == k => Check::pass(
            G,
            "migrations",
            format!("schema at version {found} (current)"),
        ),
        Some(k) if found < k => Check::warn(
            G,
            "migrations",
            format!("schema at version {found}, this llmroute knows {k}"),
            "llmroute-server migrates at start-up; the user needs CREATE on the database",
        ),
        Some(k) => Check::fail(
            G,
            "migrations",
            format!("schema at version {found}, newer than this llmroute ({k})"),
            "run the newer llmroute: a newer schema is never rolled back",
        ),
        None => Check::pass(G, "migrations", format!("schema at version {found}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_errors_are_translated() {
        let c = auth_failure("password authentication failed for user \"x\" (SQLSTATE 28P01)");
        assert!(
            c.detail.starts_with("password authentication failed")
                && c.fix.as_deref().is_some_and(|f| f.contains("password"))
        );
        assert!(
            auth_failure("database \"nope\" does not exist (SQLSTATE 3D000)")
                .detail
                .contains("does not exist")
        );
    }

    #[tokio::test]
    async fn closed_port_says_nothing_listens() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = l.local_addr().expect("addr").port();
        drop(l);
        let checks = check_postgres(
            &format!("postgres://u:p@127.0.0.1:{port}/db"),
            "test",
            Duration::from_secs(2),
        )
        .await;
        let tcp = checks
            .iter()
            .find(|c| c.name == "TCP connect")
            .expect("tcp line");
        assert_eq!(tcp.status, super::super::Status::Fail);
        assert!(tcp.detail.contains("refused"), "{tcp:?}");
        assert!(
            !checks.iter().any(|c| c.name == "auth"),
            "stops at the first failure"
        );
    }
}
