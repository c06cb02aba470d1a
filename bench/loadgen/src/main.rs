//! `loadgen`: POSTs (or GETs) one request at a fixed rate over a fixed number of
//! keep-alive connections, and prints one JSON line of latency percentiles.
//!
//! wrk is a closed loop: each connection sends its next request when the last answer
//! arrives, so at 16 connections every process on the machine is saturated and its
//! latency is mostly queueing. This is the open loop the latency targets call for: the
//! send times are fixed in advance (rate / connections apart on each connection), so
//! a slow answer does not slow the load, and the latency of each request is what it
//! costs, not how long it queued behind others.
//!
//! ```text
//! loadgen --url http://127.0.0.1:8000/v1/chat/completions --rate 2000 --connections 16 \
//!     --duration 5 [--warmup 1] [--header 'authorization: Bearer K']... [--body JSON] [--label L]
//! ```
//!
//! The line: `{"label","requests","seconds","rps","p50_ms","p90_ms","p99_ms","p999_ms",
//! "max_ms","errors","late"}`; `late` counts requests whose slot passed while their
//! connection still waited on the previous answer, which says the rate was more than
//! the target could take. Sends happen on the runtime's timer ticks (1 ms), so at 2,000
//! req/s two requests leave together on two connections, as bursts do in real traffic.

mod args;
mod conn;
mod stats;

use std::time::{Duration, Instant};

use args::Args;
use stats::Summary;

fn main() -> std::process::ExitCode {
    let args = <Args as clap::Parser>::parse();
    // One thread: the generator must not take more than its share of a small machine.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: starting the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(summary) => {
            println!("{}", summary.json(&args.label));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Warms up, then measures for `args.duration`.
async fn run(args: &Args) -> Result<Summary, String> {
    if !args.warmup.is_zero() {
        phase(args, args.warmup).await?;
    }
    phase(args, args.duration).await
}

/// One phase: every connection sends on its own slots until `length` has passed.
async fn phase(args: &Args, length: Duration) -> Result<Summary, String> {
    let interval = Duration::from_secs_f64(args.connections as f64 / args.rate);
    let start = Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::with_capacity(args.connections as usize);
    for i in 0..args.connections {
        let mut conn = conn::Conn::open(args).await?;
        // Slots are spread over the interval, one connection after another.
        let first = start + interval.mul_f64(i as f64 / args.connections as f64);
        let end = start + length;
        tasks.push(tokio::spawn(async move {
            conn.run_slots(first, interval, end).await
        }));
    }
    let mut summary = Summary::default();
    for task in tasks {
        summary.merge(
            task.await
                .map_err(|e| format!("a connection task failed: {e}"))?,
        );
    }
    summary.seconds = length.as_secs_f64();
    Ok(summary)
}
