//! A TCP proxy on 127.0.0.1 between a test and its database, to make outages without
//! touching the real database:
//!
//! - [`Proxy::cut`] closes every connection and refuses new ones (a fast failure, like a
//!   database that is down); [`Proxy::restore`] accepts connections again.
//! - [`Proxy::stall`] keeps every connection open but stops forwarding bytes in both
//!   directions, and new connections are accepted and stalled too (a slow failure, like
//!   a database that hangs or a network path that drops packets); [`Proxy::resume`]
//!   lets the held bytes through.
//! - [`Proxy::stall_open`] stalls only the connections open now, forever, while new
//!   ones flow (the old connections of a failed-over database whose packets go nowhere).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The proxy; it stops with the test's runtime.
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
    flowing: watch::Sender<bool>,
    /// Connections numbered below this are stalled for good ([`Proxy::stall_open`]).
    stalled_below: watch::Sender<u64>,
    accepted: Arc<AtomicU64>,
}

impl Proxy {
    /// Forwards 127.0.0.1:<ephemeral> to `target`.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        let up = Arc::new(AtomicBool::new(true));
        let accepted = Arc::new(AtomicU64::new(0));
        let (cut, _) = watch::channel(0u64);
        let (flowing, _) = watch::channel(true);
        let (stalled_below, _) = watch::channel(0u64);
        let proxy = Proxy {
            addr,
            up: up.clone(),
            cut: cut.clone(),
            flowing: flowing.clone(),
            stalled_below: stalled_below.clone(),
            accepted: accepted.clone(),
        };
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let number = accepted.fetch_add(1, Ordering::SeqCst);
                if !up.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut_rx = cut.subscribe();
                let gate = Gate {
                    number,
                    flowing: flowing.subscribe(),
                    stalled_below: stalled_below.subscribe(),
                };
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::select! {
                        _ = async {
                            tokio::join!(
                                pump(client_read, server_write, gate.clone()),
                                pump(server_read, client_write, gate),
                            )
                        } => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        proxy
    }

    /// Closes every connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// Stops forwarding bytes on every connection, open or new, without closing any.
    pub fn stall(&self) {
        self.flowing.send_replace(false);
    }

    /// Forwards bytes again after [`Proxy::stall`], the held ones first.
    pub fn resume(&self) {
        self.flowing.send_replace(true);
    }

    /// Stalls the connections open now for good (never resumed, never closed until the
    /// proxy stops); connections made afterwards flow.
    pub fn stall_open(&self) {
        let now = self.accepted.load(Ordering::SeqCst);
        self.stalled_below.send_replace(now);
    }
}

/// Whether one connection may forward bytes now.
#[derive(Clone)]
struct Gate {
    number: u64,
    flowing: watch::Receiver<bool>,
    stalled_below: watch::Receiver<u64>,
}

impl Gate {
    /// Waits until bytes may pass; `false` when the proxy is gone.
    async fn open(&mut self) -> bool {
        loop {
            if *self.stalled_below.borrow_and_update() > self.number {
                // Stalled for good: held open, silent, until the proxy stops.
                let _ = self.stalled_below.wait_for(|_| false).await;
                return false;
            }
            if *self.flowing.borrow_and_update() {
                return true;
            }
            let changed = tokio::select! {
                r = self.flowing.changed() => r,
                r = self.stalled_below.changed() => r,
            };
            if changed.is_err() {
                return false;
            }
        }
    }
}

/// Copies `from` to `to` while the gate is open; a chunk read just before a stall is
/// held until the stall ends.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut gate: Gate) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !gate.open().await {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        if !gate.open().await || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
