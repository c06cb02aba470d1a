//! The server's flags and environment variables.

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;

use crate::log_output::{LogOutput, LogOutputGuard};

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
    // An empty value (`LLMROUTE_CONFIG=`) is accepted here and means "not set" (see
    // `config_file`); clap's path parser would refuse to start on it.
    #[arg(long, short = 'c', env = "LLMROUTE_CONFIG",
          value_parser = clap::builder::OsStringValueParser::new().map(PathBuf::from))]
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

impl ServerArgs {
    /// The config file given by `--config` / `LLMROUTE_CONFIG`; an empty value counts as
    /// not set, as `ConfigSource::detect` treats an empty `LLMROUTE_CONFIG`.
    pub fn config_file(&self) -> Option<PathBuf> {
        self.config.clone().filter(|p| !p.as_os_str().is_empty())
    }
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for CloudWatch and log pipelines).
    Json,
    /// Human-readable lines.
    Pretty,
}

/// Starts the global `tracing` subscriber. Lines are written to stderr in batches by a
/// background thread ([`crate::log_output`]), so a slow log pipe never stalls a request;
/// keep the returned guard alive until exit (dropping it writes what is pending).
pub fn init_logging(format: LogFormat, filter: &str) -> Option<LogOutputGuard> {
    let (writer, guard) = match LogOutput::spawn(std::io::stderr()) {
        Ok((writer, guard)) => (writer, guard),
        Err(e) => {
            eprintln!("llmroute-server: cannot start the log writer thread ({e}); logging is off");
            return None;
        }
    };
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
    Some(guard)
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::*;

    /// Parses `argv` as the binary would, but with every `env` fallback switched off, so
    /// the test process's own `PORT` / `LLMROUTE_HOST` / ... cannot change the result
    /// (clap reads the environment even in `try_parse_from`).
    fn parse_without_env(argv: &[&str]) -> ServerArgs {
        let cmd = ServerArgs::command().mut_args(|a| a.env(None::<&str>));
        let matches = cmd.try_get_matches_from(argv).expect("parses");
        ServerArgs::from_arg_matches(&matches).expect("args")
    }

    #[test]
    fn no_arguments_listen_on_all_interfaces_port_8000_with_embedded_defaults() {
        let args = parse_without_env(&["llmroute-server"]);
        assert_eq!(args.host, "0.0.0.0");
        assert_eq!(args.port, 8000);
        assert_eq!(args.config, None);
        assert_eq!(args.data_dir, PathBuf::from(".llmroute"));
        assert_eq!(args.log_format, LogFormat::Json);
        assert_eq!(args.log, "info");
    }

    #[test]
    fn an_empty_config_value_counts_as_not_set() {
        let args = parse_without_env(&["llmroute-server", "--config", ""]);
        assert_eq!(args.config_file(), None);
        let args = parse_without_env(&["llmroute-server", "-c", "a.yaml"]);
        assert_eq!(args.config_file(), Some(PathBuf::from("a.yaml")));
    }

    #[test]
    fn flags_override_the_defaults() {
        let args = parse_without_env(&[
            "llmroute-server",
            "--host",
            "127.0.0.1",
            "-p",
            "4000",
            "-c",
            "config.yaml",
            "--log-format",
            "pretty",
        ]);
        assert_eq!(
            (args.host.as_str(), args.port),
            ("127.0.0.1", 4000),
            "{args:?}"
        );
        assert_eq!(args.config, Some(PathBuf::from("config.yaml")));
        assert_eq!(args.log_format, LogFormat::Pretty);
    }

    /// The variable each flag falls back to, as docs/server.md lists them
    /// (tests/defaults.rs checks that the binary really reads them).
    #[test]
    fn each_flag_reads_its_documented_environment_variable() {
        let cmd = ServerArgs::command();
        let env_of = |id: &str| {
            cmd.get_arguments()
                .find(|a| a.get_id() == id)
                .and_then(|a| a.get_env())
                .and_then(|e| e.to_str())
                .map(str::to_string)
        };
        let expected = [
            ("config", "LLMROUTE_CONFIG"),
            ("host", "LLMROUTE_HOST"),
            ("port", "PORT"),
            ("data_dir", "LLMROUTE_DATA_DIR"),
            ("log_format", "LLMROUTE_LOG_FORMAT"),
            ("log", "LLMROUTE_LOG"),
        ];
        for (id, var) in expected {
            assert_eq!(env_of(id).as_deref(), Some(var), "--{id}");
        }
    }
}
