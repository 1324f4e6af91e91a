//! Evidence files, stored content-addressed under the data directory:
//! `files/ab/abcdef…` named by the sha256 of their bytes. A file is written to a
//! temporary name, fsynced, renamed into place and its directory fsynced *before* the
//! database row that points to it commits, so a committed row never points at nothing.
//! A file whose row never committed is harmless garbage, found by `orphans`.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The content address of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The file store.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// sha256 of the content, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

impl FileStore {
    /// A store rooted at `data_dir/files`.
    pub fn new(data_dir: &Path) -> FileStore {
        FileStore { root: data_dir.join("files") }
    }

    /// Where a file with this hash lives.
    pub fn path(&self, sha256: &str) -> PathBuf {
        let prefix = sha256.get(..2).unwrap_or("xx");
        self.root.join(prefix).join(sha256)
    }

    /// Store `bytes` durably. Storing the same content twice is a no-op.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<StoredFile> {
        let sha256 = sha256_hex(bytes);
        let path = self.path(&sha256);
        let stored = StoredFile { sha256, size: bytes.len() as u64 };
        if path.exists() {
            return Ok(stored);
        }
        let dir = path.parent().expect("a file path has a parent");
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".{}.tmp-{}", stored.sha256, std::process::id()));
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(stored)
    }

    /// Read a stored file.
    pub fn get(&self, sha256: &str) -> std::io::Result<Vec<u8>> {
        if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a sha256"));
        }
        std::fs::read(self.path(sha256))
    }
}
