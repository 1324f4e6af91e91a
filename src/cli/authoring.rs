//! The commands for workflow authors: `validate`, `graph`, `test`, `explain`. Each
//! writes what people read to `out`, and returns the exit status: 0 when all is well,
//! 1 when the input is wrong. An `Err` means the program could not do its job.

use anyhow::Result;
use gatehouse_adapters::workflows::{self, ReadError, Report};
use gatehouse_engine::definition::{Definition, Gate, GateKind};
use gatehouse_engine::load::{Loaded, flatten};
use gatehouse_engine::scenario;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How the command went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Everything checked out.
    Ok,
    /// The input is wrong (exit code 1).
    InputWrong,
}

impl From<Status> for std::process::ExitCode {
    fn from(s: Status) -> Self {
        match s {
            Status::Ok => std::process::ExitCode::SUCCESS,
            Status::InputWrong => std::process::ExitCode::from(1),
        }
    }
}

/// Diagram formats.
#[derive(Debug, Clone, Copy)]
pub enum GraphFormat {
    /// Mermaid `stateDiagram-v2`.
    Mermaid,
    /// Graphviz.
    Dot,
    /// SVG, laid out by Gatehouse (as the web pages show it).
    Svg,
}

/// Policy document formats.
#[derive(Debug, Clone, Copy)]
pub enum ExplainFormat {
    /// Markdown.
    Markdown,
    /// A standalone HTML page.
    Html,
}

/// Load `paths`, or say why the files could not be read (exit 1: a wrong path is wrong
/// input; an I/O failure is an `Err`).
fn load(paths: &[PathBuf], out: &mut dyn Write) -> Result<Option<Report>> {
    match workflows::load_paths(paths) {
        Ok(r) => Ok(Some(r)),
        Err(e @ (ReadError::NotFound(_) | ReadError::Empty(_))) => {
            writeln!(out, "error: {e}")?;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn print_diagnostics(report: &Report, out: &mut dyn Write) -> Result<()> {
    for d in &report.diagnostics {
        writeln!(out, "{d}")?;
    }
    Ok(())
}

/// `gatehouse validate [--strict] PATH…`; with `strict`, a warning fails the check too.
pub fn validate(paths: &[PathBuf], strict: bool, out: &mut dyn Write) -> Result<Status> {
    let Some(report) = load(paths, out)? else { return Ok(Status::InputWrong) };
    print_diagnostics(&report, out)?;
    for (file, loaded) in &report.loaded {
        writeln!(out, "ok: {}: {}", file.display(), summary(loaded))?;
    }
    let errors = report.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        writeln!(
            out,
            "{errors} error(s) in {} file(s); {} workflow(s) valid",
            report.failed.len(),
            report.loaded.len()
        )?;
        return Ok(Status::InputWrong);
    }
    let warnings = report.diagnostics.len();
    if strict && warnings > 0 {
        writeln!(out, "{warnings} warning(s), refused by --strict")?;
        return Ok(Status::InputWrong);
    }
    Ok(Status::Ok)
}

/// One line about a workflow: "lcc-decommissioning v1 — 7 states, 9 transitions, …".
pub fn summary(loaded: &Loaded) -> String {
    let def = &loaded.definition;
    let gates: usize = def.transitions.iter().map(|t| flatten(&t.gates).len()).sum();
    format!(
        "{} v{} ({}): {} states, {} transitions, {} gates, {} timers, {} schedules, {} tests",
        def.id,
        def.version,
        def.title,
        def.states.len(),
        def.transitions.len(),
        gates,
        def.timers.len(),
        def.schedules.len(),
        loaded.scenarios.len()
    )
}

/// `gatehouse test PATH…`
pub fn test(paths: &[PathBuf], out: &mut dyn Write) -> Result<Status> {
    let Some(report) = load(paths, out)? else { return Ok(Status::InputWrong) };
    if report.has_errors() {
        print_diagnostics(&report, out)?;
        writeln!(out, "not run: fix the errors above first")?;
        return Ok(Status::InputWrong);
    }
    let (mut passed, mut failed) = (0, 0);
    for (file, loaded) in &report.loaded {
        let def = &loaded.definition;
        let outcomes = scenario::run_all(def, &loaded.scenarios);
        for o in &outcomes {
            match &o.failure {
                None => {
                    passed += 1;
                    writeln!(out, "PASS {}: {}", def.id, o.name)?;
                }
                Some((line, message)) => {
                    failed += 1;
                    writeln!(out, "FAIL {}: {}\n  {}:{line}: {message}", def.id, o.name, file.display())?;
                }
            }
        }
        for gap in coverage_gaps(def, &outcomes) {
            writeln!(out, "note: {}: {gap}", def.id)?;
        }
    }
    writeln!(out, "{passed} passed, {failed} failed")?;
    Ok(if failed == 0 { Status::Ok } else { Status::InputWrong })
}

/// Gates never shown blocking and timers never fired by any scenario.
pub fn coverage_gaps(def: &Definition, outcomes: &[scenario::Outcome]) -> Vec<String> {
    let mut gaps = Vec::new();
    for t in &def.transitions {
        for g in reported_gates(&t.gates) {
            let seen = outcomes.iter().any(|o| o.gates_blocked.contains(&(t.id.to_string(), g.id.clone())));
            if !seen {
                gaps.push(format!("no scenario shows gate `{}` of `{}` blocking", g.id, t.id));
            }
        }
    }
    for timer in &def.timers {
        if !outcomes.iter().any(|o| o.timers_fired.contains(&timer.id)) {
            gaps.push(format!("no scenario fires timer `{}`", timer.id));
        }
    }
    gaps
}

/// The gates an unmet transition reports: `all` reports its children, `any` reports
/// itself (its children never appear on their own).
fn reported_gates(gates: &[Gate]) -> Vec<&Gate> {
    let mut out = Vec::new();
    for g in gates {
        match &g.kind {
            GateKind::All(inner) => out.extend(reported_gates(inner)),
            _ => out.push(g),
        }
    }
    out
}

fn load_one(file: &Path, out: &mut dyn Write) -> Result<Option<Definition>> {
    let Some(mut report) = load(&[file.to_path_buf()], out)? else { return Ok(None) };
    if report.has_errors() || report.loaded.is_empty() {
        print_diagnostics(&report, out)?;
        return Ok(None);
    }
    Ok(Some(report.loaded.remove(0).1.definition))
}

/// `gatehouse graph FILE --format mermaid|dot|svg`
pub fn graph(file: &Path, format: GraphFormat, out: &mut dyn Write) -> Result<Status> {
    let Some(def) = load_one(file, out)? else { return Ok(Status::InputWrong) };
    let text = match format {
        GraphFormat::Mermaid => gatehouse_engine::graph::mermaid(&def),
        GraphFormat::Dot => gatehouse_engine::graph::dot(&def),
        GraphFormat::Svg => {
            let title = format!("State diagram of {} (version {})", def.title, def.version);
            gatehouse_engine::graph::svg(&def, &gatehouse_engine::graph::Marks::default(), &title)
        }
    };
    write!(out, "{text}")?;
    Ok(Status::Ok)
}

/// `gatehouse diff OLD NEW`: one line per change, or that there is none. `NEW` loads as
/// `validate` loads it; `OLD` with `NEW`'s folder's templates and calendars, so that an
/// earlier version taken out of git into another folder loads too.
pub fn diff(old: &Path, new: &Path, out: &mut dyn Write) -> Result<Status> {
    let Some(after) = load_one(new, out)? else { return Ok(Status::InputWrong) };
    let folder = new.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let (library, _) = match workflows::read_library(folder) {
        Ok(l) => l,
        Err(e) => {
            writeln!(out, "error: {e}")?;
            return Ok(Status::InputWrong);
        }
    };
    let text = match std::fs::read_to_string(old) {
        Ok(t) => t,
        Err(e) => {
            writeln!(out, "error: {}: {e}", old.display())?;
            return Ok(Status::InputWrong);
        }
    };
    let before = match gatehouse_engine::load(&old.display().to_string(), &text, &library) {
        Ok(l) => l.definition,
        Err(diags) => {
            for d in diags.iter().filter(|d| d.is_error()) {
                writeln!(out, "{d}")?;
            }
            return Ok(Status::InputWrong);
        }
    };
    if before.id != after.id {
        writeln!(
            out,
            "error: {} is workflow `{}` and {} is `{}`: compare two versions of one workflow",
            old.display(),
            before.id,
            new.display(),
            after.id
        )?;
        return Ok(Status::InputWrong);
    }
    let changes = gatehouse_engine::changes::changes(&before, &after);
    writeln!(
        out,
        "{} version {} → {}: {}",
        after.id,
        before.version,
        after.version,
        match changes.len() {
            0 => "no change to its rules".to_string(),
            1 => "1 change".to_string(),
            n => format!("{n} changes"),
        }
    )?;
    for c in &changes {
        writeln!(out, "- {c}")?;
    }
    Ok(Status::Ok)
}

/// `gatehouse explain FILE --format markdown|html`
pub fn explain(file: &Path, format: ExplainFormat, out: &mut dyn Write) -> Result<Status> {
    let Some(def) = load_one(file, out)? else { return Ok(Status::InputWrong) };
    let text = match format {
        ExplainFormat::Markdown => gatehouse_engine::explain::markdown(&def),
        ExplainFormat::Html => gatehouse_engine::explain::html(&def),
    };
    write!(out, "{text}")?;
    Ok(Status::Ok)
}
