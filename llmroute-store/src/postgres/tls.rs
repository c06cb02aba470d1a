//! TLS to PostgreSQL with rustls: on exactly when the URL says `sslmode=require`
//! (or `verify-ca` / `verify-full`), verifying the server against the Mozilla roots plus
//! any CA file named by `sslrootcert=` or `PGSSLROOTCERT` (RDS: its global bundle).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The URL split into what tokio-postgres understands and what llmroute handles itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsUrl {
    /// The URL without `sslrootcert`, with `verify-*` modes written as `require`.
    pub url: String,
    /// Whether TLS is required.
    pub tls: bool,
    /// Extra CA certificates (PEM file).
    pub root_cert: Option<String>,
}

/// Splits `sslmode` / `sslrootcert` out of a PostgreSQL URL.
pub(crate) fn split(url: &str) -> Result<TlsUrl, String> {
    let mut parsed = url::Url::parse(url).map_err(|e| format!("cannot parse it as a URL: {e}"))?;
    let (mut tls, mut root_cert) = (false, None);
    let mut kept: Vec<(String, String)> = Vec::new();
    for (k, v) in parsed.query_pairs() {
        match (k.as_ref(), v.as_ref()) {
            ("sslrootcert", v) => root_cert = Some(v.to_string()),
            ("sslmode", "require" | "verify-ca" | "verify-full") => {
                tls = true;
                kept.push(("sslmode".into(), "require".into()));
            }
            ("sslmode", "disable" | "prefer" | "allow") => {}
            ("sslmode", other) => {
                return Err(format!(
                    "sslmode={other} is not known; use sslmode=require (RDS) or leave it out"
                ))
            }
            (k, v) => kept.push((k.to_string(), v.to_string())),
        }
    }
    parsed.set_query(None);
    if !kept.is_empty() {
        parsed.query_pairs_mut().extend_pairs(kept);
    }
    let root_cert = root_cert.or_else(|| {
        std::env::var("PGSSLROOTCERT")
            .ok()
            .filter(|s| !s.is_empty())
    });
    Ok(TlsUrl {
        url: parsed.to_string(),
        tls,
        root_cert,
    })
}

/// The rustls connector: Mozilla's roots plus the extra CA file, if any.
pub(crate) fn connector(root_cert: Option<&str>) -> Result<MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots_store());
    if let Some(path) = root_cert {
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
            format!("cannot read the CA file {path} (sslrootcert / PGSSLROOTCERT): {e}")
        })?;
        for cert in certs {
            let cert =
                cert.map_err(|e| format!("the CA file {path} is not PEM certificates: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("a certificate in {path} was refused: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn webpki_roots_store() -> Vec<rustls::pki_types::TrustAnchor<'static>> {
    webpki_roots::TLS_SERVER_ROOTS.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_require_turns_tls_on_and_rootcert_is_taken_out() {
        let t = split("postgres://u:p@db:5432/app?sslmode=verify-full&sslrootcert=/etc/rds.pem&application_name=x")
            .expect("ok");
        assert!(t.tls);
        assert_eq!(t.root_cert.as_deref(), Some("/etc/rds.pem"));
        assert!(
            t.url.contains("sslmode=require") && !t.url.contains("sslrootcert"),
            "{}",
            t.url
        );
        assert!(t.url.contains("application_name=x"));
        let plain = split("postgres://u@db/app").expect("ok");
        assert!(!plain.tls);
        assert!(split("postgres://u@db/app?sslmode=sometimes").is_err());
    }

    #[test]
    fn connector_builds_and_missing_ca_file_is_named() {
        assert!(connector(None).is_ok());
        let e = connector(Some("/nonexistent/rds.pem"))
            .err()
            .unwrap_or_default();
        assert!(e.contains("/nonexistent/rds.pem"), "{e}");
    }
}
