//! Evidence documents in the database (`documents`, `document_chunks`): every node
//! sharing it reads them, and one backup keeps them with the rows that point to them.
//!
//! A document is written in chunks of [`CHUNK`] bytes, read one at a time from where it
//! was received (a spool file) and hashed again as they go, in the same transaction as
//! the evidence row that points to it: one commit, and a row never points at bytes that
//! are not there, whatever stops the process. It is read back one chunk at a time too.
//! The same content attached twice is stored once; two nodes storing it at once wait
//! for each other on its primary key (`ON CONFLICT DO NOTHING`), and one writes it.

use super::files::sha256_hex;
use super::{StoreError, codec};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The largest chunk a document is stored in.
pub const CHUNK: usize = 256 * 1024;

/// A document about to be stored: where its bytes are and what they must hash to.
#[derive(Debug, Clone, Copy)]
pub struct NewDocument<'a> {
    /// sha256 of the content, hex: the name it is stored under.
    pub sha256: &'a str,
    /// Size in bytes.
    pub size: u64,
    /// Where the bytes are.
    pub bytes: Bytes<'a>,
}

/// Where a new document's bytes are.
#[derive(Debug, Clone, Copy)]
pub enum Bytes<'a> {
    /// A file received to disk (read a chunk at a time).
    File(&'a Path),
    /// Held in memory.
    Memory(&'a [u8]),
}

/// A [`NewDocument`] that owns where its bytes are, to wait in SQLite's group-commit
/// queue (`group.rs`) with its decision.
#[derive(Debug, Clone)]
pub(crate) struct QueuedDocument {
    sha256: String,
    size: u64,
    bytes: QueuedBytes,
    at: jiff::Timestamp,
}

#[derive(Debug, Clone)]
enum QueuedBytes {
    File(std::path::PathBuf),
    Memory(Vec<u8>),
}

impl QueuedDocument {
    /// `document`, stored at `at`. The file a document is in must stay where it is until
    /// the decision is answered: its caller waits for the answer holding it.
    pub(crate) fn of(document: &NewDocument<'_>, at: jiff::Timestamp) -> QueuedDocument {
        let bytes = match document.bytes {
            Bytes::File(path) => QueuedBytes::File(path.to_path_buf()),
            Bytes::Memory(bytes) => QueuedBytes::Memory(bytes.to_vec()),
        };
        QueuedDocument { sha256: document.sha256.to_string(), size: document.size, bytes, at }
    }

    /// Store it in the caller's transaction ([`write`]).
    pub(crate) async fn write<C: ConnectionTrait>(&self, c: &C) -> Result<(), StoreError> {
        let bytes = match &self.bytes {
            QueuedBytes::File(path) => Bytes::File(path),
            QueuedBytes::Memory(bytes) => Bytes::Memory(bytes),
        };
        write(c, &NewDocument { sha256: &self.sha256, size: self.size, bytes }, self.at).await
    }
}

/// A stored document's size and how many chunks it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromQueryResult)]
pub struct StoredDocument {
    /// Size in bytes.
    pub size: i64,
    /// Chunks, numbered from 0.
    pub chunks: i32,
}

#[derive(FromQueryResult)]
struct Chunk {
    bytes: Vec<u8>,
}

/// Store `document` in the caller's transaction, unless its content is stored already.
/// Its bytes are hashed again as they are read: bytes that are not what `sha256` names
/// (a spool file changed under us) are refused, and the caller's transaction with them.
pub(crate) async fn write<C: ConnectionTrait>(
    c: &C,
    document: &NewDocument<'_>,
    at: jiff::Timestamp,
) -> Result<(), StoreError> {
    let backend = c.get_database_backend();
    let chunks = document.size.div_ceil(CHUNK as u64);
    let chunks = i32::try_from(chunks).map_err(|_| StoreError::Corrupt("a document too large to store".into()))?;
    let size = i64::try_from(document.size).map_err(|_| StoreError::Corrupt("a document too large to store".into()))?;
    let insert = Statement::from_sql_and_values(
        backend,
        "INSERT INTO documents (sha256, size, chunks, stored_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (sha256) DO NOTHING",
        [document.sha256.into(), size.into(), chunks.into(), codec::to_chrono(at).into()],
    );
    if c.execute_raw(insert).await?.rows_affected() == 0 {
        return Ok(()); // stored before, by this node or another
    }
    let mut hasher = Sha256::new();
    let mut stored = 0u64;
    let mut file = match document.bytes {
        Bytes::File(path) => Some(tokio::fs::File::open(path).await?),
        Bytes::Memory(_) => None,
    };
    let mut buffer = vec![0u8; CHUNK];
    for seq in 0..chunks {
        let want = (document.size - stored).min(CHUNK as u64) as usize;
        let chunk: &[u8] = match (&mut file, document.bytes) {
            (Some(file), _) => {
                use tokio::io::AsyncReadExt as _;
                file.read_exact(&mut buffer[..want]).await?;
                &buffer[..want]
            }
            (None, Bytes::Memory(bytes)) => bytes.get(stored as usize..stored as usize + want).ok_or_else(|| {
                StoreError::Corrupt(format!("document {}: fewer bytes than its size", document.sha256))
            })?,
            (None, Bytes::File(_)) => unreachable!("a file document is opened above"),
        };
        hasher.update(chunk);
        stored += want as u64;
        insert_chunk(c, backend, document.sha256, seq, chunk).await?;
    }
    let hashed = hex::encode(hasher.finalize());
    if hashed != document.sha256 {
        return Err(StoreError::Corrupt(format!(
            "a document named {} holds bytes whose sha256 is {hashed}: not stored",
            document.sha256
        )));
    }
    Ok(())
}

async fn insert_chunk<C: ConnectionTrait>(
    c: &C,
    backend: DbBackend,
    sha256: &str,
    seq: i32,
    bytes: &[u8],
) -> Result<(), StoreError> {
    let statement = Statement::from_sql_and_values(
        backend,
        "INSERT INTO document_chunks (sha256, seq, bytes) VALUES ($1, $2, $3)",
        [sha256.into(), seq.into(), Value::Bytes(Some(bytes.to_vec()))],
    );
    c.execute_raw(statement).await?;
    Ok(())
}

impl super::Store {
    /// Store `document` in a transaction of its own (moving files in from a data
    /// directory). Whether it was stored now (`false`: it was there already).
    pub async fn put_document(&self, document: &NewDocument<'_>, at: jiff::Timestamp) -> Result<bool, StoreError> {
        if self.document(document.sha256).await?.is_some() {
            return Ok(false);
        }
        let (txn, _turn) = self.begin_write().await?;
        write(&txn, document, at).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The stored document named `sha256`, if there is one.
    pub async fn document(&self, sha256: &str) -> Result<Option<StoredDocument>, StoreError> {
        let statement = Statement::from_sql_and_values(
            self.backend(),
            "SELECT size, chunks FROM documents WHERE sha256 = $1",
            [sha256.into()],
        );
        Ok(StoredDocument::find_by_statement(statement).one(&self.db).await?)
    }

    /// Chunk `seq` of the document named `sha256`.
    pub async fn document_chunk(&self, sha256: &str, seq: i32) -> Result<Vec<u8>, StoreError> {
        let statement = Statement::from_sql_and_values(
            self.backend(),
            "SELECT bytes FROM document_chunks WHERE sha256 = $1 AND seq = $2",
            [sha256.into(), seq.into()],
        );
        match Chunk::find_by_statement(statement).one(&self.db).await? {
            Some(chunk) => Ok(chunk.bytes),
            None => Err(StoreError::Corrupt(format!("document {sha256} has no chunk {seq}"))),
        }
    }

    /// Whether the document named `sha256` is stored whole: every chunk there, its size
    /// and its sha256 what they should be. Read a chunk at a time.
    pub async fn verify_document(&self, sha256: &str) -> Result<bool, StoreError> {
        let Some(stored) = self.document(sha256).await? else { return Ok(false) };
        let mut hasher = Sha256::new();
        let mut size = 0i64;
        for seq in 0..stored.chunks {
            let chunk = match self.document_chunk(sha256, seq).await {
                Ok(chunk) => chunk,
                Err(StoreError::Corrupt(_)) => return Ok(false),
                Err(e) => return Err(e),
            };
            size += chunk.len() as i64;
            hasher.update(&chunk);
        }
        Ok(size == stored.size && hex::encode(hasher.finalize()) == sha256)
    }

    /// Read the whole document named `sha256` and check it against its name: for tests
    /// and checks, not for serving (which streams it a chunk at a time).
    pub async fn document_bytes(&self, sha256: &str) -> Result<Vec<u8>, StoreError> {
        let stored = self.document(sha256).await?.ok_or_else(|| StoreError::NotFound(format!("document {sha256}")))?;
        let mut bytes = Vec::new();
        for seq in 0..stored.chunks {
            bytes.extend(self.document_chunk(sha256, seq).await?);
        }
        if bytes.len() as i64 != stored.size || sha256_hex(&bytes) != sha256 {
            return Err(StoreError::Corrupt(format!("document {sha256} does not hold the bytes it names")));
        }
        Ok(bytes)
    }
}
