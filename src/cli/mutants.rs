//! `gatehouse test --mutants PATH…`: every mutant of each workflow's rules, judged by the
//! workflow's own scenarios (see `gatehouse_engine::mutants`). Each survivor is printed
//! as `file:line:col: mutant survived: …`, then one line `N killed, N survived`.
//!
//! Mutants are independent, so they are judged on every core at once; each is loaded
//! and run as a file would be, which is what makes a survivor trustworthy.

use crate::cli::authoring::Status;
use anyhow::Result;
use gatehouse_adapters::workflows;
use gatehouse_engine::Library;
use gatehouse_engine::mutants::{Mutant, judge_all};
use gatehouse_engine::scenario;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `gatehouse test --mutants PATH…`
pub fn run(paths: &[PathBuf], out: &mut dyn Write) -> Result<Status> {
    let report = match workflows::load_paths(paths) {
        Ok(r) => r,
        Err(e @ (workflows::ReadError::NotFound(_) | workflows::ReadError::Empty(_))) => {
            writeln!(out, "error: {e}")?;
            return Ok(Status::InputWrong);
        }
        Err(e) => return Err(e.into()),
    };
    if report.has_errors() {
        for d in report.diagnostics.iter().filter(|d| d.is_error()) {
            writeln!(out, "{d}")?;
        }
        writeln!(out, "not run: fix the errors above first")?;
        return Ok(Status::InputWrong);
    }
    let (mut killed, mut survived, mut status) = (0, 0, Status::Ok);
    for (file, loaded) in &report.loaded {
        let def = &loaded.definition;
        let shown = file.display().to_string();
        if let Some(failed) = scenario::run_all(def, &loaded.scenarios).into_iter().find(|o| o.failure.is_some()) {
            writeln!(out, "{shown}: not run: scenario `{}` fails on the workflow itself", failed.name)?;
            status = Status::InputWrong;
            continue;
        }
        let text = std::fs::read_to_string(file)?;
        let library = library_of(file)?;
        let tally = judge_all(&shown, &text, &library).map_err(anyhow::Error::msg)?;
        // A survivor the workflow declares equivalent, with why, is not a gap in its
        // scenarios; a declaration that matches no survivor is stale, and an error.
        let declared = &def.equivalent_mutants;
        let (equivalent, survivors): (Vec<&Mutant>, Vec<&Mutant>) =
            tally.survived.iter().partition(|m| declared.iter().any(|(d, _)| *d == m.description));
        for m in &survivors {
            writeln!(out, "{shown}:{}:{}: mutant survived: {}", m.line, m.column, m.description)?;
        }
        for (d, _) in declared.iter().filter(|(d, _)| !equivalent.iter().any(|m| &m.description == d)) {
            writeln!(
                out,
                "{shown}: declared equivalent, but no surviving mutant is `{d}`: remove it from `mutants: equivalent:`"
            )?;
            status = Status::InputWrong;
        }
        if !equivalent.is_empty() {
            writeln!(out, "note: {}: {} surviving mutant(s) declared equivalent, with why", def.id, equivalent.len())?;
        }
        if tally.did_not_load > 0 {
            writeln!(out, "note: {}: {} mutant(s) did not load and were not counted", def.id, tally.did_not_load)?;
        }
        killed += tally.killed;
        survived += survivors.len();
    }
    writeln!(out, "{killed} killed, {survived} survived")?;
    if survived > 0 {
        status = Status::InputWrong;
    }
    Ok(status)
}

/// The templates and calendars beside a workflow file.
fn library_of(file: &Path) -> Result<Library> {
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Ok(workflows::read_library(dir)?.0)
}
