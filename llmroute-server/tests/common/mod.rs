//! Runs the real `llmroute-server` binary on a free port for a test, and talks to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

mod http;
pub use http::*;

/// The master key every test config uses.
pub const MASTER_KEY: &str = "sk-test-master-key-0123456789";

/// A running server process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub log: mpsc::Receiver<String>,
    /// The log lines printed before "ready" (start-up: which backends are used).
    pub startup_log: Vec<String>,
}

impl Server {
    /// Starts the binary with `yaml` as its config file and waits until it is ready.
    pub fn start(yaml: &str) -> Server {
        Self::start_with(yaml, &[])
    }

    /// Starts the binary with extra environment variables.
    pub fn start_with(yaml: &str, env: &[(&str, &str)]) -> Server {
        Self::start_opts(yaml, "json", env)
    }

    /// Starts the binary with `yaml` as its config file, logging in `log_format`
    /// (`json` or `pretty`), with extra environment variables.
    pub fn start_opts(yaml: &str, log_format: &str, env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("config.yaml");
        std::fs::write(&config_path, yaml).expect("write config");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_llmroute-server"));
        cmd.arg("--config")
            .arg(&config_path)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--log-format",
                log_format,
            ])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .env_remove("LLMROUTE_CONFIG_YAML")
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL");
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::spawn(cmd, dir, config_path)
    }

    /// Starts the binary with no config at all: an empty environment plus `env`, no
    /// `--config`, no `--data-dir`, run in `cwd` (so the default data folder
    /// `./.llmroute/` lands there); only `--host 127.0.0.1 --port 0` and `args` are given.
    /// `self.dir` is an unused temp dir and `self.config_path` does not exist.
    pub fn start_bare(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("no-config.yaml");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_llmroute-server"));
        cmd.env_clear()
            .current_dir(cwd)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .envs(env.iter().copied());
        Self::spawn(cmd, dir, config_path)
    }

    /// Starts the binary with no flags at all: an empty environment plus `env`, run in
    /// `cwd`. Where it listens and what it loads come only from `env` (`PORT`,
    /// `LLMROUTE_HOST`, `LLMROUTE_CONFIG`, `LLMROUTE_CONFIG_YAML`, ...), so set `PORT`
    /// (see [`free_port`]) and `LLMROUTE_HOST` or it binds 0.0.0.0:8000.
    /// `self.dir` is an unused temp dir and `self.config_path` does not exist.
    pub fn start_env_only(cwd: &Path, env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("no-config.yaml");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_llmroute-server"));
        cmd.env_clear().current_dir(cwd).envs(env.iter().copied());
        Self::spawn(cmd, dir, config_path)
    }

    /// Spawns `cmd` with stderr captured and waits (20 s at most) for its ready line.
    fn spawn(mut cmd: Command, dir: tempfile::TempDir, config_path: PathBuf) -> Server {
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn llmroute-server");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(line) => {
                    if line.contains("llmroute-server ready") {
                        let addr = ready_address(&line);
                        return Server {
                            child,
                            base: format!("http://{addr}"),
                            dir,
                            config_path,
                            log: rx,
                            startup_log: seen,
                        };
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("server did not become ready; its log:\n{}", seen.join("\n"));
                }
            }
        }
    }

    /// A URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a signal (`TERM`, `HUP`, ...) to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to exit, returning its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The start-up log line (before "ready") containing `needle`.
    pub fn startup_line(&self, needle: &str) -> Option<&str> {
        self.startup_log
            .iter()
            .find(|l| l.contains(needle))
            .map(String::as_str)
    }

    /// Log lines received so far (non-blocking), waiting up to `wait` for one containing `needle`.
    pub fn wait_log(&self, needle: &str, wait: Duration) -> Option<String> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Some(line),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// Every log line not yet received, up to the end of stderr (the process has
    /// exited, or exits within `wait`). Panics if stderr is still open after `wait`.
    pub fn rest_of_log(&self, wait: Duration) -> Vec<String> {
        let deadline = std::time::Instant::now() + wait;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => return lines,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!(
                        "stderr still open after {wait:?}; lines so far:\n{}",
                        lines.join("\n")
                    )
                }
            }
        }
    }
}

/// The listening address in the ready line, JSON (`"address":"…"`) or pretty (`address=…`).
fn ready_address(line: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
        return v["address"].as_str().expect("address").to_string();
    }
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("address="))
        .unwrap_or_else(|| panic!("no address in the ready line: {line}"))
        .to_string()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port that was free a moment ago on 127.0.0.1 (for a server that must be told
/// its port up front rather than take `--port 0`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A PostgreSQL database of its own for one test (`LLMROUTE_TEST_DATABASE_URL` names the
/// server; default the local one). Dropped with [`TestDatabase::drop_database`].
pub struct TestDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// Creates `llmroute_srv_<random>`; fails the test if PostgreSQL is not reachable.
    pub async fn create() -> Option<TestDatabase> {
        let admin_url = std::env::var("LLMROUTE_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
        let name = format!("llmroute_srv_{:016x}", rand::random::<u64>());
        let (client, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL at {admin_url} is needed (run scripts/test): {e}")
            });
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .unwrap_or(admin_url.clone());
        Some(TestDatabase {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        })
    }

    /// Drops the database (connections are terminated first).
    pub async fn drop_database(self) {
        let (client, conn) = tokio_postgres::connect(&self.admin_url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        let _ = client
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}
