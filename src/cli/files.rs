//! `gatehouse files migrate`: move the documents an earlier version kept in a data
//! directory (`files/ab/abcdef…`) into the database, where every node reads them.
//!
//! Each file is hashed as it is stored (a file whose bytes do not match its name is
//! refused and kept where it is), stored in a transaction of its own, read back from
//! the database and checked against its name, and only then removed from the folder.
//! Stopped at any point, it can be run again: what is stored is not stored twice, and
//! a file is never removed before its copy is known good.

use crate::cli::authoring::Status;
use crate::cli::service::connect;
use anyhow::{Context, Result};
use gatehouse_adapters::store::FileStore;
use gatehouse_adapters::store::documents::{Bytes, NewDocument};
use std::io::Write;
use std::path::Path;

/// `gatehouse files migrate`
pub async fn migrate(url: &str, data_dir: &Path, out: &mut dyn Write) -> Result<Status> {
    let store = connect(url).await?;
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
            writeln!(out, "refused: {}: the database's copy does not match it; left where it is", path.display())?;
            refused += 1;
            continue;
        }
        std::fs::remove_file(&path).with_context(|| format!("removing {} once stored", path.display()))?;
        if stored {
            writeln!(out, "moved: {sha256} ({size} bytes)")?;
            moved += 1;
        } else {
            writeln!(out, "already in the database: {sha256}")?;
            there += 1;
        }
    }
    writeln!(out, "{moved} moved, {there} already in the database, {refused} refused")?;
    Ok(if refused == 0 { Status::Ok } else { Status::InputWrong })
}
