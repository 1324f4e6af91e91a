//! Reading workflow folders from disk: the workflow files, and the `templates/` and
//! `calendars/` beside them. What the files mean is decided by `gatehouse_engine::load`.

use gatehouse_engine::calendar::Calendar;
use gatehouse_engine::diagnostics::{Diagnostic, Severity};
use gatehouse_engine::templates::TemplateSource;
use gatehouse_engine::{Library, Loaded, load};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Reading the files failed (not their content: that gives diagnostics).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A path given does not exist.
    #[error("{0}: no such file or directory")]
    NotFound(PathBuf),
    /// A folder holds no workflow files.
    #[error("{0}: no workflow files (*.yaml) in this folder")]
    Empty(PathBuf),
    /// The file system said no.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReadError + '_ {
    move |source| ReadError::Io { path: path.to_path_buf(), source }
}

/// Every workflow loaded from some paths, with all diagnostics.
#[derive(Debug, Default)]
pub struct Report {
    /// Workflows that loaded, with their file.
    pub loaded: Vec<(PathBuf, Loaded)>,
    /// Errors and warnings from every file, warnings of loaded workflows included.
    pub diagnostics: Vec<Diagnostic>,
    /// Files that did not load.
    pub failed: Vec<PathBuf>,
}

impl Report {
    /// Whether any error was found.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The workflow files named by `paths`: files as given, folders' `*.yaml` and `*.yml`
/// (not recursive: templates and calendars live in sub-folders).
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ReadError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_file() {
            out.push(p.clone());
        } else if p.is_dir() {
            let mut found = Vec::new();
            for entry in std::fs::read_dir(p).map_err(io(p))? {
                let path = entry.map_err(io(p))?.path();
                if path.is_file() && matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                    found.push(path);
                }
            }
            if found.is_empty() {
                return Err(ReadError::Empty(p.clone()));
            }
            found.sort();
            out.extend(found);
        } else {
            return Err(ReadError::NotFound(p.clone()));
        }
    }
    Ok(out)
}

/// The templates and calendars of the workflow folder `dir`, with diagnostics for
/// calendar files that do not parse.
pub fn read_library(dir: &Path) -> Result<(Library, Vec<Diagnostic>), ReadError> {
    let mut library = Library::default();
    let mut diags = Vec::new();
    let templates = dir.join("templates");
    if templates.is_dir() {
        for entry in std::fs::read_dir(&templates).map_err(io(&templates))? {
            let path = entry.map_err(io(&templates))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("txt") {
                continue;
            }
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else { continue };
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            let html_path = path.with_extension("html");
            let html = if html_path.is_file() {
                Some(std::fs::read_to_string(&html_path).map_err(io(&html_path))?)
            } else {
                None
            };
            library.templates.insert(name.to_string(), TemplateSource { file: path.display().to_string(), text, html });
        }
    }
    let calendars = dir.join("calendars");
    if calendars.is_dir() {
        for entry in std::fs::read_dir(&calendars).map_err(io(&calendars))? {
            let path = entry.map_err(io(&calendars))?.path();
            if !matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
                continue;
            }
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else { continue };
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            match Calendar::parse(name, &text) {
                Ok(c) => {
                    library.calendars.insert(name.to_string(), Arc::new(c));
                }
                Err(message) => diags.push(Diagnostic {
                    file: path.display().to_string(),
                    line: line_of(&message),
                    column: 1,
                    severity: Severity::Error,
                    message,
                    hint: Some("a calendar is `title:`, `weekend:` and `holidays:` with `{ date: YYYY-MM-DD, title: … }` entries".into()),
                }),
            }
        }
    }
    Ok((library, diags))
}

fn line_of(message: &str) -> usize {
    message
        .split(" at line ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// Load every workflow named by `paths`, each against the library of its own folder.
pub fn load_paths(paths: &[PathBuf]) -> Result<Report, ReadError> {
    let files = collect(paths)?;
    let mut libraries: BTreeMap<PathBuf, Library> = BTreeMap::new();
    let mut report = Report::default();
    for file in files {
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        if !libraries.contains_key(&dir) {
            let (library, diags) = read_library(&dir)?;
            report.diagnostics.extend(diags);
            libraries.insert(dir.clone(), library);
        }
        let text = std::fs::read_to_string(&file).map_err(io(&file))?;
        match load(&file.display().to_string(), &text, &libraries[&dir]) {
            Ok(loaded) => {
                report.diagnostics.extend(loaded.warnings.iter().cloned());
                report.loaded.push((file, loaded));
            }
            Err(diags) => {
                report.diagnostics.extend(diags);
                report.failed.push(file);
            }
        }
    }
    check_related(&mut report);
    Ok(report)
}

/// Check the workflows' `children:` against the child workflows loaded with them; a
/// problem is reported at the parent's `children:` key, and a parent with an error does
/// not load.
fn check_related(report: &mut Report) {
    let defs: Vec<&gatehouse_engine::definition::Definition> =
        report.loaded.iter().map(|(_, l)| &l.definition).collect();
    let problems = gatehouse_engine::load::check_children(&defs);
    for p in problems {
        let Some((file, _)) = report.loaded.iter().find(|(_, l)| l.definition.id == p.workflow) else { continue };
        let line = std::fs::read_to_string(file)
            .ok()
            .and_then(|text| text.lines().position(|l| l.starts_with("children:")))
            .map_or(1, |i| i + 1);
        report.diagnostics.push(Diagnostic {
            file: file.display().to_string(),
            line,
            column: 1,
            severity: if p.error { Severity::Error } else { Severity::Warning },
            message: p.message,
            hint: None,
        });
        if p.error && !report.failed.contains(file) {
            report.failed.push(file.clone());
        }
    }
    let failed = report.failed.clone();
    report.loaded.retain(|(file, _)| !failed.contains(file));
}
