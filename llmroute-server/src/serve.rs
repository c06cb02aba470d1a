//! Accepting connections, graceful shutdown on SIGTERM / SIGINT, reload on SIGHUP.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use llmroute_core::config::ConfigSource;
use tokio::net::TcpListener;

use crate::args::ServerArgs;
use crate::gateway::{Gateway, Options, StartError};
use crate::http::routes;
use crate::master_key::MasterKeySource;
use crate::metrics::ReasonLabels;

/// Runs the server until SIGTERM / SIGINT: the whole life of `llmroute-server`.
pub async fn run(args: ServerArgs) -> Result<(), StartError> {
    let began = Instant::now();
    let source = ConfigSource::detect(args.config_file(), &|n| std::env::var(n).ok());
    let config = source.load()?;
    if let Some(warning) = config.unsupported_warning() {
        tracing::warn!("{warning}");
    }
    let options = Options {
        source,
        data_dir: args.data_dir.clone(),
    };
    let gateway = Gateway::build(config, options).await?;
    announce_master_key(&gateway);
    let addr = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| StartError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    // Signal handlers exist before "ready": a SIGTERM right after start is graceful too.
    let shutdown = shutdown_signal()?;
    reload_on_sighup(gateway.clone())?;
    let routing = gateway.routing();
    tracing::info!(
        address = %local,
        config = %routing.config.source,
        models = ?routing.config.model_names(),
        ready_ms = began.elapsed().as_secs_f64() * 1000.0,
        "llmroute-server ready"
    );
    drop(routing);
    serve(gateway, listener, shutdown).await;
    Ok(())
}

fn announce_master_key(gw: &Gateway) {
    // Paths are made absolute, so the line is useful wherever it is read (container
    // logs, a service started from another folder).
    let absolute = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    match &gw.master_key_source {
        MasterKeySource::Config => tracing::info!("master key: from general_settings.master_key"),
        MasterKeySource::File(path) => {
            tracing::info!(path = %absolute(path).display(), "master key: read from file")
        }
        MasterKeySource::Created(path) => {
            let path = absolute(path);
            tracing::warn!(path = %path.display(), "no master key configured: created one and stored it (mode 0600)");
            eprintln!(
                "llmroute: no master key was configured, so one was created and stored in {} (readable by you only).\n\
                 llmroute: use it as: Authorization: Bearer $(cat {})",
                path.display(),
                path.display()
            );
        }
    }
}

/// Serves connections from `listener` until `shutdown` resolves, then stops accepting
/// and waits (up to the configured grace period) for in-flight requests and streams.
/// When the grace period runs out, the connections left are dropped: a request cut this
/// way is recorded with what is known (a stream's prompt and the chunks sent), as when
/// its caller goes away. Then the pending request logs are written.
pub async fn serve(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    // The connection tasks, so the ones still open when the grace period ends can be
    // dropped before the logs are flushed (finished ones are reaped as they end).
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _peer): (_, SocketAddr) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let gw = gateway.clone();
                let service = service_fn(move |req| {
                    let gw = gw.clone();
                    async move { Ok::<_, Infallible>(routes::serve(gw, req).await) }
                });
                let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                connections.spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    let grace = gateway.routing().config.general.graceful_shutdown;
    tracing::info!(
        grace_seconds = grace.as_secs_f64(),
        "shutting down: no new connections; finishing in-flight requests"
    );
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections finished"),
        _ = tokio::time::sleep(grace) => {
            tracing::warn!(
                connections = connections.len(),
                "grace period over: closing the remaining connections"
            );
            // Dropping a connection drops its handler and body, which close the request's
            // ledger (logged, and queued for the store) before the flush below.
            connections.abort_all();
            let drained = async { while connections.join_next().await.is_some() {} };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drained).await;
        }
    }
    gateway.flush().await;
}

/// A future that resolves on SIGTERM or SIGINT; the handlers are installed now.
fn shutdown_signal() -> Result<impl Future<Output = ()>, StartError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let install = |kind: SignalKind, name: &str| {
            signal(kind)
                .map_err(|e| StartError::Signal(format!("installing the {name} handler: {e}")))
        };
        let mut term = install(SignalKind::terminate(), "SIGTERM")?;
        let mut int = install(SignalKind::interrupt(), "SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// Reloads the config on every SIGHUP (handler installed now, served by a task).
fn reload_on_sighup(gateway: Arc<Gateway>) -> Result<(), StartError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup())
            .map_err(|e| StartError::Signal(format!("installing the SIGHUP handler: {e}")))?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                reload(&gateway);
            }
        });
    }
    #[cfg(not(unix))]
    let _ = gateway;
    Ok(())
}

fn reload(gateway: &Gateway) {
    match gateway.reload() {
        Ok(()) => {
            gateway
                .metrics
                .reloads
                .get_or_create(&ReasonLabels { reason: "ok" })
                .inc();
            let routing = gateway.routing();
            if let Some(w) = routing.config.unsupported_warning() {
                tracing::warn!("{w}");
            }
            tracing::info!(models = ?routing.config.model_names(), "config reloaded");
        }
        Err(e) => {
            gateway
                .metrics
                .reloads
                .get_or_create(&ReasonLabels { reason: "failed" })
                .inc();
            tracing::error!(error = %e, "config reload failed; the previous config stays in use");
        }
    }
}
