//! One keep-alive connection sending on its slots.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::args::Args;
use crate::stats::Summary;

/// A connection and what it sends.
pub struct Conn {
    args: Args,
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    /// Connects (TCP_NODELAY, as wrk does) and starts the HTTP/1.1 connection task.
    pub async fn open(args: &Args) -> Result<Conn, String> {
        let sender = connect(args).await?;
        Ok(Conn {
            args: args.clone(),
            sender,
        })
    }

    /// Sends at `first`, `first + interval`, ... until `end` (on the runtime's 1 ms timer
    /// ticks); a slot that passed while the previous answer was still awaited is sent
    /// at once and counted as late: the rate was more than the target could take.
    pub async fn run_slots(&mut self, first: Instant, interval: Duration, end: Instant) -> Summary {
        let mut summary = Summary::default();
        let mut slot = first;
        while slot < end {
            if Instant::now() > slot {
                summary.late += 1;
            } else {
                tokio::time::sleep_until(slot.into()).await;
            }
            let sent = Instant::now();
            match self.once().await {
                Ok(()) => summary.answered(sent.elapsed()),
                Err(_) => {
                    summary.errors += 1;
                    if self.sender.is_closed() {
                        match connect(&self.args).await {
                            Ok(sender) => self.sender = sender,
                            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                }
            }
            slot += interval;
        }
        summary
    }

    /// One request, its whole answer read; an error for a non-2xx status.
    async fn once(&mut self) -> Result<(), String> {
        let a = &self.args;
        let method = if a.body.is_some() {
            Method::POST
        } else {
            Method::GET
        };
        let mut req = Request::builder()
            .method(method)
            .uri(a.url.path_and_query().map_or("/", |p| p.as_str()))
            .header(
                http::header::HOST,
                a.url.authority().map_or("", |h| h.as_str()),
            );
        if a.body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in &a.headers {
            req = req.header(name, value);
        }
        let req = req
            .body(Full::new(a.body.clone().unwrap_or_default()))
            .map_err(|e| e.to_string())?;
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| e.to_string())?;
        let ok = resp.status().is_success();
        resp.into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        if ok {
            Ok(())
        } else {
            Err("non-2xx".into())
        }
    }
}

async fn connect(args: &Args) -> Result<SendRequest<Full<Bytes>>, String> {
    let host = args.url.host().unwrap_or("127.0.0.1");
    let port = args.url.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("connecting to {host}:{port}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake with {host}:{port}: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}
