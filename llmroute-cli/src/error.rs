//! The CLI's error: what failed and what to do, printed once to stderr by `main`.

use llmroute_core::config::ConfigError;
use llmroute_core::store::StoreError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The configuration could not be loaded.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A model call failed.
    #[error("{0}")]
    Upstream(String),
    /// The server answered with an error or could not be reached.
    #[error("{0}")]
    Server(String),
    /// The command line or an input value is wrong.
    #[error("{0}")]
    Usage(String),
    /// Reading input or writing output failed.
    #[error("{0}")]
    Io(String),
    /// Anything else, already phrased for the operator.
    #[error("{0}")]
    Other(String),
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Io(e.to_string())
    }
}
