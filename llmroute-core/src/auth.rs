//! Who is calling: the `Authenticator` trait, and the master-key check.
//!
//! The server asks an [`Authenticator`] to turn the presented key into a [`Principal`];
//! the master key is compared in constant time; the store adds virtual keys behind the
//! same trait, so routes never change when key kinds are added.

use std::sync::Arc;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};
use crate::keys::VirtualKey;
use crate::secret::Secret;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// SHA-256 hex of the presented key (what logs and the store keep; never the key).
    pub key_hash: String,
    /// The virtual key's record; `None` for the master key.
    pub key: Option<Arc<VirtualKey>>,
}

impl Principal {
    /// Whether this is the master key (admin rights).
    pub fn is_master(&self) -> bool {
        self.key.is_none()
    }

    /// The key's alias, if any, for logs.
    pub fn alias(&self) -> Option<&str> {
        self.key.as_ref().and_then(|k| k.key_alias.as_deref())
    }
}

/// Turns a presented key into a caller.
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// Checks `presented` (the raw key from `Authorization: Bearer` or `api-key`).
    /// Fails with [`Error::Unauthorized`] for an unknown key, or
    /// [`Error::Unavailable`] when the key could not be verified at all.
    async fn authenticate(&self, presented: &str) -> Result<Principal>;
}

/// SHA-256 hex of a key, as LiteLLM stores it (so imported keys keep working).
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Compares two byte strings in constant time (for equal lengths).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Accepts exactly the master key.
#[derive(Debug, Clone)]
pub struct MasterKeyAuth {
    master_key: Secret,
}

impl MasterKeyAuth {
    /// Accepts `master_key`.
    pub fn new(master_key: Secret) -> Self {
        MasterKeyAuth { master_key }
    }

    /// Whether `presented` is the master key (constant time).
    pub fn is_master(&self, presented: &str) -> bool {
        constant_time_eq(presented.as_bytes(), self.master_key.expose().as_bytes())
    }

    /// The principal of the master key.
    pub fn master_principal(&self) -> Principal {
        Principal {
            key_hash: hash_key(self.master_key.expose()),
            key: None,
        }
    }
}

#[async_trait]
impl Authenticator for MasterKeyAuth {
    async fn authenticate(&self, presented: &str) -> Result<Principal> {
        if self.is_master(presented) {
            Ok(self.master_principal())
        } else {
            Err(Error::Unauthorized {
                message: format!(
                    "invalid API key {}: it is not the master key and no virtual keys are configured",
                    crate::secret::redact_key(presented)
                ),
                code: "invalid_api_key",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn master_key_passes_and_others_fail_without_echo() {
        let auth = MasterKeyAuth::new(Secret::new("sk-master-0123456789"));
        assert!(auth
            .authenticate("sk-master-0123456789")
            .await
            .expect("ok")
            .is_master());
        let err = auth
            .authenticate("sk-wrong-key-abcdefgh")
            .await
            .expect_err("wrong");
        assert_eq!(err.status(), 401);
        assert!(!err.to_string().contains("sk-wrong-key-abcdefgh"));
        assert!(err.to_string().contains("sk-...efgh"));
    }

    #[test]
    fn hash_is_litellm_compatible_sha256_hex() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
