//! `cargo xtask bench`: runs each benchmark step and writes BENCHMARKS.md at the root.
//!
//! A step is one function `fn(&Options) -> Result<Section>` listed in [`STEPS`] under a
//! name: it runs something and returns the figures it measured. To add a benchmark, write
//! another such function and list it. `--only NAME` runs the named steps alone and prints
//! their report instead of rewriting BENCHMARKS.md, which keeps the figures of a full run.
//!
//! Steps: `cargo` ([`cargo_benches`]), `http` (the load test of `gatehouse serve`, see
//! [`http`]) and `mail` (due reminders delivered over SMTP by `gatehouse serve`, see
//! [`mail`]).
//!
//! Bench binaries that need PostgreSQL find the server in `GATEHOUSE_TEST_DATABASE_URL`,
//! resolved as for `cargo xtask test` (see [`crate::postgres`]).
//!
//! Figures are read from what bench binaries print on stdout: a line `name: value unit`
//! (e.g. `decide/lcc-submit: 12.5 µs`), and criterion's own `name time: [low mid high]`
//! lines, of which the middle estimate is kept.

mod figures;
mod http;
mod mail;
mod report;
mod server;
mod targets;

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
    /// The names of the steps to run (see [`STEPS`]); all of them when empty.
    pub only: &'a [String],
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

/// What limits the store's figures and what would lift them, from profiles (see the
/// file for the commands); printed under the cargo benchmarks' figures.
const ANALYSIS: &str = include_str!("bench/store-analysis.md");

/// One benchmark step.
type Step = fn(&Options<'_>) -> Result<Section>;

/// The steps by name, in the order they run and appear in BENCHMARKS.md.
const STEPS: &[(&str, Step)] = &[("cargo", cargo_benches), ("http", http::load), ("mail", mail::reminders)];

/// Runs the steps, then writes BENCHMARKS.md; with `--only`, prints the report instead.
pub fn run(options: &Options<'_>) -> Result<()> {
    let steps = selected(options.only)?;
    let machine = Machine::probe()?;
    let date = jiff::Timestamp::now();
    let sections = steps.iter().map(|step| step(options)).collect::<Result<Vec<_>>>()?;
    let mut invocation = String::from("cargo xtask bench");
    if options.quick {
        invocation.push_str(" --quick");
    }
    if !options.only.is_empty() {
        invocation.push_str(&format!(" --only {}", options.only.join(",")));
    }
    let text =
        report::render(&report::Report { date, machine: &machine, invocation: &invocation, sections: &sections });
    if !options.only.is_empty() {
        print!("{text}");
        eprintln!("xtask: --only runs part of the benchmarks: BENCHMARKS.md is left as it was");
        return Ok(());
    }
    let path = project_root().join("BENCHMARKS.md");
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("xtask: wrote {}", path.display());
    Ok(())
}

/// The steps named in `only`, in [`STEPS`] order; every step when `only` is empty.
fn selected(only: &[String]) -> Result<Vec<Step>> {
    if let Some(unknown) = only.iter().find(|name| !STEPS.iter().any(|(known, _)| known == name)) {
        let known: Vec<&str> = STEPS.iter().map(|(name, _)| *name).collect();
        bail!("there is no benchmark step `{unknown}`; the steps are {}", known.join(", "));
    }
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    Ok(STEPS.iter().filter(|(name, _)| wanted(name)).map(|(_, step)| *step).collect())
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
    let mut output = run_echoing_stdout(&mut command)?;
    // PostgreSQL's throughput again over its Unix socket, when it has one here: no TCP
    // stack between the store and the server.
    let mut commands = vec![cmd::display(&command)];
    if let Some(socket) = options.postgres.socket_url() {
        let mut over_socket = cargo();
        over_socket
            // `--workspace` as above, so that the same build serves both runs.
            .args(["bench", "--workspace", "--bench", "store", "--"])
            .args(["--backend", "postgres", "--part", "throughput", "--transport", "socket"])
            .env(TEST_DATABASE_URL_VAR, &socket)
            .current_dir(project_root());
        if options.quick {
            over_socket.arg("--quick");
        }
        output.push_str(&run_echoing_stdout(&mut over_socket)?);
        commands.push(cmd::display(&over_socket));
    }
    let figures = figures::parse(&output);
    let note = if figures.is_empty() {
        "The bench targets printed no figures.".to_owned()
    } else {
        let judged = targets::judge(&figures);
        format!("PostgreSQL: {}.\n\nTargets:\n\n{judged}\n\n{}", options.postgres, ANALYSIS.trim())
    };
    Ok(Section { title, command: Some(commands.join("` then `")), figures, note: Some(note) })
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
