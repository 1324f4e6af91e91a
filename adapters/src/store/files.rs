//! Files under the data directory: where uploads are received, and where evidence was
//! kept before documents moved into the database (`documents.rs`).
//!
//! An upload is written to a temporary name in `files/.incoming/` while it is hashed and
//! counted, then stored in the database with the row that points to it; the temporary
//! file is removed as soon as whatever was receiving it is dropped: stored, refused, cut
//! off, or its client gone. What a crash can leave behind are temporary files, which
//! opening the store removes once they are an hour old (younger ones may be uploads
//! another process sharing the folder is still receiving).
//!
//! Documents stored by earlier versions are under `files/ab/abcdef…`, named by the
//! sha256 of their bytes. They are still read from there until `gatehouse files
//! migrate` has moved them into the database ([`FileStore::legacy`]).

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Whether `name` is a sha256 in hex.
fn is_sha256(name: &str) -> bool {
    name.len() == 64 && name.chars().all(|c| c.is_ascii_hexdigit())
}

/// The content address of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `e` says the disk is full, or the quota is used up.
pub fn is_out_of_space(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
}

/// The file store.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    /// The store rooted at `data_dir/files`, its folders made first where missing, each
    /// new one's name fsynced into its parent. Blocking (it runs once, at start).
    pub fn open(data_dir: &Path) -> std::io::Result<FileStore> {
        let root = data_dir.join("files");
        let mut changed = std::collections::BTreeSet::new();
        make_dir(&root.join(INCOMING), &mut changed)?;
        for dir in changed {
            std::fs::File::open(&dir)?.sync_all()?;
        }
        let store = FileStore { root };
        let removed = store.remove_stale_incoming(STALE)?;
        if removed > 0 {
            tracing::info!(removed, folder = %store.root.join(INCOMING).display(), "removed temporary files a crash left behind");
        }
        Ok(store)
    }

    /// Remove the files in `files/.incoming/` last modified more than `age` ago. Returns
    /// how many.
    fn remove_stale_incoming(&self, age: std::time::Duration) -> std::io::Result<usize> {
        let now = std::time::SystemTime::now();
        let mut removed = 0;
        // A file gone meanwhile was adopted, or removed by another process opening the
        // same folder: not an error.
        let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
        for entry in std::fs::read_dir(self.root.join(INCOMING))? {
            let entry = entry?;
            let metadata = match entry.metadata() {
                Ok(metadata) => metadata,
                Err(e) if gone(&e) => continue,
                Err(e) => return Err(e),
            };
            if metadata.is_file() && now.duration_since(metadata.modified()?).is_ok_and(|old| old > age) {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) if gone(&e) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }

    /// Where an earlier version kept the document with this hash.
    pub fn path(&self, sha256: &str) -> PathBuf {
        let prefix = sha256.get(..2).unwrap_or("xx");
        self.root.join(prefix).join(sha256)
    }

    /// A new temporary name in `files/.incoming/`.
    fn incoming_path(&self) -> PathBuf {
        self.root.join(INCOMING).join(format!("{}-{}", std::process::id(), uuid_like()))
    }

    /// Every document an earlier version kept here: its hash (its file's name) and path.
    pub fn legacy(&self) -> std::io::Result<Vec<(String, PathBuf)>> {
        let mut found = Vec::new();
        for prefix in std::fs::read_dir(&self.root)? {
            let prefix = prefix?;
            let name = prefix.file_name().to_string_lossy().to_string();
            if name.len() != 2 || !name.chars().all(|c| c.is_ascii_hexdigit()) || !prefix.path().is_dir() {
                continue;
            }
            for file in std::fs::read_dir(prefix.path())? {
                let file = file?;
                let sha256 = file.file_name().to_string_lossy().to_string();
                if is_sha256(&sha256) && sha256.starts_with(&name) {
                    found.push((sha256, file.path()));
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// Read a document an earlier version kept here.
    pub fn get(&self, sha256: &str) -> std::io::Result<Vec<u8>> {
        if !is_sha256(sha256) {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a sha256"));
        }
        std::fs::read(self.path(sha256))
    }
}

/// A document held in memory, and its content address, worked out once.
#[derive(Debug)]
pub struct Content {
    bytes: Vec<u8>,
    sha256: String,
}

impl Content {
    /// Hash `bytes`.
    pub fn new(bytes: Vec<u8>) -> Content {
        let sha256 = sha256_hex(&bytes);
        Content { bytes, sha256 }
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// sha256 of the content, hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
}

/// A file being received: written to `files/.incoming/` chunk by chunk while it is
/// hashed and counted. Nothing is in the store until it is stored in the database.
/// Dropped before [`IncomingWriter::finish`] (an error, a body cut off, a client gone,
/// a request timed out), its partial file is removed at once.
pub struct IncomingWriter {
    file: tokio::fs::File,
    temporary: Temporary,
    hasher: Sha256,
    size: u64,
    limit: u64,
}

/// A received file, waiting to be stored. Dropped (stored, or the engine refused it, or
/// a later part of the request was wrong), its file is removed.
#[derive(Debug)]
pub struct Incoming {
    file: Temporary,
    /// sha256 of the content, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

impl Incoming {
    /// Where it was received.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
}

impl IncomingWriter {
    /// Start receiving a file of at most `limit` bytes.
    pub async fn create(store: &FileStore, limit: u64) -> std::io::Result<IncomingWriter> {
        let temporary = Temporary(Some(store.incoming_path()));
        let file = tokio::fs::File::create(temporary.path()).await?;
        Ok(IncomingWriter { file, temporary, hasher: Sha256::new(), size: 0, limit })
    }

    /// Add a chunk. `Ok(false)` when the file passes the limit: nothing more should be
    /// sent, and dropping the writer removes the partial file.
    pub async fn write(&mut self, chunk: &[u8]) -> std::io::Result<bool> {
        use tokio::io::AsyncWriteExt as _;
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Ok(false);
        }
        self.hasher.update(chunk);
        self.file.write_all(chunk).await?;
        Ok(true)
    }

    /// Flush the whole file. It need not be durable: it is read back into the database,
    /// whose commit is.
    pub async fn finish(mut self) -> std::io::Result<Incoming> {
        use tokio::io::AsyncWriteExt as _;
        self.file.flush().await?;
        Ok(Incoming { file: self.temporary, sha256: hex::encode(self.hasher.finalize()), size: self.size })
    }
}

/// A temporary file in `files/.incoming/`, removed when this is dropped. Every way out of receiving a file goes through a drop,
/// including a future dropped half way (a client gone, a timeout), so no path can
/// forget to clean up.
#[derive(Debug)]
struct Temporary(Option<PathBuf>);

impl Temporary {
    fn path(&self) -> &Path {
        self.0.as_deref().expect("a temporary file has a path until it is renamed")
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if let Some(path) = self.0.take()
            && let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %e, path = %path.display(), "could not remove a temporary file");
        }
    }
}

/// Where files are written before they are renamed into place.
const INCOMING: &str = ".incoming";

/// How old a temporary file must be for opening the store to remove it: older than any
/// upload still being received.
const STALE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Make `dir` (and any missing parent) if missing, adding to `changed` the folder each
/// new one was made in, whose entry must be fsynced for the new folder to survive a
/// crash.
fn make_dir(dir: &Path, changed: &mut std::collections::BTreeSet<PathBuf>) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    make_dir(parent, changed)?;
    match std::fs::create_dir(dir) {
        Ok(()) => {
            changed.insert(parent.to_path_buf());
            Ok(())
        }
        // Made meanwhile by another process sharing the data directory.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("{} is there but is not a folder", dir.display()),
        )),
        Err(e) => Err(e),
    }
}

fn uuid_like() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_makes_the_incoming_folder_and_keeps_documents_an_earlier_version_stored() {
        let data = tempfile::tempdir().unwrap();
        let content = b"equality impact assessment";
        let sha256 = sha256_hex(content);
        let legacy = data.path().join("files").join(&sha256[..2]);
        std::fs::create_dir_all(&legacy).unwrap();
        std::fs::write(legacy.join(&sha256), content).unwrap();
        std::fs::write(legacy.join("not-a-hash"), b"ignored").unwrap();

        let store = FileStore::open(data.path()).unwrap();
        assert!(data.path().join("files/.incoming").is_dir());
        assert_eq!(store.get(&sha256).unwrap(), content);
        assert_eq!(store.legacy().unwrap(), vec![(sha256.clone(), legacy.join(&sha256))]);
    }

    #[test]
    fn opening_removes_temporary_files_a_crash_left_but_not_uploads_under_way() {
        let data = tempfile::tempdir().unwrap();
        let store = FileStore::open(data.path()).unwrap();
        let (left, receiving) = (store.incoming_path(), store.incoming_path());
        std::fs::write(&left, b"half a document").unwrap();
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        std::fs::File::options().write(true).open(&left).unwrap().set_modified(two_hours_ago).unwrap();
        std::fs::write(&receiving, b"an upload another process is receiving").unwrap();

        FileStore::open(data.path()).unwrap();
        assert!(!left.exists(), "a temporary file two hours old is removed");
        assert!(receiving.exists(), "one written just now is kept");
    }

    #[tokio::test]
    async fn a_file_received_is_removed_once_it_is_dropped_however_it_ends() {
        let data = tempfile::tempdir().unwrap();
        let store = FileStore::open(data.path()).unwrap();
        let incoming = || std::fs::read_dir(data.path().join("files/.incoming")).unwrap().count();

        // Half received, then dropped (an error, a client gone, a timeout).
        let mut writer = IncomingWriter::create(&store, 1024).await.unwrap();
        assert!(writer.write(b"half a needs assessment").await.unwrap());
        assert_eq!(incoming(), 1);
        drop(writer);
        assert_eq!(incoming(), 0, "a writer dropped half way left its file");

        // Over the limit.
        let mut writer = IncomingWriter::create(&store, 4).await.unwrap();
        assert!(!writer.write(b"too long").await.unwrap());
        drop(writer);
        assert_eq!(incoming(), 0, "a file over the limit was left");

        // Received whole, hashed, then dropped (stored, or refused).
        let mut writer = IncomingWriter::create(&store, 1024).await.unwrap();
        writer.write(b"an assessment").await.unwrap();
        let received = writer.finish().await.unwrap();
        assert_eq!(received.sha256, sha256_hex(b"an assessment"));
        assert_eq!(std::fs::read(received.path()).unwrap(), b"an assessment");
        drop(received);
        assert_eq!(incoming(), 0, "a received file was left");
    }

    #[test]
    fn a_data_directory_that_cannot_be_made_is_an_error_not_a_panic() {
        let data = tempfile::tempdir().unwrap();
        let blocker = data.path().join("not-a-folder");
        std::fs::write(&blocker, b"a file where the data directory should be").unwrap();
        let err = FileStore::open(&blocker).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotADirectory, "{err}");
        assert_eq!(err.to_string(), format!("{} is there but is not a folder", blocker.display()));
    }
}
