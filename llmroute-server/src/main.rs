//! `llmroute-server`: parse flags, start logging, run the gateway.

use clap::Parser;
use llmroute_server::args::{init_logging, ServerArgs};

/// mimalloc instead of glibc's malloc: the proxy allocates and frees many small buffers
/// per request, and glibc's allocator was ~16% of its CPU under load (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = ServerArgs::parse();
    let _log_guard = init_logging(args.log_format, &args.log);
    match llmroute_server::serve::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("llmroute-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
