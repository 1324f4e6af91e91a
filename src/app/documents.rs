//! Documents: attaching one (stored in the database with the row that points to it, once
//! the engine has accepted it) and reading one back a chunk at a time.

use super::{App, AppError, CaseView};
use gatehouse_adapters::store::StoreError;
use gatehouse_adapters::store::documents::{Bytes, CHUNK, NewDocument};
use gatehouse_adapters::store::files::{Content, Incoming};
use gatehouse_engine::decide::{Command, Problem};
use gatehouse_engine::snapshot::{Actor, EvidenceContent};

/// A document's bytes, a chunk at a time.
pub type DocumentStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = std::io::Result<axum::body::Bytes>> + Send + 'static>>;

impl App {
    /// Attach a document. The file is checked against the size limit before anything is
    /// stored, and stored in the database in the same transaction as the row that points
    /// to it.
    pub async fn attach_document(
        &self,
        actor: &Actor,
        case_id: i64,
        evidence: &str,
        file_name: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<CaseView, AppError> {
        if bytes.len() as u64 > self.max_upload_bytes {
            return Err(too_large(bytes.len() as u64, self.max_upload_bytes));
        }
        let document = Document::InMemory(Content::new(bytes.to_vec()));
        self.attach(actor, case_id, evidence, file_name, media_type, document).await
    }

    /// Attach a document already received to disk (streamed and hashed).
    pub async fn attach_incoming(
        &self,
        actor: &Actor,
        case_id: i64,
        evidence: &str,
        file_name: &str,
        media_type: &str,
        incoming: Incoming,
    ) -> Result<CaseView, AppError> {
        self.attach(actor, case_id, evidence, file_name, media_type, Document::Received(incoming)).await
    }

    /// Attach `document`. The engine decides first, so a refused document leaves nothing
    /// in the store; an accepted one is stored with the row that points to it, in one
    /// transaction.
    async fn attach(
        &self,
        actor: &Actor,
        case_id: i64,
        evidence: &str,
        file_name: &str,
        media_type: &str,
        document: Document,
    ) -> Result<CaseView, AppError> {
        let size = document.size();
        if size > self.max_upload_bytes {
            return Err(too_large(size, self.max_upload_bytes));
        }
        if size == 0 {
            return Err(AppError::Invalid(vec![Problem { field: Some("file".into()), message: "is empty".into() }]));
        }
        let content = EvidenceContent::Document {
            sha256: document.sha256().to_string(),
            name: safe_file_name(file_name),
            size,
            media_type: media_type.to_string(),
        };
        let command = Command::Attach { evidence: evidence.to_string(), content };
        self.run_with(case_id, actor, command, Some(document.as_new())).await
    }

    /// The document named `sha256`, a chunk at a time, and its size: from the database
    /// (or the object store it names) or, for one stored before documents moved into it and not moved yet (`gatehouse
    /// files migrate`), from this node's data directory. `NotFound` when neither has it.
    pub async fn document(&self, sha256: &str) -> Result<(u64, DocumentStream), AppError> {
        if let Some(found) = self.store.document_stream(sha256).await? {
            return Ok(found);
        }
        let path = self.files.path(sha256);
        match tokio::fs::File::open(&path).await {
            Ok(file) => {
                let size = file.metadata().await.map_err(StoreError::Io)?.len();
                Ok((size, Box::pin(tokio_util::io::ReaderStream::with_capacity(file, CHUNK))))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(AppError::NotFound(format!("document {sha256}"))),
            Err(e) => Err(StoreError::Io(e).into()),
        }
    }
}

fn too_large(size: u64, limit: u64) -> AppError {
    AppError::Invalid(vec![Problem {
        field: Some("file".into()),
        message: format!("is {size} bytes; the largest accepted is {limit} bytes"),
    }])
}

/// An uploaded file's name, for display only: no directories, no control characters.
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String =
        base.chars().filter(|c| !c.is_control()).collect::<String>().trim().trim_start_matches('.').to_string();
    let cleaned: String = cleaned.chars().take(200).collect();
    if cleaned.is_empty() { "upload".into() } else { cleaned }
}

/// A document on its way into the store.
enum Document {
    /// Streamed to disk (an upload), fsynced, waiting to be moved into the store.
    Received(Incoming),
    /// Held in memory (a caller of the app services): written straight to its place.
    InMemory(Content),
}

impl Document {
    fn sha256(&self) -> &str {
        match self {
            Document::Received(incoming) => &incoming.sha256,
            Document::InMemory(content) => content.sha256(),
        }
    }

    fn size(&self) -> u64 {
        match self {
            Document::Received(incoming) => incoming.size,
            Document::InMemory(content) => content.size(),
        }
    }

    /// What the store writes: its name, size and where its bytes are.
    fn as_new(&self) -> NewDocument<'_> {
        let bytes = match self {
            Document::Received(incoming) => Bytes::File(incoming.path()),
            Document::InMemory(content) => Bytes::Memory(content.bytes()),
        };
        NewDocument { sha256: self.sha256(), size: self.size(), bytes }
    }
}
