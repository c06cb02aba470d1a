//! `sslmode=require` against a real PostgreSQL that speaks TLS: a throwaway server of
//! the test's own (initdb into a temp dir, a free port, `ssl = on`, a certificate from a
//! CA made with the `openssl` command), stopped and deleted at the end even on failure.
//!
//! Its `pg_hba.conf` lets TCP clients in only over TLS (`hostssl`), so a store that works
//! at all is encrypted; `pg_stat_ssl` confirms it. Also checked: the certificate is
//! verified (CA from `sslrootcert` or `PGSSLROOTCERT`, and the host name), a URL without
//! `sslmode=require` is told to add it, and `sslmode=require` against a server with
//! `ssl = off` fails with an error saying the server does not support TLS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::tls::{self, check};
use llmroute_core::auth::hash_key;
use llmroute_store::{open_with, LogFilter, NewKey, Page, Store};

/// The newest `/usr/lib/postgresql/<version>/bin` that has `initdb`.
fn pg_bin() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).expect(
        "PostgreSQL's server programs are needed under /usr/lib/postgresql/<version>/bin (apt-get install postgresql)",
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A throwaway PostgreSQL server: stopped, and its folder deleted, when dropped.
struct OwnPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl OwnPostgres {
    /// initdb, TLS with `server.pem`, only TLS over TCP, then start and wait.
    fn start() -> OwnPostgres {
        let bin = pg_bin();
        let dir = tempfile::tempdir().unwrap();
        // ca.pem; server.pem for this machine; wrong.pem, from the same CA, for another name.
        let leaves = [("server", tls::LOCAL), ("wrong", "DNS:db.invalid")];
        tls::certificates(dir.path(), &leaves);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = OwnPostgres {
            dir,
            bin,
            port,
            as_postgres: is_root(),
        };
        if pg.as_postgres {
            // The server refuses to run as root; its files must be the postgres user's.
            check(
                "chown",
                Command::new("chown")
                    .args(["-R", "postgres:"])
                    .arg(pg.dir.path())
                    .output(),
            );
        }
        for key in ["server.key", "wrong.key"] {
            use std::os::unix::fs::PermissionsExt;
            let perms = std::fs::Permissions::from_mode(0o600);
            std::fs::set_permissions(pg.path(key), perms).unwrap();
        }
        let data = pg.path("data");
        pg.run("initdb", &["-D", &data, "-U", "postgres", "-A", "trust"]);
        let conf = format!(
            "\nssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\nfsync = off\nmax_connections = 30\n",
            pg.path("server.pem"),
            pg.path("server.key")
        );
        append(&pg.path("data/postgresql.conf"), &conf);
        pg.set_hba("local all all trust\nhostssl all all 127.0.0.1/32 trust\n");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            pg.port,
            pg.dir.path().display()
        );
        let log = pg.path("log");
        pg.run(
            "pg_ctl",
            &[
                "-D", &data, "-o", &opts, "-l", &log, "-w", "-t", "30", "start",
            ],
        );
        pg
    }

    fn path(&self, file: &str) -> String {
        self.dir.path().join(file).display().to_string()
    }

    /// One of PostgreSQL's programs, to run as the postgres user when the test is root.
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        }
    }

    /// Runs one of PostgreSQL's programs ([`OwnPostgres::command`]); it must succeed.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        check(program, self.command(program).args(args).output())
    }

    /// Replaces `pg_hba.conf` (the file keeps its owner).
    fn set_hba(&self, text: &str) {
        std::fs::write(self.path("data/pg_hba.conf"), text).unwrap();
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres` plus `query`.
    fn url(&self, query: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres{query}",
            self.port
        )
    }

    /// A plain connection over the Unix socket (no TLS needed there).
    async fn admin(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::Config::new()
            .host_path(self.dir.path())
            .port(self.port)
            .user("postgres")
            .dbname("postgres")
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connect over the Unix socket");
        tokio::spawn(conn);
        client
    }

    /// `ALTER SYSTEM SET` each setting, reload, and wait until new sessions see them.
    async fn reconfigure(&self, settings: &[(&str, &str)]) {
        let admin = self.admin().await;
        for (name, value) in settings {
            admin
                .batch_execute(&format!("ALTER SYSTEM SET {name} = '{value}'"))
                .await
                .unwrap();
        }
        admin
            .batch_execute("SELECT pg_reload_conf()")
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        'wait: loop {
            let fresh = self.admin().await;
            for (name, value) in settings {
                let now: String = fresh
                    .query_one(&format!("SHOW {name}"), &[])
                    .await
                    .unwrap()
                    .get(0);
                if now != *value {
                    assert!(Instant::now() < deadline, "{name} is still {now}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue 'wait;
                }
            }
            return;
        }
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.path("data");
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "stop"])
            .output();
        // The TempDir field deletes the folder after this.
    }
}

fn append(path: &str, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

async fn open(url: String) -> Result<std::sync::Arc<dyn Store>, String> {
    let dir = tempfile::tempdir().unwrap();
    open_with(common::options(Some(url), dir.path()))
        .await
        .map_err(|e| e.to_string())
}

/// Opening a store at `url` must fail (`what`: why it should) with an error that says
/// every one of `words`.
async fn assert_refused(url: String, what: &str, words: &[&str]) {
    let e = open(url)
        .await
        .err()
        .unwrap_or_else(|| panic!("{what}: the store opened"));
    assert!(words.iter().all(|w| e.contains(w)), "{what}: {e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_require_encrypts_verifies_the_server_and_fails_clearly_without_tls() {
    let pg = OwnPostgres::start();
    let ca = pg.path("ca.pem");
    let app = "llmroute_tls_test";

    // TLS with the test CA: migrations, a key and a log row round trip.
    let store = open(pg.url(&format!(
        "?sslmode=require&sslrootcert={ca}&application_name={app}"
    )))
    .await
    .expect("sslmode=require with the CA in sslrootcert");
    let created = store
        .create_key(NewKey {
            key_alias: Some("over-tls".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let hash = hash_key(created.key.expose());
    let got = store.get_key(&hash).await.unwrap().expect("key read back");
    assert_eq!(got.key_alias.as_deref(), Some("over-tls"));
    let row = common::record("tls-1", Some(&hash), "gpt-4o", 0.5, 1_700_000_000_000);
    assert_eq!(store.insert_logs(&[row]).await.unwrap(), 1);
    let filter = LogFilter {
        key_hash: Some(hash.clone()),
        ..Default::default()
    };
    let logs = store.recent_logs(&filter, Page::default()).await.unwrap();
    assert_eq!(logs.len(), 1);

    // Every session the store opened is encrypted.
    let (sessions, all_ssl): (i64, bool) = {
        let r = pg
            .admin()
            .await
            .query_one(
                "select count(*), coalesce(bool_and(s.ssl), false) from pg_stat_ssl s \
                 join pg_stat_activity a using (pid) where a.application_name = $1",
                &[&app],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert!(sessions >= 1, "the store holds connections");
    assert!(all_ssl, "every store connection uses TLS");
    drop(store);

    // The certificate is verified: Mozilla's roots alone do not include the test CA...
    assert_refused(
        pg.url("?sslmode=require"),
        "the test CA is not trusted",
        &["certificate", "sslrootcert"],
    )
    .await;
    // ...PGSSLROOTCERT names it as well as sslrootcert does (this binary's only test,
    // so the variable is seen by nothing else)...
    std::env::set_var("PGSSLROOTCERT", &ca);
    let via_env = open(pg.url("?sslmode=require")).await;
    std::env::remove_var("PGSSLROOTCERT");
    via_env.expect("sslmode=require with the CA in PGSSLROOTCERT");
    // ...and a URL without sslmode is refused by this server and told what to add.
    assert_refused(
        pg.url(""),
        "this server takes TCP clients only over TLS",
        &["no encryption", "sslmode=require"],
    )
    .await;

    // The host name is verified too: a certificate from the same CA for another name.
    pg.reconfigure(&[
        ("ssl_cert_file", &pg.path("wrong.pem")),
        ("ssl_key_file", &pg.path("wrong.key")),
    ])
    .await;
    let with_ca = pg.url(&format!("?sslmode=require&sslrootcert={ca}"));
    assert_refused(
        with_ca.clone(),
        "a certificate for another name is refused",
        &["not valid for name", "connect with a host name"],
    )
    .await;

    // A server with ssl = off: sslmode=require fails, saying so.
    pg.set_hba("local all all trust\nhost all all 127.0.0.1/32 trust\n");
    pg.reconfigure(&[("ssl", "off")]).await;
    assert_refused(
        with_ca,
        "sslmode=require against ssl = off is refused",
        &["does not support TLS", "ssl = off"],
    )
    .await;
    assert!(
        open(pg.url("")).await.is_ok(),
        "the same server answers without TLS"
    );
}
