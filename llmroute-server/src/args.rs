//! The server's flags and environment variables.

use std::path::PathBuf;

/// `llmroute-server` flags.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "llmroute-server",
    version,
    about = "OpenAI-compatible LLM gateway: routes, retries, keys, spend logs and caching in one binary",
    after_help = "Examples:\n  llmroute-server                          # embedded defaults: a `mock` model, and gpt-4o from AZURE_* env vars\n  llmroute-server --config config.yaml     # a LiteLLM config.yaml, unchanged\n  LLMROUTE_CONFIG_YAML=\"$(cat config.yaml)\" llmroute-server --port 4000"
)]
pub struct ServerArgs {
    /// LiteLLM-format config file. Without it: LLMROUTE_CONFIG_YAML, else embedded defaults.
    #[arg(long, short = 'c', env = "LLMROUTE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "LLMROUTE_HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to listen on.
    #[arg(long, short = 'p', env = "PORT", default_value_t = 8000)]
    pub port: u16,
    /// Folder for the generated master key and the embedded SQLite database.
    #[arg(long, env = "LLMROUTE_DATA_DIR", default_value = ".llmroute")]
    pub data_dir: PathBuf,
    /// Log format: one JSON object per line, or human-readable.
    #[arg(long, env = "LLMROUTE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `llmroute=debug`.
    #[arg(long, env = "LLMROUTE_LOG", default_value = "info")]
    pub log: String,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for CloudWatch and log pipelines).
    Json,
    /// Human-readable lines.
    Pretty,
}

/// Starts the global `tracing` subscriber. Lines are written to stderr by a background
/// thread, so a slow log pipe never stalls a request; keep the returned guard alive until
/// exit (dropping it flushes what is pending).
pub fn init_logging(
    format: LogFormat,
    filter: &str,
) -> tracing_appender::non_blocking::WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let given = filter;
    let (filter, bad_filter) = match tracing_subscriber::EnvFilter::try_new(given) {
        Ok(filter) => (filter, None),
        Err(e) => (tracing_subscriber::EnvFilter::new("info"), Some(e)),
    };
    // Colour only on a terminal, and never with NO_COLOR set to something (no-color.org;
    // the CLI reads it the same way).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder.event_format(crate::json_log::JsonLines).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    if let Some(e) = bad_filter {
        tracing::warn!(filter = given, error = %e, "the log filter (--log / LLMROUTE_LOG) is not valid, so logging is at info; write it like `info` or `llmroute=debug,info`");
    }
    guard
}
