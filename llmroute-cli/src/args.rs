//! The command line: flags, subcommands and the examples every `--help` shows.

use clap::builder::TypedValueParser as _;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `llmroute`.
#[derive(Debug, Parser)]
#[command(
    name = "llmroute",
    version,
    about = "llmroute: one-off completions, virtual keys, spend, LiteLLM import, config check and doctor",
    after_help = "Examples:\n  llmroute chat \"Say hi\"                          # embedded: straight to the config's providers\n  llmroute chat --server http://localhost:8000 -m gpt-4o \"Say hi\"\n  llmroute keys create --alias team-a --models gpt-4o --max-budget 50 --budget-duration 30d\n  llmroute spend --since 7d --by model\n  llmroute doctor --config config.yaml\n  llmroute completions bash > /etc/bash_completion.d/llmroute"
)]
pub struct Cli {
    /// Never print ANSI colours (also: NO_COLOR=1).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the config comes from (as the server reads it).
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// LiteLLM-format config file. Without it: LLMROUTE_CONFIG_YAML, else embedded defaults.
    // An empty value (`LLMROUTE_CONFIG=`) is accepted and means "not set", as the server
    // reads it; clap's path parser would refuse to run on it.
    #[arg(long, short = 'c', env = "LLMROUTE_CONFIG", global = true,
          value_parser = clap::builder::OsStringValueParser::new().map(PathBuf::from))]
    pub config: Option<PathBuf>,
    /// Folder of the embedded SQLite database and the generated master key.
    #[arg(
        long,
        env = "LLMROUTE_DATA_DIR",
        default_value = ".llmroute",
        global = true
    )]
    pub data_dir: PathBuf,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// One chat completion, streamed to the terminal as it arrives.
    #[command(
        after_help = "Examples:\n  llmroute chat \"What is 2+2?\"\n  echo \"Summarise this\" | llmroute chat -m gpt-4o -s \"Be brief\" -\n  llmroute chat --no-stream --json \"hi\" | jq .choices[0].message.content\n  LLMROUTE_API_KEY=sk-... llmroute chat --server https://llm.example.com \"hi\""
    )]
    Chat(ChatArgs),
    /// Create, list, inspect, change and revoke virtual keys.
    #[command(
        after_help = "Examples:\n  llmroute keys create --alias team-a --models gpt-4o --max-budget 50 --budget-duration 30d --rpm-limit 60\n  llmroute keys list\n  llmroute keys info sk-...\n  llmroute keys update sk-... --max-budget 100\n  llmroute keys revoke sk-...\n  llmroute keys list --server https://llm.example.com --master-key \"$LLMROUTE_MASTER_KEY\""
    )]
    Keys(KeysArgs),
    /// A table of requests, tokens and cost.
    #[command(
        after_help = "Examples:\n  llmroute spend                      # per day, last 30 days\n  llmroute spend --since 7d --by model\n  llmroute spend --key sk-... --by day --json"
    )]
    Spend(SpendArgs),
    /// Move a LiteLLM deployment's virtual keys (and optionally its spend logs) into llmroute.
    #[command(
        name = "import-litellm",
        after_help = "Examples:\n  llmroute import-litellm --from postgres://litellm:pw@old-db:5432/litellm --dry-run\n  llmroute import-litellm --from postgres://litellm:pw@old-db:5432/litellm --spend-logs\n\nLiteLLM stores the SHA-256 of each key, as llmroute does, so the keys users hold keep working.\nRunning it twice imports nothing twice."
    )]
    ImportLitellm(ImportArgs),
    /// The model names this config (or a server) serves.
    #[command(
        after_help = "Examples:\n  llmroute models --config config.yaml\n  llmroute models --server http://localhost:8000 --key sk-..."
    )]
    Models(ModelsArgs),
    /// Validate the config; print it resolved, with secrets redacted.
    #[command(
        after_help = "Examples:\n  llmroute config check --config config.yaml\n  llmroute config check --show"
    )]
    Config(ConfigCmdArgs),
    /// Check config, environment, database, Redis, each deployment and a server, with the fix for each failure.
    #[command(
        after_help = "Examples:\n  llmroute doctor --config config.yaml\n  llmroute doctor --no-spend              # skip the one-token request per deployment\n  llmroute doctor --server https://llm.example.com --key sk-...\n  llmroute doctor --json | jq '.checks[] | select(.status == \"fail\")'\n\nEach line is ✓ (pass), ! (warning) or ✗ (fail, with the fix). Exit code 0 when nothing failed, 1 otherwise."
    )]
    Doctor(DoctorArgs),
    /// Exit 0 when the server's /health answers 200, 1 otherwise (for container HEALTHCHECKs).
    #[command(
        after_help = "Examples:\n  llmroute healthcheck\n  llmroute healthcheck --url http://127.0.0.1:4000/health --timeout 1s\n\nDockerfile:\n  HEALTHCHECK CMD [\"/llmroute\", \"healthcheck\"]"
    )]
    Healthcheck(HealthcheckArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  llmroute completions bash > ~/.local/share/bash-completion/completions/llmroute\n  llmroute completions zsh > \"${fpath[1]}/_llmroute\"\n  llmroute completions fish > ~/.config/fish/completions/llmroute.fish"
    )]
    Completions(CompletionsArgs),
}

/// `llmroute chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The prompt; `-` or nothing reads it from standard input.
    pub prompt: Option<String>,
    /// Model name (default: the config's first model, or the server's first).
    #[arg(long, short = 'm')]
    pub model: Option<String>,
    /// A system message.
    #[arg(long, short = 's')]
    pub system: Option<String>,
    /// Wait for the whole answer instead of streaming it.
    #[arg(long)]
    pub no_stream: bool,
    /// Print the whole response as JSON (implies --no-stream).
    #[arg(long)]
    pub json: bool,
    /// Output token limit.
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Send through this llmroute server instead of calling providers directly.
    #[arg(long, env = "LLMROUTE_SERVER")]
    pub server: Option<String>,
    /// Key for --server (a virtual key or the master key).
    #[arg(long, env = "LLMROUTE_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Config (embedded mode).
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Where key and spend commands act: the database, or a server's admin API.
#[derive(Debug, Clone, Args)]
pub struct AdminTarget {
    /// Use this server's admin API instead of the database.
    #[arg(long, env = "LLMROUTE_SERVER", global = true)]
    pub server: Option<String>,
    /// Master key for --server.
    #[arg(
        long,
        env = "LLMROUTE_MASTER_KEY",
        hide_env_values = true,
        global = true
    )]
    pub master_key: Option<String>,
    /// Database (postgres://… or sqlite://…); default: the config's database_url, else the embedded SQLite file.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,
    /// Config (for database_url and master_key).
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `llmroute keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// Database or server.
    #[command(flatten)]
    pub target: AdminTarget,
    /// Print JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// The action.
    #[command(subcommand)]
    pub action: KeysAction,
}

/// Fields of a key (LiteLLM's names).
#[derive(Debug, Clone, Default, Args)]
pub struct KeyFields {
    /// Models the key may call, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub models: Option<Vec<String>>,
    /// Dollars per budget period (or in all).
    #[arg(long)]
    pub max_budget: Option<f64>,
    /// Budget period: 30s, 30m, 1h, 7d, 1w, 1mo.
    #[arg(long)]
    pub budget_duration: Option<String>,
    /// Requests per minute.
    #[arg(long)]
    pub rpm_limit: Option<u64>,
    /// Tokens per minute.
    #[arg(long)]
    pub tpm_limit: Option<u64>,
    /// Expiry: a duration from now (30d) or a date (2025-12-31).
    #[arg(long)]
    pub expires: Option<String>,
    /// A readable name.
    #[arg(long)]
    pub alias: Option<String>,
    /// Metadata, a JSON object.
    #[arg(long)]
    pub metadata: Option<String>,
}

/// `llmroute keys <action>`.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Create a key; it is printed once and only its hash is stored.
    #[command(
        after_help = "Examples:\n  llmroute keys create --alias team-a --models gpt-4o,gpt-4o-mini --max-budget 50 --budget-duration 30d\n  llmroute keys create --alias ci --rpm-limit 60 --tpm-limit 100000 --expires 90d --metadata '{\"team\":\"ci\"}'\n  llmroute keys create --alias team-a --json | jq -r .key\n  llmroute keys create --server https://llm.example.com --master-key \"$LLMROUTE_MASTER_KEY\" --alias team-b"
    )]
    Create {
        /// The key's fields.
        #[command(flatten)]
        fields: KeyFields,
        /// Use this key (must start with sk-) instead of a generated one.
        #[arg(long)]
        key: Option<String>,
    },
    /// List keys, newest first.
    #[command(
        after_help = "Examples:\n  llmroute keys list\n  llmroute keys list --page 2 --size 20\n  llmroute keys list --json | jq '.keys[].key_alias'\n  llmroute keys list --server https://llm.example.com --master-key \"$LLMROUTE_MASTER_KEY\""
    )]
    List {
        /// Page, from 1.
        #[arg(long, default_value_t = 1)]
        page: u32,
        /// Keys per page.
        #[arg(long, default_value_t = 50)]
        size: u32,
    },
    /// Show one key (by the key itself or its SHA-256 hash).
    #[command(
        after_help = "Examples:\n  llmroute keys info sk-...\n  llmroute keys info 3f5a...e9          # the 64-character SHA-256 hash, as `keys list` shows it\n  llmroute keys info sk-... --json"
    )]
    Info {
        /// sk-… or a 64-character hash.
        key: String,
    },
    /// Change a key's fields.
    #[command(
        after_help = "Examples:\n  llmroute keys update sk-... --max-budget 100 --budget-duration 30d\n  llmroute keys update sk-... --models gpt-4o --rpm-limit 120\n  llmroute keys update sk-... --block\n  llmroute keys update sk-... --unblock --reset-spend"
    )]
    Update {
        /// sk-… or a 64-character hash.
        key: String,
        /// New fields.
        #[command(flatten)]
        fields: KeyFields,
        /// Block the key.
        #[arg(long, conflicts_with = "unblock")]
        block: bool,
        /// Unblock the key.
        #[arg(long)]
        unblock: bool,
        /// Set the spend back to 0.
        #[arg(long)]
        reset_spend: bool,
    },
    /// Delete keys; they stop working at once.
    #[command(
        after_help = "Examples:\n  llmroute keys revoke sk-...\n  llmroute keys revoke sk-aaa... sk-bbb...\n  llmroute keys revoke sk-... --server https://llm.example.com --master-key \"$LLMROUTE_MASTER_KEY\""
    )]
    Revoke {
        /// sk-… or 64-character hashes.
        #[arg(required = true)]
        keys: Vec<String>,
    },
}

/// `--by` of `llmroute spend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SpendBy {
    /// One row per UTC day.
    Day,
    /// One row per key.
    Key,
    /// One row per model.
    Model,
}

/// `llmroute spend`.
#[derive(Debug, Args)]
pub struct SpendArgs {
    /// Database or server.
    #[command(flatten)]
    pub target: AdminTarget,
    /// Only this key (sk-… or its hash).
    #[arg(long)]
    pub key: Option<String>,
    /// How far back: 24h, 7d, 30d, 1mo.
    #[arg(long, default_value = "30d")]
    pub since: String,
    /// Group rows by.
    #[arg(long, value_enum, default_value_t = SpendBy::Day)]
    pub by: SpendBy,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `llmroute import-litellm`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The LiteLLM database: postgres://user:pass@host:5432/litellm.
    #[arg(long, env = "LITELLM_DATABASE_URL", hide_env_values = true)]
    pub from: String,
    /// Also import LiteLLM_SpendLogs as request logs.
    #[arg(long)]
    pub spend_logs: bool,
    /// Show what would be imported; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// llmroute's database (default: DATABASE_URL, the config's database_url, else embedded).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Config (for database_url).
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `llmroute models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Ask this server instead of reading the config.
    #[arg(long, env = "LLMROUTE_SERVER")]
    pub server: Option<String>,
    /// Key for --server.
    #[arg(long, env = "LLMROUTE_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Config.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `llmroute config`.
#[derive(Debug, Args)]
pub struct ConfigCmdArgs {
    /// The action.
    #[command(subcommand)]
    pub action: ConfigAction,
}

/// `llmroute config <action>`.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Load and validate the config; warn about unsupported keys.
    #[command(
        after_help = "Examples:\n  llmroute config check --config config.yaml\n  llmroute config check --show              # the resolved config, secrets redacted\n  llmroute config check --json | jq .ok\n  LLMROUTE_CONFIG_YAML=\"$(cat config.yaml)\" llmroute config check"
    )]
    Check {
        /// Also print the resolved config, secrets redacted.
        #[arg(long)]
        show: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Config.
        #[command(flatten)]
        config: ConfigArgs,
    },
}

/// `llmroute doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Config.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Also check this running server: /health, an authenticated /v1/models.
    #[arg(long, env = "LLMROUTE_SERVER")]
    pub server: Option<String>,
    /// Key for the server check (default: the config's master key).
    #[arg(long, env = "LLMROUTE_API_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// Skip the one-token request per deployment (no cost, but key and deployment unchecked).
    #[arg(long)]
    pub no_spend: bool,
    /// Timeout of each network step.
    #[arg(long, default_value = "5s", value_parser = crate::time::parse_duration)]
    pub timeout: std::time::Duration,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `llmroute healthcheck`.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The health URL.
    #[arg(long, default_value = "http://127.0.0.1:8000/health")]
    pub url: String,
    /// Give up after this long.
    #[arg(long, default_value = "2s", value_parser = crate::time::parse_duration)]
    pub timeout: std::time::Duration,
}

/// `llmroute completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
