//! Runs the fake Azure OpenAI server until Ctrl-C, for manual tests and the benchmark.
//!
//! ```text
//! cargo run -p llmroute-azure --features fake --bin fake_azure -- \
//!     --port 9100 [--host 127.0.0.1] [--deployment NAME]... [--api-key K] \
//!     [--chunks N] [--latency-ms MS] [--chunk-delay-ms MS] [--text TEXT]
//! ```
//!
//! Prints `fake azure listening on http://HOST:PORT` once it accepts connections.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use llmroute_azure::fake::{FakeAzure, FakeConfig};

fn usage() -> ! {
    eprintln!(
        "usage: fake_azure [--port N] [--host IP] [--deployment NAME]... [--api-key K] \
         [--chunks N] [--latency-ms MS] [--chunk-delay-ms MS] [--text TEXT]"
    );
    std::process::exit(2)
}

fn parse<T: std::str::FromStr>(flag: &str, value: Option<String>) -> T {
    match value.as_deref().map(str::parse) {
        Some(Ok(v)) => v,
        _ => {
            eprintln!("fake_azure: {flag} needs a valid value");
            usage()
        }
    }
}

#[tokio::main]
async fn main() {
    let mut cfg = FakeConfig::default();
    let mut deployments = Vec::new();
    let mut port: u16 = 9100;
    let mut host: IpAddr = IpAddr::from([127, 0, 0, 1]);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--port" => port = parse(&flag, args.next()),
            "--host" => host = parse(&flag, args.next()),
            "--deployment" => deployments.push(parse::<String>(&flag, args.next())),
            "--api-key" => cfg.api_key = parse(&flag, args.next()),
            "--chunks" => cfg.stream_chunks = parse(&flag, args.next()),
            "--latency-ms" => cfg.latency = Duration::from_millis(parse(&flag, args.next())),
            "--chunk-delay-ms" => {
                cfg.chunk_delay = Duration::from_millis(parse(&flag, args.next()))
            }
            "--text" => cfg.response_text = parse(&flag, args.next()),
            "-h" | "--help" => usage(),
            other => {
                eprintln!("fake_azure: unknown flag {other}");
                usage()
            }
        }
    }
    if !deployments.is_empty() {
        cfg.deployments = deployments;
    }
    let summary = format!("deployments {:?}, api-key {}", cfg.deployments, cfg.api_key);
    let fake = match FakeAzure::start_on(SocketAddr::new(host, port), cfg).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fake_azure: cannot listen on {host}:{port}: {e}");
            std::process::exit(1)
        }
    };
    println!("fake azure listening on {} ({summary})", fake.base_url());
    let _ = tokio::signal::ctrl_c().await;
}
