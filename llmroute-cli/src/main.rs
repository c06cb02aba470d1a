//! `llmroute`: parse the command line, run it, print errors to stderr.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = llmroute_cli::args::Cli::parse();
    let no_color = cli.no_color;
    match llmroute_cli::run(cli).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let out = llmroute_cli::output::Output::detect_stderr(no_color);
            eprintln!("{} {e}", out.red("error:"));
            ExitCode::from(1)
        }
    }
}
