//! `cargo xtask bench`: runs each benchmark step and writes BENCHMARKS.md at the root.
//!
//! A step is one function `fn(&Options) -> Result<Section>` listed in [`STEPS`]: it runs
//! something and returns the figures it measured. To add a benchmark (a load test of
//! `gatehouse serve`, say), write another such function and list it.
//!
//! Bench binaries that need PostgreSQL find the server in `GATEHOUSE_TEST_DATABASE_URL`,
//! resolved as for `cargo xtask test` (see [`crate::postgres`]).
//!
//! Figures are read from what bench binaries print on stdout: a line `name: value unit`
//! (e.g. `decide/lcc-submit: 12.5 µs`), and criterion's own `name time: [low mid high]`
//! lines, of which the middle estimate is kept.

mod figures;
mod report;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::machine::Machine;
use crate::postgres::TestServer;
use crate::{TEST_DATABASE_URL_VAR, cargo, cmd, project_root};

pub use figures::Figure;

/// How to run the benchmarks.
pub struct Options<'a> {
    /// A short run: criterion's `--quick`; figures are rougher.
    pub quick: bool,
    /// The server the benchmarks create their databases on.
    pub postgres: &'a TestServer,
}

/// What one step measured, for one section of BENCHMARKS.md.
pub struct Section {
    pub title: String,
    /// The command the step ran, if any.
    pub command: Option<String>,
    pub figures: Vec<Figure>,
    /// Anything a reader should know about the figures (or their absence).
    pub note: Option<String>,
}

/// One benchmark step.
type Step = fn(&Options<'_>) -> Result<Section>;

/// The steps, in the order they run and appear in BENCHMARKS.md.
const STEPS: &[Step] = &[cargo_benches];

/// Runs every step, then writes BENCHMARKS.md.
pub fn run(options: &Options<'_>) -> Result<()> {
    let machine = Machine::probe()?;
    let date = jiff::Timestamp::now();
    let sections = STEPS.iter().map(|step| step(options)).collect::<Result<Vec<_>>>()?;
    let invocation = if options.quick { "cargo xtask bench --quick" } else { "cargo xtask bench" };
    let text = report::render(&report::Report { date, machine: &machine, invocation, sections: &sections });
    let path = project_root().join("BENCHMARKS.md");
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("xtask: wrote {}", path.display());
    Ok(())
}

/// The workspace's bench targets (`benches/*.rs`, criterion), run with `cargo bench`.
///
/// Targets are named one by one rather than with `--benches`, which would also build and
/// run every library's unit tests in the bench profile, and hand them criterion's flags.
fn cargo_benches(options: &Options<'_>) -> Result<Section> {
    let title = "cargo bench".to_owned();
    let targets = bench_targets()?;
    if targets.is_empty() {
        let note = Some("The workspace has no bench targets yet.".to_owned());
        return Ok(Section { title, command: None, figures: Vec::new(), note });
    }
    let mut command = cargo();
    command
        .args(["bench", "--workspace"])
        .env(TEST_DATABASE_URL_VAR, options.postgres.url())
        .current_dir(project_root());
    for target in &targets {
        command.args(["--bench", target]);
    }
    if options.quick {
        command.args(["--", "--quick"]);
    }
    let output = run_echoing_stdout(&mut command)?;
    let figures = figures::parse(&output);
    let note = if figures.is_empty() {
        "The bench targets printed no figures.".to_owned()
    } else {
        format!("PostgreSQL: {}.", options.postgres)
    };
    Ok(Section { title, command: Some(cmd::display(&command)), figures, note: Some(note) })
}

/// The names of all `bench` targets of the workspace's packages, from `cargo metadata`.
fn bench_targets() -> Result<Vec<String>> {
    let mut command = cargo();
    command.args(["metadata", "--no-deps", "--format-version", "1"]).current_dir(project_root());
    let json = cmd::output(&mut command)?;
    let metadata: serde_json::Value = serde_json::from_str(&json).context("parsing cargo metadata")?;
    let packages = metadata["packages"].as_array().context("cargo metadata has no packages")?;
    let targets = packages.iter().flat_map(|package| package["targets"].as_array().into_iter().flatten());
    let benches =
        targets.filter(|target| target["kind"].as_array().is_some_and(|kinds| kinds.iter().any(|k| k == "bench")));
    let mut names: Vec<String> = benches.filter_map(|target| target["name"].as_str().map(str::to_owned)).collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Runs `command`, passing its stdout through to ours as it comes, and returns it.
fn run_echoing_stdout(command: &mut Command) -> Result<String> {
    let shown = cmd::display(command);
    eprintln!("xtask: running {shown}");
    let mut child = command.stdout(Stdio::piped()).spawn().with_context(|| format!("could not start `{shown}`"))?;
    let stdout = child.stdout.take().context("the child's stdout was not captured")?;
    let mut captured = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.with_context(|| format!("reading the output of `{shown}`"))?;
        println!("{line}");
        captured.push_str(&line);
        captured.push('\n');
    }
    std::io::stdout().flush().context("writing to stdout")?;
    let status = child.wait().with_context(|| format!("waiting for `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(captured)
}
