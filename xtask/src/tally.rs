//! The one line `cargo xtask test` ends with: `N passed, N failed`, the totals over every
//! test suite cargo ran and every workflow scenario `gatehouse test` ran, so that a
//! reader sees the whole at a glance.
//!
//! The counts are read from what the runners print: libtest's `test result: …` line per
//! suite, and `gatehouse test`'s own closing `N passed, N failed`. A runner that failed
//! without printing a result (a test binary that crashed, a build that broke) counts as
//! one failure, so the line can never say "0 failed" about a run that failed.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, ExitStatus, Stdio};

use anyhow::{Context, Result};

use crate::cmd;

/// Passed and failed, summed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Tests and scenarios that passed.
    pub passed: u64,
    /// Tests and scenarios that failed, plus runners that failed without a result.
    pub failed: u64,
}

/// Which runner's output is read: each has its own result line, and only that one is
/// counted (a failing test's captured output may hold a line shaped like the other's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// `cargo test`: libtest's `test result:` line per suite.
    Libtest,
    /// `gatehouse test`: its closing `N passed, N failed`.
    Scenarios,
    /// A command whose exit status is its result (`gatehouse validate --strict`): it
    /// counts as one check, passed or failed, and prints no count of its own.
    Check,
    /// `gatehouse test --mutants`: its closing `N killed, N survived`. The whole run is
    /// one check: it passes when nothing survived, and each survivor is a failure.
    Mutants,
}

impl Tally {
    /// Adds what one line of `runner`'s output reports, if it reports a count.
    pub fn read_line(&mut self, runner: Runner, line: &str) {
        let counts = match runner {
            Runner::Libtest => libtest_result(line),
            Runner::Scenarios => scenario_result(line),
            Runner::Mutants => mutants_result(line),
            Runner::Check => None,
        };
        if let Some((passed, failed)) = counts {
            self.passed += passed;
            self.failed += failed;
        }
    }

    /// The closing line.
    pub fn line(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
    }
}

/// `test result: ok. 12 passed; 0 failed; 0 ignored; …`
fn libtest_result(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let (_, counts) = rest.split_once(". ")?;
    let mut parts = counts.split("; ");
    let passed = parts.next()?.strip_suffix(" passed")?.parse().ok()?;
    let failed = parts.next()?.strip_suffix(" failed")?.parse().ok()?;
    Some((passed, failed))
}

/// `gatehouse test`'s last line: `20 passed, 0 failed`.
fn scenario_result(line: &str) -> Option<(u64, u64)> {
    let (passed, failed) = line.trim().split_once(", ")?;
    let passed = passed.strip_suffix(" passed")?.parse().ok()?;
    let failed = failed.strip_suffix(" failed")?.parse().ok()?;
    Some((passed, failed))
}

/// `gatehouse test --mutants`'s last line, `223 killed, 0 survived`, as one check.
fn mutants_result(line: &str) -> Option<(u64, u64)> {
    let (killed, survived) = line.trim().split_once(", ")?;
    killed.strip_suffix(" killed")?.parse::<u64>().ok()?;
    let survived: u64 = survived.strip_suffix(" survived")?.parse().ok()?;
    Some(if survived == 0 { (1, 0) } else { (0, survived) })
}

/// Runs `command` with its stdout passed through line by line and tallied into `tally`;
/// stderr is inherited. A run that fails without reporting a failure counts as one.
pub fn run(command: &mut Command, runner: Runner, tally: &mut Tally) -> Result<ExitStatus> {
    let shown = cmd::display(command);
    let mut child = command.stdout(Stdio::piped()).spawn().with_context(|| format!("could not start `{shown}`"))?;
    let before = *tally;
    let stdout = child.stdout.take().context("the child's stdout is piped")?;
    pass_through(stdout, runner, tally).with_context(|| format!("reading the output of `{shown}`"))?;
    let status = child.wait().with_context(|| format!("waiting for `{shown}`"))?;
    if !status.success() && tally.failed == before.failed {
        tally.failed += 1;
    } else if status.success() && runner == Runner::Check {
        tally.passed += 1;
    }
    Ok(status)
}

fn pass_through(from: impl Read, runner: Runner, tally: &mut Tally) -> std::io::Result<()> {
    for line in BufReader::new(from).lines() {
        let line = line?;
        // `println!`, not a raw stdout handle, so that libtest captures it in our own tests.
        println!("{line}");
        tally.read_line(runner, &line);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_and_scenarios_are_summed() {
        let mut tally = Tally::default();
        let suites = [
            "running 3 tests",
            "test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s",
            "test a_test ... ok",
            // A failing test's captured output, shaped like the scenario runner's line.
            "7 passed, 7 failed",
            "test result: FAILED. 5 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.2s",
        ];
        suites.iter().for_each(|l| tally.read_line(Runner::Libtest, l));
        let scenarios = ["PASS lcc-decommissioning: the happy path", "20 passed, 1 failed"];
        scenarios.iter().for_each(|l| tally.read_line(Runner::Scenarios, l));
        assert_eq!(tally, Tally { passed: 28, failed: 3 });
        assert_eq!(tally.line(), "28 passed, 3 failed");

        // The mutants run is one check; each survivor is a failure.
        tally.read_line(Runner::Mutants, "223 killed, 0 survived");
        assert_eq!(tally, Tally { passed: 29, failed: 3 });
        tally.read_line(Runner::Mutants, "a.yaml:3:4: mutant survived: gate `x` of `y` removed");
        tally.read_line(Runner::Mutants, "221 killed, 2 survived");
        assert_eq!(tally, Tally { passed: 29, failed: 5 });
    }

    #[test]
    fn a_runner_that_fails_without_a_result_counts_as_a_failure() {
        let mut tally = Tally::default();
        let status =
            run(Command::new("sh").args(["-c", "echo compiling; exit 101"]), Runner::Libtest, &mut tally).unwrap();
        assert!(!status.success());
        assert_eq!(tally, Tally { passed: 0, failed: 1 });

        let mut tally = Tally::default();
        let script = "echo 'test result: FAILED. 1 passed; 1 failed; 0 ignored'; exit 101";
        run(Command::new("sh").args(["-c", script]), Runner::Libtest, &mut tally).unwrap();
        assert_eq!(tally, Tally { passed: 1, failed: 1 }, "a reported failure is not counted twice");

        // A check is one result, whatever it prints.
        let mut tally = Tally::default();
        run(Command::new("sh").args(["-c", "echo '3 passed, 0 failed'; exit 0"]), Runner::Check, &mut tally).unwrap();
        run(Command::new("sh").args(["-c", "echo 'warning: x'; exit 1"]), Runner::Check, &mut tally).unwrap();
        assert_eq!(tally, Tally { passed: 1, failed: 1 });
    }
}
