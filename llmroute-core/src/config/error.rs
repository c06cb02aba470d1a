//! Why a configuration could not be loaded.

/// A configuration that cannot work. The message names the source (file or variable),
/// the key path (`model_list[0].litellm_params.api_base`) and what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{source_name}: {path}{sep}{message}", sep = if path.is_empty() { "" } else { ": " })]
pub struct ConfigError {
    /// The file path or environment variable the config came from.
    pub source_name: String,
    /// The key path at fault, empty when the whole document is.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl ConfigError {
    /// An error in `source` at `path`.
    pub fn new(source: &str, path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            source_name: source.to_string(),
            path: path.into(),
            message: message.into(),
        }
    }
}
