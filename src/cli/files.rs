//! `gatehouse files migrate`: move the documents an earlier version kept in a data
//! directory (`files/ab/abcdef…`) into the document store, where every node reads them:
//! the database, or the object store `--document-store` names. With an object store, the
//! documents kept in the database move there too.
//!
//! Each file is hashed as it is stored (a file whose bytes do not match its name is
//! refused and kept where it is), stored on its own, read back from the store and
//! checked against its name, and only then removed from the folder; a document moved
//! out of the database is checked the same way before its chunks are dropped. Stopped
//! at any point, it can be run again: what is stored is not stored twice, and nothing is
//! removed before its copy is known good.

use crate::cli::authoring::Status;
use crate::cli::service::connect_with_documents;
use anyhow::{Context, Result};
use gatehouse_adapters::store::FileStore;
use gatehouse_adapters::store::documents::{Bytes, NewDocument};
use std::io::Write;
use std::path::Path;

/// `gatehouse files migrate`
pub async fn migrate(url: &str, document_store: &str, data_dir: &Path, out: &mut dyn Write) -> Result<Status> {
    let store = connect_with_documents(url, document_store).await?;
    store.migrate().await.context("applying migrations")?;
    let dir = data_dir.to_path_buf();
    let files = tokio::task::spawn_blocking(move || FileStore::open(&dir))
        .await?
        .with_context(|| format!("cannot open the evidence folders under {}", data_dir.display()))?;
    let legacy = files.legacy().with_context(|| format!("cannot list {}", data_dir.join("files").display()))?;
    let (mut moved, mut there, mut refused) = (0, 0, 0);
    for (sha256, path) in legacy {
        let size = std::fs::metadata(&path).with_context(|| format!("cannot read {}", path.display()))?.len();
        let document = NewDocument { sha256: &sha256, size, bytes: Bytes::File(&path) };
        let stored = match store.put_document(&document, jiff::Timestamp::now()).await {
            Ok(stored) => stored,
            Err(gatehouse_adapters::store::StoreError::Corrupt(why)) => {
                writeln!(out, "refused: {}: {why}; left where it is", path.display())?;
                refused += 1;
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("storing {}", path.display())),
        };
        if !store.verify_document(&sha256).await? {
            writeln!(out, "refused: {}: the stored copy does not match it; left where it is", path.display())?;
            refused += 1;
            continue;
        }
        std::fs::remove_file(&path).with_context(|| format!("removing {} once stored", path.display()))?;
        if stored {
            writeln!(out, "moved: {sha256} ({size} bytes)")?;
            moved += 1;
        } else {
            writeln!(out, "already stored: {sha256}")?;
            there += 1;
        }
    }
    if let Some(objects) = store.objects() {
        for (sha256, size) in store.documents_in_database().await? {
            if store.move_to_objects(&sha256).await.with_context(|| format!("moving {sha256} to {objects}"))? {
                writeln!(out, "moved to {objects}: {sha256} ({size} bytes)")?;
                moved += 1;
            } else {
                writeln!(out, "refused: {sha256}: the copy in {objects} does not match it; kept in the database")?;
                refused += 1;
            }
        }
    }
    writeln!(out, "{moved} moved, {there} already stored, {refused} refused")?;
    Ok(if refused == 0 { Status::Ok } else { Status::InputWrong })
}
