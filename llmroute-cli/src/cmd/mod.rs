//! One module per subcommand.

pub mod chat;
pub mod chat_server;
pub mod completions;
pub mod config;
pub mod healthcheck;
pub mod import;
pub mod import_rows;
pub mod keys;
pub mod keys_server;
pub mod models;
pub mod spend;
