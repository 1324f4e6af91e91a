//! The embedded default: each message is written as an `.eml` file in a folder
//! (`./outbox/`), named after its idempotency key, so that delivering it again replaces
//! the file instead of adding a second one. Written to a temporary name, fsynced, then
//! renamed: a file in the folder is always whole.

use super::{SendError, Transport};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Writes messages to a folder.
#[derive(Debug, Clone)]
pub struct FileTransport {
    dir: PathBuf,
}

impl FileTransport {
    /// Write into `dir` (created when first needed).
    pub fn new(dir: impl Into<PathBuf>) -> FileTransport {
        FileTransport { dir: dir.into() }
    }

    /// The file a message with `key` is written to.
    pub fn path_for(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{}.eml", file_stem(key)))
    }
}

/// `case/42/3/chase/2:provider` as `case.42.3.chase.2.provider`: only characters that are
/// safe in a file name on every system.
fn file_stem(key: &str) -> String {
    key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '.' }).collect()
}

fn write(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[async_trait::async_trait]
impl Transport for FileTransport {
    async fn send(&self, message: &lettre::Message, key: &str) -> Result<(), SendError> {
        let (dir, path, bytes) = (self.dir.clone(), self.path_for(key), message.formatted());
        let written = tokio::task::spawn_blocking(move || write(&dir, &path, &bytes)).await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(SendError::Transient(format!("writing to {}: {e}", self.dir.display()))),
            Err(e) => Err(SendError::Transient(format!("writing to {}: {e}", self.dir.display()))),
        }
    }

    fn describe(&self) -> String {
        format!(".eml files in {}", self.dir.display())
    }
}
