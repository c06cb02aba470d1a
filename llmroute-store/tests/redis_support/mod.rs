//! Redis test harness: the test Redis (`LLMROUTE_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`), a random key prefix per test whose keys are deleted at the
//! end, and a throwaway `redis-server` on a free port for outage tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use llmroute_core::config::RedisSettings;
use llmroute_core::Secret;
use llmroute_store::redis::{RedisOptions, RedisPool};
use rand::Rng;

/// The URL of the test Redis.
pub fn url() -> String {
    std::env::var("LLMROUTE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Settings pointing at `url`.
pub fn settings(url: &str) -> RedisSettings {
    RedisSettings {
        url: Secret::new(url.to_string()),
        from: "LLMROUTE_TEST_REDIS_URL".into(),
    }
}

/// A new pool (a separate connection: stands for another instance).
pub fn pool() -> RedisPool {
    RedisPool::new(&settings(&url()), RedisOptions::default()).expect("test Redis URL")
}

/// A key prefix of its own: `llmroute-test-<random>`.
pub fn prefix() -> String {
    format!("llmroute-test-{:016x}", rand::thread_rng().gen::<u64>())
}

/// A plain connection to the test Redis, for assertions and cleanup.
pub async fn raw() -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(url()).expect("test Redis URL");
    client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "the test Redis at {} is not reachable (set LLMROUTE_TEST_REDIS_URL): {e}",
                url()
            )
        })
}

/// Every key under `prefix`.
pub async fn keys(prefix: &str) -> Vec<String> {
    let mut c = raw().await;
    let mut out = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut c)
            .await
            .unwrap();
        out.extend(batch);
        if next == 0 {
            return out;
        }
        cursor = next;
    }
}

/// Deletes every key under `prefix`.
pub async fn cleanup(prefix: &str) {
    let keys = keys(prefix).await;
    if !keys.is_empty() {
        let mut c = raw().await;
        let _: i64 = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut c)
            .await
            .unwrap();
    }
    assert!(
        self::keys(prefix).await.is_empty(),
        "keys left under {prefix}"
    );
}

/// A throwaway `redis-server` on a free port, killed when dropped.
pub struct OwnRedis {
    pub port: u16,
    child: Option<Child>,
    /// `Some((cert, key))`: TLS only, on `port`.
    tls: Option<(String, String)>,
}

impl OwnRedis {
    /// Starts one on a free port and waits until it answers.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Starts one that speaks only TLS, with this certificate and key (PEM files).
    pub async fn start_tls(cert: &str, key: &str) -> Self {
        Self::start_with(Some((cert.to_string(), key.to_string()))).await
    }

    async fn start_with(tls: Option<(String, String)>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = OwnRedis {
            port,
            child: None,
            tls,
        };
        r.restart().await;
        r
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (as an outage would).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) the server: a Redis that hangs.
    pub fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let ok = Command::new("kill")
                .args([sig, &c.id().to_string()])
                .status()
                .expect("kill")
                .success();
            assert!(ok, "kill {sig} failed");
        }
    }

    /// Starts it again on the same port (empty: nothing is saved).
    pub async fn restart(&mut self) {
        self.stop();
        let port = self.port.to_string();
        let mut cmd = Command::new("redis-server");
        match &self.tls {
            None => cmd.args(["--port", &port]),
            Some((cert, key)) => cmd
                .args([
                    "--port",
                    "0",
                    "--tls-port",
                    &port,
                    "--tls-auth-clients",
                    "no",
                ])
                .args(["--tls-cert-file", cert, "--tls-key-file", key]),
        };
        let child = cmd
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (apt-get install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.tls.is_some() {
                // Up once it accepts TCP connections.
                if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                    .await
                    .is_ok()
                {
                    return;
                }
            } else if let Ok(client) = redis::Client::open(self.url()) {
                if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                    if redis::cmd("PING")
                        .query_async::<String>(&mut c)
                        .await
                        .is_ok()
                    {
                        return;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not start",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
