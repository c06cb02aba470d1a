//! # llmroute-cli
//!
//! The `llmroute` command line, as a library so every piece is testable:
//!
//! - [`args`]: the flags and subcommands (clap derive), with examples in every `--help`;
//! - [`cmd`]: one module per subcommand (`chat`, `keys`, `spend`, `import-litellm`,
//!   `models`, `config`, `healthcheck`, `completions`);
//! - [`doctor`]: the checks behind `llmroute doctor`, each a plain async function that
//!   returns [`doctor::Check`] lines (unit-tested without the binary);
//! - [`admin`]: a small client for the server's LiteLLM-compatible admin API;
//! - [`output`]: colour only on a terminal and without `NO_COLOR`, tables, spinners;
//! - [`context`]: loading the config and opening the store the way the server does.
//!
//! `main.rs` parses the flags and calls [`run`]; errors go to stderr with exit code 1
//! (2 for usage errors, from clap).

pub mod admin;
pub mod args;
pub mod cmd;
pub mod context;
pub mod doctor;
pub mod error;
pub mod output;
pub mod pg;
pub mod time;

pub use error::CliError;

/// Runs one parsed command line; returns the process exit code.
pub async fn run(cli: args::Cli) -> Result<u8, CliError> {
    use args::Command;
    let out = output::Output::detect(cli.no_color);
    match cli.command {
        Command::Chat(a) => cmd::chat::run(a, &out).await,
        Command::Keys(a) => cmd::keys::run(a, &out).await,
        Command::Spend(a) => cmd::spend::run(a, &out).await,
        Command::ImportLitellm(a) => cmd::import::run(a, &out).await,
        Command::Models(a) => cmd::models::run(a, &out).await,
        Command::Config(a) => cmd::config::run(a, &out),
        Command::Doctor(a) => doctor::run(a, &out).await,
        Command::Healthcheck(a) => cmd::healthcheck::run(a).await,
        Command::Completions(a) => cmd::completions::run(a),
    }
}
