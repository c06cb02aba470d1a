//! `llmroute completions bash|zsh|fish`: the shell completion script on stdout.

use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs};
use crate::error::CliError;

/// Prints the completion script for the shell.
pub fn run(args: CompletionsArgs) -> Result<u8, CliError> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "llmroute", &mut std::io::stdout());
    Ok(0)
}
