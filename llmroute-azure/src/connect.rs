//! The direct client's connector: TCP, then TLS for `https://`, within one connect
//! timeout (hyper-util's own timeout covers the TCP connect only: a peer that accepts the
//! connection and never answers the TLS hello would otherwise hold a call until the read
//! timeout).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// [`HttpsConnector`] with a deadline on the whole connect.
#[derive(Clone)]
pub(crate) struct TimedConnector {
    pub inner: HttpsConnector<HttpConnector>,
    pub timeout: Duration,
}

impl tower_service::Service<Uri> for TimedConnector {
    type Response = MaybeHttpsStream<TokioIo<TcpStream>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(done) => done,
                Err(_) => Err(Box::new(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "connecting (TCP and TLS) took longer than the connect timeout of {:.1}s",
                        timeout.as_secs_f64()
                    ),
                )) as BoxError),
            }
        })
    }
}

/// An error and its causes, outermost first.
fn chain<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}

/// Whether an error's chain holds a timed-out I/O error (a connect that ran out of time).
pub(crate) fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    chain(e).any(|err| {
        err.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::TimedOut)
    })
}

/// Whether an HTTP/2 server refused a request without processing it: a graceful
/// `GOAWAY` (the connection is being rotated) or a `REFUSED_STREAM` reset. Such a request
/// is safe to send again, as reqwest did.
pub(crate) fn refused_unprocessed(e: &(dyn std::error::Error + 'static)) -> bool {
    chain(e)
        .find_map(|err| err.downcast_ref::<h2::Error>())
        .is_some_and(|h2| {
            let reason = h2.reason();
            h2.is_remote()
                && ((h2.is_go_away() && reason == Some(h2::Reason::NO_ERROR))
                    || (h2.is_reset() && reason == Some(h2::Reason::REFUSED_STREAM)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapped(io::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error (Connect)")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_timed_out_cause_anywhere_in_the_chain_is_a_timeout() {
        let timed = Wrapped(io::Error::new(io::ErrorKind::TimedOut, "slow"));
        assert!(timed_out(&timed));
        let refused = Wrapped(io::Error::new(io::ErrorKind::ConnectionRefused, "no"));
        assert!(!timed_out(&refused));
        assert!(!refused_unprocessed(&refused));
    }
}
