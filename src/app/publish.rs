//! Publishing a workflows folder at start-up: every file checked, then each stored as a
//! version, or nothing when any has an error.

use super::PublishReport;
use gatehouse_adapters::store::Store;
use gatehouse_engine::Library;
use std::path::Path;

/// Read a workflows folder, check every workflow, and publish each one. Any error in
/// any file stops everything: a half-published folder helps nobody.
pub async fn publish_folder(
    store: &Store,
    folder: &Path,
    now: jiff::Timestamp,
) -> anyhow::Result<(Library, PublishReport)> {
    let report = gatehouse_adapters::workflows::load_paths(&[folder.to_path_buf()])?;
    if report.has_errors() {
        let errors: Vec<String> = report.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
        anyhow::bail!("the workflows in {} have errors:\n{}", folder.display(), errors.join("\n"));
    }
    let (library, _) = gatehouse_adapters::workflows::read_library(folder)?;
    let mut files = Vec::new();
    for (path, loaded) in &report.loaded {
        let source = std::fs::read_to_string(path)?;
        let def = &loaded.definition;
        let outcome = store.publish(&path.display().to_string(), &source, def, now).await?;
        files.push((path.display().to_string(), def.id.clone(), def.version, outcome));
    }
    Ok((library, PublishReport { files }))
}
