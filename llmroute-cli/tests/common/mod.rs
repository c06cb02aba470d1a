//! Test helpers: run the `llmroute` binary with a clean environment, a throwaway
//! PostgreSQL database per test, the fake Azure, and an in-process llmroute server.
#![allow(dead_code, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use llmroute_azure::fake::{FakeAzure, FakeConfig};
use llmroute_core::config::{Config, ConfigSource};
use llmroute_server::{Gateway, Options};
use tokio::sync::oneshot;

/// Variables the binary reads; removed so the developer's environment cannot leak in.
const SCRUB: &[&str] = &[
    "LLMROUTE_CONFIG",
    "LLMROUTE_CONFIG_YAML",
    "LLMROUTE_DATA_DIR",
    "LLMROUTE_SERVER",
    "LLMROUTE_API_KEY",
    "LLMROUTE_MASTER_KEY",
    "DATABASE_URL",
    "LITELLM_DATABASE_URL",
    "REDIS_URL",
    "REDIS_HOST",
    "AZURE_API_BASE",
    "AZURE_API_KEY",
    "AZURE_DEPLOYMENT",
    "AZURE_API_VERSION",
    "NO_COLOR",
    "PGSSLROOTCERT",
];

/// What a run of the binary printed.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
    pub fn line_with(&self, needle: &str) -> String {
        self.stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| {
                panic!(
                    "no line with {needle:?} in:\n{}\nstderr:\n{}",
                    self.stdout, self.stderr
                )
            })
            .to_string()
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs `llmroute args…` in `dir` (its data folder) with extra `env`.
pub async fn llmroute(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    llmroute_stdin(dir, args, env, None).await
}

/// The same, with `stdin` piped in.
pub async fn llmroute_stdin(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Run {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_llmroute"));
    cmd.args(args).current_dir(dir).kill_on_drop(true);
    for v in SCRUB {
        cmd.env_remove(v);
    }
    cmd.env("LLMROUTE_DATA_DIR", dir.join(".llmroute"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(if stdin.is_some() {
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    });
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn llmroute");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).await.expect("stdin");
        drop(pipe);
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("llmroute finished within 60 s")
        .expect("llmroute output");
    out.into()
}

/// A fake Azure with deployment `gpt-4o` and key `fake-azure-key`.
pub async fn fake_azure() -> FakeAzure {
    FakeAzure::start(FakeConfig::default())
        .await
        .expect("fake azure")
}

/// A config file with one Azure deployment on the fake, plus `extra` YAML appended.
pub fn write_config(
    dir: &Path,
    fake: &FakeAzure,
    deployment: &str,
    key: &str,
    api_version: &str,
    extra: &str,
) -> PathBuf {
    let path = dir.join("config.yaml");
    let yaml = format!(
        "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: azure/{deployment}\n      api_base: {}\n      api_key: {key}\n      api_version: \"{api_version}\"\n{extra}",
        fake.base_url()
    );
    std::fs::write(&path, yaml).expect("write config");
    path
}

/// A fake Azure, a scratch folder, and a config with one deployment on the fake.
pub struct Setup {
    pub fake: FakeAzure,
    pub dir: tempfile::TempDir,
    pub cfg: PathBuf,
}

/// [`fake_azure`], a scratch folder, and [`write_config`] in it.
pub async fn setup(deployment: &str, key: &str, api_version: &str, extra: &str) -> Setup {
    let fake = fake_azure().await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = write_config(dir.path(), &fake, deployment, key, api_version, extra);
    Setup { fake, dir, cfg }
}

/// A port on 127.0.0.1 with nothing listening.
pub async fn closed_port() -> ClosedPort {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let port = socket.local_addr().expect("addr").port();
    ClosedPort {
        _held: socket,
        port,
    }
}

/// A port bound but not listening: a connection to it is refused, and no other test
/// can take it while this is alive (a port bound and released could be reused at once
/// by a server of a test running alongside, which then accepted the connection).
pub struct ClosedPort {
    _held: tokio::net::TcpSocket,
    /// The port.
    pub port: u16,
}

/// The PostgreSQL server tests use.
pub fn admin_url() -> String {
    std::env::var("LLMROUTE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database created for one test and dropped when this is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

fn with_db(admin: &str, name: &str) -> String {
    let mut u = url::Url::parse(admin).expect("LLMROUTE_TEST_DATABASE_URL is a URL");
    u.set_path(&format!("/{name}"));
    u.to_string()
}

async fn admin_exec(sql: &str) {
    let (client, conn) = tokio_postgres::connect(&admin_url(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} (LLMROUTE_TEST_DATABASE_URL): {e}",
                admin_url()
            )
        });
    tokio::spawn(conn);
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

impl TestDb {
    pub async fn create(tag: &str) -> TestDb {
        let name = format!("llmroute_cli_{tag}_{}", uuid::Uuid::new_v4().simple());
        admin_exec(&format!("CREATE DATABASE {name}")).await;
        TestDb {
            url: with_db(&admin_url(), &name),
            name,
        }
    }

    /// A client connected to this database.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("connect test db");
        tokio::spawn(conn);
        client
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(admin_exec(&sql));
            }
        })
        .join();
    }
}

/// An llmroute server running in this process on an ephemeral port.
pub struct TestServer {
    pub url: String,
    pub gateway: Arc<Gateway>,
    stop: Option<oneshot::Sender<()>>,
}

impl TestServer {
    /// Serves the config at `config_path`.
    pub async fn start(config_path: &Path, data_dir: &Path) -> TestServer {
        let source = ConfigSource::File(config_path.to_path_buf());
        let config: Config = source.load().expect("server config");
        let gateway = Gateway::build(
            config,
            Options {
                source,
                data_dir: data_dir.to_path_buf(),
            },
        )
        .await
        .expect("gateway");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(llmroute_server::serve::serve(
            gateway.clone(),
            listener,
            async move {
                let _ = rx.await;
            },
        ));
        TestServer {
            url,
            gateway,
            stop: Some(tx),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
