//! One HTTP exchange with Azure: POST a body; get the status, the headers and a body.
//!
//! Two ways to send, chosen once per deployment ([`Route`]):
//! - **direct**: hyper-util's pooled client over rustls (hyper-rustls), which every call
//!   takes when no proxy is configured. It skips reqwest's layers, which parsed the URL
//!   twice per request and ran a redirect policy that never redirects and a retry policy
//!   that never retries: ~30,000 of ~200,000 instructions per proxied request
//!   (docs/performance.md).
//! - **reqwest**: when `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` (less `NO_PROXY`) send
//!   the deployment's URL through a proxy, when [`crate::ClientOptions::proxy`] names one,
//!   or for a URL only reqwest's parser takes (a non-ASCII host).
//!
//! The same limits hold either way: the connect timeout (TCP and TLS), the read timeout
//! (waiting for the response head, and between body frames) and the deployment's total
//! timeout (head and body). A connect that runs out of time is a timeout, as with reqwest;
//! a request an HTTP/2 server refused unprocessed (a graceful `GOAWAY` while the
//! connection is rotated, or `REFUSED_STREAM`) is sent again, up to twice, as reqwest did.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Uri};
use http_body_util::Full;
use hyper::body::{Body, Incoming};
use hyper_util::client::legacy::Client;
use tokio::time::{Instant, Sleep};

use crate::connect::{refused_unprocessed, timed_out, TimedConnector};
use crate::stream::{full_error, BodyError};

/// hyper-util's pooled client with rustls, HTTP/1.1 and HTTP/2 (ALPN).
pub(crate) type DirectClient = Client<TimedConnector, Full<Bytes>>;

/// Times a request refused unprocessed by an HTTP/2 server is sent again.
const RESENDS: usize = 2;

/// How one deployment's calls are sent.
#[derive(Debug, Clone)]
pub(crate) enum Route {
    /// hyper-util straight to the URL (parsed once).
    Direct {
        client: Box<DirectClient>,
        uri: Uri,
        read_timeout: Duration,
    },
    /// reqwest, which knows the proxy.
    Reqwest {
        client: reqwest::Client,
        url: reqwest::Url,
    },
}

/// What is sent, besides the URL.
pub(crate) struct Outgoing {
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// The deployment's total timeout (response head and body).
    pub total: Option<Duration>,
}

/// Why a call got no response head.
#[derive(Debug)]
pub(crate) enum SendError {
    /// A limit ran out: the read timeout or the total timeout.
    Timeout(String),
    /// No connection (refused, DNS, TLS handshake, connect timeout).
    Connect(String),
    /// Anything else (the connection broke while sending, a malformed answer).
    Other(String),
}

/// A response head and its body.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: ReplyBody,
}

/// A response body, read whole or as a stream.
pub(crate) enum ReplyBody {
    Direct(DirectBody),
    Reqwest(reqwest::Response),
}

impl Route {
    /// Sends one request and waits for the response head.
    pub async fn send(&self, out: Outgoing) -> Result<Reply, SendError> {
        match self {
            Route::Direct {
                client,
                uri,
                read_timeout,
            } => send_direct(client, uri, *read_timeout, out).await,
            Route::Reqwest { client, url } => send_reqwest(client, url, out).await,
        }
    }
}

async fn send_direct(
    client: &DirectClient,
    uri: &Uri,
    read_timeout: Duration,
    out: Outgoing,
) -> Result<Reply, SendError> {
    let deadline = out.total.map(|t| Instant::now() + t);
    let head_by = read_by(read_timeout, deadline);
    let mut resends = 0;
    let response = loop {
        let mut request = Request::post(uri.clone())
            .body(Full::new(out.body.clone()))
            .map_err(|e| SendError::Other(e.to_string()))?;
        request.headers_mut().extend(out.headers.iter().cloned());
        match tokio::time::timeout_at(head_by, client.request(request)).await {
            Err(_) => return Err(SendError::Timeout("operation timed out".into())),
            Ok(Ok(response)) => break response,
            Ok(Err(e)) if resends < RESENDS && refused_unprocessed(&e) => resends += 1,
            Ok(Err(e)) if timed_out(&e) => return Err(SendError::Timeout(full_error(&e))),
            Ok(Err(e)) if e.is_connect() => return Err(SendError::Connect(full_error(&e))),
            Ok(Err(e)) => return Err(SendError::Other(full_error(&e))),
        }
    };
    let (head, incoming) = response.into_parts();
    Ok(Reply {
        status: head.status.as_u16(),
        headers: head.headers,
        body: ReplyBody::Direct(DirectBody {
            incoming,
            read_timeout,
            deadline,
            timer: Box::pin(tokio::time::sleep_until(read_by(read_timeout, deadline))),
        }),
    })
}

async fn send_reqwest(
    client: &reqwest::Client,
    url: &reqwest::Url,
    out: Outgoing,
) -> Result<Reply, SendError> {
    let mut builder = client.post(url.clone()).body(out.body);
    for (name, value) in out.headers {
        builder = builder.header(name, value);
    }
    if let Some(total) = out.total {
        builder = builder.timeout(total);
    }
    let response = builder.send().await.map_err(|e| {
        let cause = full_error(&e);
        if e.is_timeout() {
            SendError::Timeout(cause)
        } else if e.is_connect() {
            SendError::Connect(cause)
        } else {
            SendError::Other(cause)
        }
    })?;
    Ok(Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: ReplyBody::Reqwest(response),
    })
}

/// When the next read must have answered: within the read timeout from now, and never
/// after the total deadline.
fn read_by(read_timeout: Duration, deadline: Option<Instant>) -> Instant {
    let next = Instant::now() + read_timeout;
    deadline.map_or(next, |d| next.min(d))
}

impl ReplyBody {
    /// The whole body.
    pub async fn bytes(self) -> Result<Bytes, BodyError> {
        match self {
            ReplyBody::Direct(mut body) => {
                let mut out = bytes::BytesMut::new();
                while let Some(piece) = body.next().await {
                    let piece = piece?;
                    if out.is_empty() && body.is_end_stream() {
                        return Ok(piece);
                    }
                    out.extend_from_slice(&piece);
                }
                Ok(out.freeze())
            }
            ReplyBody::Reqwest(response) => response.bytes().await.map_err(BodyError::from),
        }
    }

    /// The body as it arrives.
    pub fn into_stream(self) -> BoxStream<'static, Result<Bytes, BodyError>> {
        match self {
            ReplyBody::Direct(body) => body.boxed(),
            ReplyBody::Reqwest(response) => response
                .bytes_stream()
                .map(|r| r.map_err(BodyError::from))
                .boxed(),
        }
    }
}

/// A direct response's body: each frame must come within the read timeout, and all
/// of it before the total deadline.
pub(crate) struct DirectBody {
    incoming: Incoming,
    read_timeout: Duration,
    deadline: Option<Instant>,
    timer: Pin<Box<Sleep>>,
}

impl DirectBody {
    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }
}

impl Stream for DirectBody {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match Pin::new(&mut this.incoming).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let next = read_by(this.read_timeout, this.deadline);
                    this.timer.as_mut().reset(next);
                    match frame.into_data() {
                        Ok(data) if !data.is_empty() => return Poll::Ready(Some(Ok(data))),
                        _ => continue, // trailers, empty frames
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Some(Err(BodyError {
                        timeout: false,
                        message: full_error(&e),
                    })))
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {}
            }
            return match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(BodyError {
                    timeout: true,
                    message: "operation timed out".into(),
                }))),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}
