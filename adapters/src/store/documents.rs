//! Evidence documents in the database (`documents`, `document_chunks`): every node
//! sharing it reads them, and one backup keeps them with the rows that point to them.
//!
//! A document is written in chunks of [`CHUNK`] bytes, read one at a time from where it
//! was received (a spool file) and hashed again as they go, in the same transaction as
//! the evidence row that points to it: one commit, and a row never points at bytes that
//! are not there, whatever stops the process. It is read back one chunk at a time too.
//! The same content attached twice is stored once; two nodes storing it at once wait
//! for each other on its primary key (`ON CONFLICT DO NOTHING`), and one writes it.
//!
//! An installation with an object store (`objects.rs`) keeps new documents' bytes there
//! instead: uploaded before the transaction begins, its row (`place = 'objects'`, no
//! chunks) committed with the evidence row. Documents stored before stay where they are
//! until `gatehouse files migrate` moves them ([`Store::move_to_objects`]).

use super::files::sha256_hex;
use super::objects::ByteStream;
use super::{StoreError, codec};
use futures_util::StreamExt as _;
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
    /// In the object store already: only its row is written.
    Uploaded,
}

/// Where a stored document's bytes are (`documents.place`).
pub const IN_DATABASE: &str = "database";
/// The object store's `documents.place`.
pub const IN_OBJECTS: &str = "objects";

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

    /// `document`, uploaded to the object store already, recorded at `at`.
    pub(crate) fn uploaded(document: &NewDocument<'_>, at: jiff::Timestamp) -> QueuedDocument {
        QueuedDocument { sha256: document.sha256.to_string(), size: document.size, bytes: QueuedBytes::Uploaded, at }
    }

    /// Store it in the caller's transaction ([`write`]), or record where the object store
    /// has it.
    pub(crate) async fn write<C: ConnectionTrait>(&self, c: &C) -> Result<(), StoreError> {
        let bytes = match &self.bytes {
            QueuedBytes::File(path) => Bytes::File(path),
            QueuedBytes::Memory(bytes) => Bytes::Memory(bytes),
            QueuedBytes::Uploaded => return record_uploaded(c, &self.sha256, self.size, self.at).await,
        };
        write(c, &NewDocument { sha256: &self.sha256, size: self.size, bytes }, self.at).await
    }
}

/// A stored document's size, how many chunks it is in and where.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct StoredDocument {
    /// Size in bytes.
    pub size: i64,
    /// Chunks in the database, numbered from 0 (none when it is in the object store).
    pub chunks: i32,
    /// [`IN_DATABASE`] or [`IN_OBJECTS`].
    pub place: String,
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
    let chunks = chunk_count(document.size)?;
    let insert = document_row(backend, document.sha256, document.size, Some(chunks), at)?;
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
        c.execute_raw(chunk_row(backend, document.sha256, seq, chunk)).await?;
    }
    hashed_as_named(document.sha256, hasher)
}

/// How many chunks a document of `size` bytes is stored in.
fn chunk_count(size: u64) -> Result<i32, StoreError> {
    i32::try_from(size.div_ceil(CHUNK as u64)).map_err(|_| StoreError::Corrupt("a document too large to store".into()))
}

/// A document's row, unless one for its content is there already: its bytes in
/// `chunks` chunks in the database, or (`None`) in the object store.
fn document_row(
    backend: DbBackend,
    sha256: &str,
    size: u64,
    chunks: Option<i32>,
    at: jiff::Timestamp,
) -> Result<Statement, StoreError> {
    let size = i64::try_from(size).map_err(|_| StoreError::Corrupt("a document too large to store".into()))?;
    let (chunks, place) = match chunks {
        Some(chunks) => (chunks, IN_DATABASE),
        None => (0, IN_OBJECTS),
    };
    Ok(Statement::from_sql_and_values(
        backend,
        "INSERT INTO documents (sha256, size, chunks, stored_at, place) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (sha256) DO NOTHING",
        [sha256.into(), size.into(), chunks.into(), codec::to_chrono(at).into(), place.into()],
    ))
}

/// Chunk `seq` of the document named `sha256`.
fn chunk_row(backend: DbBackend, sha256: &str, seq: i32, bytes: &[u8]) -> Statement {
    Statement::from_sql_and_values(
        backend,
        "INSERT INTO document_chunks (sha256, seq, bytes) VALUES ($1, $2, $3)",
        [sha256.into(), seq.into(), Value::Bytes(Some(bytes.to_vec()))],
    )
}

/// Whether the bytes `hasher` read are what `sha256` names; refused (and the
/// transaction with them) when not.
fn hashed_as_named(sha256: &str, hasher: Sha256) -> Result<(), StoreError> {
    let hashed = hex::encode(hasher.finalize());
    if hashed != sha256 {
        return Err(StoreError::Corrupt(format!(
            "a document named {sha256} holds bytes whose sha256 is {hashed}: not stored"
        )));
    }
    Ok(())
}

impl QueuedDocument {
    /// [`QueuedDocument::write`] on SQLite's writer thread (`writer.rs`), in its
    /// transaction: the same rows, the bytes read a chunk at a time and hashed again.
    pub(crate) fn write_sync(&self, c: &rusqlite::Connection) -> Result<(), StoreError> {
        let backend = DbBackend::Sqlite;
        if let QueuedBytes::Uploaded = self.bytes {
            super::writer::execute(c, &document_row(backend, &self.sha256, self.size, None, self.at)?)?;
            return Ok(());
        }
        let chunks = chunk_count(self.size)?;
        let insert = document_row(backend, &self.sha256, self.size, Some(chunks), self.at)?;
        if super::writer::execute(c, &insert)? == 0 {
            return Ok(()); // stored before, by this node or another
        }
        let mut file = match &self.bytes {
            QueuedBytes::File(path) => Some(std::fs::File::open(path)?),
            _ => None,
        };
        let mut hasher = Sha256::new();
        let (mut stored, mut buffer) = (0u64, vec![0u8; CHUNK]);
        for seq in 0..chunks {
            let want = (self.size - stored).min(CHUNK as u64) as usize;
            let chunk: &[u8] = match (&mut file, &self.bytes) {
                (Some(file), _) => {
                    use std::io::Read as _;
                    file.read_exact(&mut buffer[..want])?;
                    &buffer[..want]
                }
                (None, QueuedBytes::Memory(bytes)) => {
                    bytes.get(stored as usize..stored as usize + want).ok_or_else(|| {
                        StoreError::Corrupt(format!("document {}: fewer bytes than its size", self.sha256))
                    })?
                }
                _ => unreachable!("a file document is opened above; an uploaded one returned"),
            };
            hasher.update(chunk);
            stored += want as u64;
            super::writer::execute(c, &chunk_row(backend, &self.sha256, seq, chunk))?;
        }
        hashed_as_named(&self.sha256, hasher)
    }
}

/// Record, in the caller's transaction, a document the object store holds, unless it is
/// recorded already (in either place).
async fn record_uploaded<C: ConnectionTrait>(
    c: &C,
    sha256: &str,
    size: u64,
    at: jiff::Timestamp,
) -> Result<(), StoreError> {
    c.execute_raw(document_row(c.get_database_backend(), sha256, size, None, at)?).await?;
    Ok(())
}

impl super::Store {
    /// Store `document` in a transaction of its own (moving files in from a data
    /// directory). Whether it was stored now (`false`: it was there already).
    pub async fn put_document(&self, document: &NewDocument<'_>, at: jiff::Timestamp) -> Result<bool, StoreError> {
        if self.document(document.sha256).await?.is_some() {
            return Ok(false);
        }
        // Uploaded (when it goes to the object store) before the transaction begins.
        let queued = self.queue_document(document, at).await?;
        let (txn, _turn) = self.begin_write().await?;
        queued.write(&txn).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Upload `document` to the object store, if the installation has one and the
    /// document is not stored already: what [`QueuedDocument`] then records instead of
    /// its bytes. Called before the transaction that records it begins.
    pub(crate) async fn queue_document(
        &self,
        document: &NewDocument<'_>,
        at: jiff::Timestamp,
    ) -> Result<QueuedDocument, StoreError> {
        let Some(objects) = &self.objects else { return Ok(QueuedDocument::of(document, at)) };
        if self.document(document.sha256).await?.is_none() {
            objects.put(document.sha256, document.size, document.bytes).await?;
        }
        Ok(QueuedDocument::uploaded(document, at))
    }

    /// Whether new documents go to an object store, and which.
    pub fn objects(&self) -> Option<&super::objects::Objects> {
        self.objects.as_ref()
    }

    /// The documents whose bytes are in the database, oldest first: what `gatehouse
    /// files migrate` moves to an object store.
    pub async fn documents_in_database(&self) -> Result<Vec<(String, u64)>, StoreError> {
        #[derive(FromQueryResult)]
        struct Row {
            sha256: String,
            size: i64,
        }
        let statement = Statement::from_sql_and_values(
            self.backend(),
            "SELECT sha256, size FROM documents WHERE place = $1 ORDER BY stored_at, sha256",
            [IN_DATABASE.into()],
        );
        let rows = Row::find_by_statement(statement).all(&self.db).await?;
        Ok(rows.into_iter().map(|r| (r.sha256, r.size.max(0) as u64)).collect())
    }

    /// Move the document named `sha256` from the database to the object store: upload it
    /// a chunk at a time, read it back and check it against its name, and only then, in
    /// one transaction, mark it as in the object store and drop its chunks. Whether it
    /// moved (`false`: it was not in the database, or the copy did not check out and it
    /// stays where it is). Stopped at any point, nothing is lost: until the commit the
    /// database's copy is the one read.
    pub async fn move_to_objects(&self, sha256: &str) -> Result<bool, StoreError> {
        let objects = self.objects.as_ref().ok_or_else(|| StoreError::DocumentStoreSetting {
            url: "database".into(),
            reason: "no object store to move to".into(),
        })?;
        let Some(stored) = self.document(sha256).await?.filter(|d| d.place == IN_DATABASE) else { return Ok(false) };
        let size = stored.size.max(0) as u64;
        let (store, name) = (self.clone(), sha256.to_string());
        let chunks = futures_util::stream::try_unfold(0, move |seq| {
            let (store, name) = (store.clone(), name.clone());
            async move {
                if seq >= stored.chunks {
                    return Ok(None);
                }
                Ok(Some((bytes::Bytes::from(store.document_chunk(&name, seq).await?), seq + 1)))
            }
        });
        objects.upload(sha256, size, chunks.boxed()).await?;
        if !objects.verify(sha256, size).await? {
            return Ok(false);
        }
        let (txn, _turn) = self.begin_write().await?;
        let backend = self.backend();
        let mark = Statement::from_sql_and_values(
            backend,
            "UPDATE documents SET place = $1, chunks = 0 WHERE sha256 = $2 AND place = $3",
            [IN_OBJECTS.into(), sha256.into(), IN_DATABASE.into()],
        );
        if txn.execute_raw(mark).await?.rows_affected() == 0 {
            txn.rollback().await?;
            return Ok(false); // moved meanwhile by another run
        }
        let drop_chunks =
            Statement::from_sql_and_values(backend, "DELETE FROM document_chunks WHERE sha256 = $1", [sha256.into()]);
        txn.execute_raw(drop_chunks).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The stored document named `sha256`, if there is one.
    pub async fn document(&self, sha256: &str) -> Result<Option<StoredDocument>, StoreError> {
        let statement = Statement::from_sql_and_values(
            self.backend(),
            "SELECT size, chunks, place FROM documents WHERE sha256 = $1",
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
        if stored.place == IN_OBJECTS {
            return self.objects_for(sha256)?.verify(sha256, stored.size.max(0) as u64).await;
        }
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
        let (size, mut parts) =
            self.document_stream(sha256).await?.ok_or_else(|| StoreError::NotFound(format!("document {sha256}")))?;
        let mut bytes = Vec::new();
        while let Some(part) = parts.next().await {
            bytes.extend(part?);
        }
        if bytes.len() as u64 != size || sha256_hex(&bytes) != sha256 {
            return Err(StoreError::Corrupt(format!("document {sha256} does not hold the bytes it names")));
        }
        Ok(bytes)
    }

    /// The stored document named `sha256`, a part at a time, and its size: from the
    /// database a chunk at a time, or from the object store. `None` when no row names it.
    pub async fn document_stream(&self, sha256: &str) -> Result<Option<(u64, ByteStream)>, StoreError> {
        let Some(stored) = self.document(sha256).await? else { return Ok(None) };
        let size = stored.size.max(0) as u64;
        if stored.place == IN_OBJECTS {
            return Ok(Some((size, self.objects_for(sha256)?.get(sha256).await?)));
        }
        let (store, sha256) = (self.clone(), sha256.to_string());
        let chunks = futures_util::stream::try_unfold(0, move |seq| {
            let (store, sha256) = (store.clone(), sha256.clone());
            async move {
                if seq >= stored.chunks {
                    return Ok(None);
                }
                let chunk = store.document_chunk(&sha256, seq).await.map_err(std::io::Error::other)?;
                Ok(Some((bytes::Bytes::from(chunk), seq + 1)))
            }
        });
        Ok(Some((size, chunks.boxed())))
    }

    /// The object store, to read a document recorded as kept there.
    fn objects_for(&self, sha256: &str) -> Result<&super::objects::Objects, StoreError> {
        self.objects.as_ref().ok_or_else(|| StoreError::DocumentStoreSetting {
            url: "database".into(),
            reason: format!(
                "document {sha256} is kept in an object store, and none is set: give --document-store \
                 (GATEHOUSE_DOCUMENT_STORE) the s3:// URL it was stored with"
            ),
        })
    }
}
