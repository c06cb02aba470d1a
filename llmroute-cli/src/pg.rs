//! One PostgreSQL connection for the CLI (LiteLLM import, doctor's auth and schema
//! checks): TLS when the URL says `sslmode=require` / `verify-*`, with the Mozilla roots
//! and the CA file of `sslrootcert=` or `PGSSLROOTCERT` (RDS's bundle).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config};

/// A PostgreSQL URL, parsed: the driver's config and whether TLS is required.
#[derive(Debug, Clone)]
pub struct PgTarget {
    /// The driver's config (sslmode set).
    pub config: Config,
    /// TLS required.
    pub tls: bool,
    /// CA file to trust besides the Mozilla roots.
    pub root_cert: Option<String>,
    /// `host:port/db`, for messages.
    pub display: String,
}

/// Parses a `postgres://` URL (never echoing its password in errors).
pub fn parse(url: &str) -> Result<PgTarget, String> {
    let mut u = url::Url::parse(url)
        .map_err(|e| format!("not a URL ({e}); write postgres://user:password@host:5432/db"))?;
    if !matches!(u.scheme(), "postgres" | "postgresql") {
        return Err(format!(
            "scheme {}:// is not PostgreSQL; write postgres://user:password@host:5432/db",
            u.scheme()
        ));
    }
    let (mut tls, mut root_cert, mut kept) = (false, None, Vec::new());
    for (k, v) in u.query_pairs() {
        match (k.as_ref(), v.as_ref()) {
            ("sslrootcert", v) => root_cert = Some(v.to_string()),
            ("sslmode", "require" | "verify-ca" | "verify-full") => tls = true,
            ("sslmode", _) => {}
            (k, v) => kept.push((k.to_string(), v.to_string())),
        }
    }
    u.set_query(None);
    if !kept.is_empty() {
        u.query_pairs_mut().extend_pairs(kept);
    }
    let mut config =
        Config::from_str(u.as_str()).map_err(|e| format!("cannot parse the URL: {e}"))?;
    config.ssl_mode(if tls {
        SslMode::Require
    } else {
        SslMode::Disable
    });
    let display = format!(
        "{}:{}/{}",
        u.host_str().unwrap_or("localhost"),
        u.port().unwrap_or(5432),
        u.path().trim_start_matches('/')
    );
    let root_cert = root_cert.or_else(|| {
        std::env::var("PGSSLROOTCERT")
            .ok()
            .filter(|s| !s.is_empty())
    });
    Ok(PgTarget {
        config,
        tls,
        root_cert,
        display,
    })
}

fn tls_connector(
    root_cert: Option<&str>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = root_cert {
        for cert in CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read the CA file {path}: {e}"))?
        {
            let cert = cert.map_err(|e| format!("{path} is not PEM certificates: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("a certificate in {path} was refused: {e}"))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS setup: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Connects (TLS as the URL asks) within `timeout`; the connection runs on a task.
pub async fn connect(target: &PgTarget, timeout: Duration) -> Result<Client, String> {
    let mut config = target.config.clone();
    config.connect_timeout(timeout);
    let attempt = async {
        if target.tls {
            let (client, conn) = config
                .connect(tls_connector(target.root_cert.as_deref())?)
                .await
                .map_err(|e| describe(&e))?;
            tokio::spawn(conn);
            Ok(client)
        } else {
            let (client, conn) = config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(|e| describe(&e))?;
            tokio::spawn(conn);
            Ok(client)
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("timed out after {} s", timeout.as_secs_f64())))
}

/// The driver's error with the server's message and SQLSTATE, when there is one.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => crate::admin::chain(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_display() {
        let t = parse("postgres://u:pw@db.internal:6543/app?sslmode=require&sslrootcert=/x.pem")
            .expect("ok");
        assert!(t.tls);
        assert_eq!(t.root_cert.as_deref(), Some("/x.pem"));
        assert_eq!(t.display, "db.internal:6543/app");
        let e = parse("mysql://u:secret@h/db").err().unwrap_or_default();
        assert!(e.contains("not PostgreSQL") && !e.contains("secret"));
    }
}
