//! `gatehouse cases migrate`: move open cases to another published version of their
//! workflow, each in a transaction of its own (moved whole, or not at all), with
//! `--dry-run` to see first what each would meet (`crate::app::migration`).

use crate::app::migration::{MigrateRequest, migrate_open_cases};
use crate::cli::authoring::Status;
use crate::cli::service::published;
use anyhow::Result;
use gatehouse_engine::snapshot::Actor;
use std::io::Write;
use std::path::Path;

/// `gatehouse cases migrate`, as `by`: one line per case, its impact under it; a summary
/// last. Fails (exit 1) when any case cannot be moved; those that can are moved all the
/// same (each on its own), unless `--dry-run`.
pub async fn migrate_cases(
    url: &str,
    workflows: &Path,
    req: &MigrateRequest,
    by: &str,
    out: &mut dyn Write,
) -> Result<Status> {
    let (store, definitions) = published(url, workflows, out).await?;
    let actor = Actor::user(by.to_string(), Vec::<String>::new());
    let report = match migrate_open_cases(&store, &definitions, req, &actor, jiff::Timestamp::now()).await {
        Ok(r) => r,
        Err(e) => {
            writeln!(out, "error: {e}")?;
            return Ok(Status::InputWrong);
        }
    };
    let verb = if req.dry_run { "would move" } else { "moved" };
    for m in &report.moves {
        match &m.outcome {
            Ok((state, impact)) => {
                writeln!(
                    out,
                    "case {}: {verb} from version {} to {} (in `{state}`)",
                    m.case_id, m.from_version, report.to_version
                )?;
                for line in impact {
                    writeln!(out, "  - {line}")?;
                }
            }
            Err(why) => writeln!(out, "case {}: cannot be moved: {why}", m.case_id)?,
        }
    }
    let (moved, refused) = report.counts();
    let summary = format!("{moved} case(s) {verb} to version {} of {}", report.to_version, report.workflow);
    if refused > 0 {
        writeln!(out, "{summary}; {refused} cannot be moved")?;
        return Ok(Status::InputWrong);
    }
    writeln!(out, "{summary}")?;
    Ok(Status::Ok)
}
