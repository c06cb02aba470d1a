//! The master key: from the config, or created on first start and kept in a 0600 file.
//!
//! The gateway never runs open. With no `general_settings.master_key`, the first start
//! writes a fresh key to `<data dir>/master_key` (readable by the owner only) and says
//! where it is; later starts read the same file.

use std::io::Write;
use std::path::{Path, PathBuf};

use llmroute_core::Secret;
use rand::distributions::{Alphanumeric, DistString};

/// Where the master key came from, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeySource {
    /// `general_settings.master_key`.
    Config,
    /// An existing key file.
    File(PathBuf),
    /// A key created now and written to this file.
    Created(PathBuf),
}

/// The master key and where it came from.
pub fn resolve(
    configured: Option<&Secret>,
    data_dir: &Path,
) -> std::io::Result<(Secret, MasterKeySource)> {
    if let Some(key) = configured {
        return Ok((key.clone(), MasterKeySource::Config));
    }
    let path = data_dir.join("master_key");
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            return Ok((Secret::new(text.trim()), MasterKeySource::File(path)))
        }
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the master key file {} is empty (a write that failed, or a mount that is \
                     not there yet?); put the key in it, or delete it to have a new one created, \
                     or set general_settings.master_key",
                    path.display()
                ),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(with_path(e, &path, "reading")),
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| with_path(e, data_dir, "creating the data folder"))?;
    let key = format!(
        "sk-{}",
        Alphanumeric.sample_string(&mut rand::rngs::OsRng, 48)
    );
    write_private(&path, &key).map_err(|e| with_path(e, &path, "writing"))?;
    Ok((Secret::new(key), MasterKeySource::Created(path)))
}

fn with_path(e: std::io::Error, path: &Path, doing: &str) -> std::io::Error {
    std::io::Error::new(
        e.kind(),
        format!(
            "{doing} {}: {e}; set general_settings.master_key, or point --data-dir (LLMROUTE_DATA_DIR) at a writable folder",
            path.display()
        ),
    )
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_owner_only_permissions_then_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let (key, source) = resolve(None, &data).expect("created");
        assert!(key.expose().starts_with("sk-") && key.expose().len() == 51);
        assert_eq!(source, MasterKeySource::Created(data.join("master_key")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data.join("master_key"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, source) = resolve(None, &data).expect("read");
        assert_eq!(again.expose(), key.expose());
        assert_eq!(source, MasterKeySource::File(data.join("master_key")));
        let (configured, source) = resolve(Some(&Secret::new("sk-cfg")), &data).expect("config");
        assert_eq!(
            (configured.expose(), source),
            ("sk-cfg", MasterKeySource::Config)
        );
    }

    #[test]
    fn an_empty_key_file_is_a_clear_error_not_a_crash_or_a_new_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("master_key"), "\n").expect("write");
        let err = resolve(None, dir.path()).expect_err("empty file");
        let msg = err.to_string();
        assert!(
            msg.contains("is empty") && msg.contains("delete it"),
            "{msg}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("master_key")).expect("kept"),
            "\n",
            "the file is left as it was"
        );
    }
}
