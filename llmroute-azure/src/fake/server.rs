//! The fake's HTTP plumbing: accept loop, per-connection hyper service, routing, and a
//! socket wrapper that can end a connection with a TCP reset.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::{canned, chat, token, State};

/// Response body of the fake.
pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Returned by the service to drop the connection without answering.
#[derive(Debug)]
pub(crate) struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fake azure: scripted connection reset")
    }
}

impl std::error::Error for Reset {}

/// A whole body.
pub(crate) fn full(bytes: Bytes) -> Body {
    UnsyncBoxBody::new(Full::new(bytes))
}

/// A JSON response with Azure's standard headers.
pub(crate) fn json_response(state: &State, status: StatusCode, body: Bytes) -> Response<Body> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    azure_headers(state, resp.headers_mut(), "application/json");
    resp
}

/// `apim-request-id`, rate-limit headroom, region and content type.
pub(crate) fn azure_headers(
    state: &State,
    headers: &mut http::HeaderMap,
    content_type: &'static str,
) {
    let n = state.seq.fetch_add(1, Ordering::Relaxed);
    let id = format!("{:08x}-fa4e-4a2e-9b00-{n:012x}", n as u32);
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    if let Ok(v) = http::HeaderValue::from_str(&id) {
        headers.insert("apim-request-id", v.clone());
        headers.insert("x-request-id", v);
    }
    let (requests, tokens, region) = &state.canned.headers;
    headers.insert("x-ratelimit-remaining-requests", requests.clone());
    headers.insert("x-ratelimit-remaining-tokens", tokens.clone());
    headers.insert("x-ms-region", region.clone());
}

/// Accepts connections until the task is aborted; aborting drops every connection.
pub(crate) async fn serve(listener: TcpListener, state: Arc<State>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    state.connections.fetch_add(1, Ordering::Relaxed);
                    let _ = tcp.set_nodelay(true);
                    connections.spawn(connection(tcp, state.clone()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn connection(tcp: TcpStream, state: Arc<State>) {
    let reset = Arc::new(AtomicBool::new(false));
    let io = ResettableIo {
        tcp,
        reset: reset.clone(),
    };
    let service = service_fn(move |req| handle(state.clone(), reset.clone(), req));
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(io), service)
        .await;
}

async fn handle(
    state: Arc<State>,
    reset: Arc<AtomicBool>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Reset> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(Reset),
    };
    let path = parts.uri.path();
    if parts.method == http::Method::POST && path.ends_with("/oauth2/v2.0/token") {
        return Ok(token::handle(&state, &body).await);
    }
    let route = chat::Route::of(path);
    match (parts.method == http::Method::POST, route) {
        (true, Some(route)) => match chat::handle(&state, route, &parts, body).await {
            chat::Outcome::Response(r) => Ok(r),
            chat::Outcome::Reset => {
                reset.store(true, Ordering::Relaxed);
                Err(Reset)
            }
        },
        _ => Ok(json_response(
            &state,
            StatusCode::NOT_FOUND,
            canned::gateway_error("404", "Resource not found"),
        )),
    }
}

/// A TCP stream that, when flagged, closes with `SO_LINGER=0` (an RST) on drop.
struct ResettableIo {
    tcp: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableIo {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            let _ = self.tcp.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.reset.load(Ordering::Relaxed) {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionReset, Reset)));
        }
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}
