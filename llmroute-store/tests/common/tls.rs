//! A throwaway certificate authority for the TLS tests (PostgreSQL and Redis), made with
//! the `openssl` command in a folder of the test's own; valid for one day.

use std::path::Path;
use std::process::{Command, Output};

/// Subject alternative names of a certificate for this machine: `127.0.0.1` and `localhost`.
pub const LOCAL: &str = "IP:127.0.0.1,DNS:localhost";

/// The output of a command that must have succeeded; panics naming `what` (and showing
/// its stdout and stderr) when it could not run or failed.
pub fn check(what: &str, out: std::io::Result<Output>) -> Output {
    let out = out.unwrap_or_else(|e| panic!("{what}: cannot run it: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn openssl(dir: &Path, args: &[&str]) {
    check(
        &format!("openssl {args:?} (is the openssl command installed?)"),
        Command::new("openssl").args(args).current_dir(dir).output(),
    );
}

/// Makes in `dir` a CA (`ca.pem`, `ca.key`) and, for each `(name, subject_alt_names)` of
/// `leaves`, a key `<name>.key` and a certificate `<name>.pem` signed by the CA for those
/// names (`subject_alt_names` in openssl's form, e.g. [`LOCAL`] or `DNS:db.invalid`).
pub fn certificates(dir: &Path, leaves: &[(&str, &str)]) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=llmroute test CA",
        ],
    );
    for (name, san) in leaves {
        let (key, csr, pem, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.cnf"),
        );
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                "/CN=llmroute test server",
            ],
        );
        std::fs::write(
            dir.join(&ext),
            format!("subjectAltName={san}\nbasicConstraints=CA:FALSE\n"),
        )
        .unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "1",
                "-extfile",
                &ext,
            ],
        );
    }
}
