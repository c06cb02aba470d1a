//! `GET /v1/models` bodies.

use serde::{Deserialize, Serialize};

/// A list of models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    /// `list`.
    pub object: String,
    /// The models.
    pub data: Vec<ModelObject>,
}

impl ModelList {
    /// A list holding `data`.
    pub fn new(data: Vec<ModelObject>) -> Self {
        ModelList {
            object: "list".to_string(),
            data,
        }
    }
}

/// One model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelObject {
    /// The public model name callers send.
    pub id: String,
    /// `model`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// Who serves it.
    pub owned_by: String,
}

impl ModelObject {
    /// A model entry owned by `owned_by`.
    pub fn new(id: impl Into<String>, owned_by: impl Into<String>, created: u64) -> Self {
        ModelObject {
            id: id.into(),
            object: "model".to_string(),
            created,
            owned_by: owned_by.into(),
        }
    }
}
