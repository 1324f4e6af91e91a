//! `cargo xtask …`: Gatehouse's project automation (the cargo-xtask pattern).
//!
//! Everything here needs nothing but cargo, apt-get and what it installs itself, so the
//! same commands work on a fresh machine, a developer's and CI's.
//!
//! Tasks:
//! - `cargo xtask test [--throwaway-pg] [-- CARGO_TEST_ARGS…]`: installs the SMTP
//!   server the mail tests use if missing (see [`smtp`]) and PostgreSQL's server
//!   programs (a durability test runs a cluster of its own), finds or starts a
//!   PostgreSQL server (see [`postgres`]), exports `GATEHOUSE_TEST_DATABASE_URL` and
//!   `GATEHOUSE_PG_BIN_DIR`, runs `cargo test --workspace` and then (without extra
//!   arguments) `gatehouse validate --strict workflows` (every rule says where it comes
//!   from), the shipped workflows' scenarios (`gatehouse test workflows`) and their
//!   mutants (`gatehouse test --mutants workflows`, which fails on any survivor), and
//!   ends with one line of its own, `N passed, N failed`, the totals over all of them
//!   (see [`tally`]).
//! - `cargo xtask bench [--quick] [--only STEP,…] [--throwaway-pg]`: finds or starts a
//!   PostgreSQL server the same way, exports `GATEHOUSE_TEST_DATABASE_URL`, runs the
//!   benchmark steps (see [`bench`](mod@bench): `cargo`, the bench targets; `http`, a
//!   load test of `gatehouse serve`; `mail`, due reminders delivered over SMTP) and
//!   writes `BENCHMARKS.md` at the repository
//!   root; with `--only`, runs the named steps and prints their report instead.
//!
//! Exit codes: for `test`, the exit code of `cargo test`, or 1 when only the scenarios
//! failed; otherwise 0 when the task
//! succeeded and 2 when xtask could not do its job (usage errors are clap's 2 as well).

mod apt;
mod bench;
mod browser;
mod cmd;
mod machine;
mod objects;
mod oidc;
mod postgres;
mod smtp;
mod tally;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// The variable through which tests and benchmarks find their PostgreSQL server. They
/// create their own uuid-named databases on it.
pub const TEST_DATABASE_URL_VAR: &str = "GATEHOUSE_TEST_DATABASE_URL";

#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", about = "Gatehouse project automation")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run the workspace tests against a PostgreSQL server found or started for them.
    Test {
        #[command(flatten)]
        postgres: PostgresArgs,
        /// Extra arguments for `cargo test`, after `--` (e.g. `-- -p gatehouse-engine`).
        #[arg(last = true)]
        cargo_args: Vec<OsString>,
    },
    /// Run the benchmarks, against a PostgreSQL server found or started for them, and
    /// write BENCHMARKS.md at the repository root.
    Bench {
        /// Ask the benchmark harnesses for a short run (criterion's `--quick`).
        #[arg(long)]
        quick: bool,
        /// Run only these steps (`cargo`, `http`, `mail`) and print their report to stdout,
        /// leaving BENCHMARKS.md as it is.
        #[arg(long, value_name = "STEP", value_delimiter = ',')]
        only: Vec<String>,
        #[command(flatten)]
        postgres: PostgresArgs,
    },
}

/// How `test` and `bench` find their PostgreSQL server.
#[derive(clap::Args)]
struct PostgresArgs {
    /// Skip GATEHOUSE_TEST_DATABASE_URL and the probe of 127.0.0.1:5432, and always
    /// start a throwaway cluster (to exercise that path on a machine that has a server).
    #[arg(
        long,
        env = "GATEHOUSE_XTASK_FORCE_THROWAWAY_PG",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    throwaway_pg: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    ignore_interrupts();
    match run(cli.task) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(task: Task) -> Result<ExitCode> {
    match task {
        Task::Test { postgres, cargo_args } => test(&postgres, &cargo_args),
        Task::Bench { quick, only, postgres } => bench(quick, &only, &postgres),
    }
}

/// Resolves a PostgreSQL server, runs `cargo test` with it, and stops any throwaway
/// cluster afterwards, whatever the outcome: `server` is dropped before we return.
fn test(postgres: &PostgresArgs, cargo_args: &[OsString]) -> Result<ExitCode> {
    smtp::ensure_aiosmtpd()?;
    let axe = browser::ensure()?;
    let oidc_provider = oidc::ensure()?;
    let s3s_fs = objects::ensure()?;
    let pg_bin = postgres::server_programs()?;
    let server = postgres_server(postgres, "tests")?;

    let mut command = cargo();
    command.arg("test");
    if !selects_packages(cargo_args) {
        command.arg("--workspace");
    }
    command
        .args(cargo_args)
        .env(TEST_DATABASE_URL_VAR, server.url())
        .env("GATEHOUSE_AXE_JS", axe)
        .env("GATEHOUSE_OIDC_PROVIDER", oidc_provider)
        .env("GATEHOUSE_S3S_FS", s3s_fs)
        .env("GATEHOUSE_PG_BIN_DIR", pg_bin)
        .current_dir(project_root());
    eprintln!("xtask: running {}", cmd::display(&command));
    let mut tally = tally::Tally::default();
    let tests = tally::run(&mut command, tally::Runner::Libtest, &mut tally)?;
    // The shipped workflows' scenarios, then their mutants, unless the arguments picked
    // particular tests. They run on the `gatehouse` that `cargo test --workspace` just
    // built: `cargo run` would build it again with other features.
    let mut authoring_ok = true;
    if cargo_args.is_empty() {
        let gatehouse = target_dir().join("debug").join("gatehouse");
        for (args, runner) in [
            (&["validate", "--strict", "workflows"][..], tally::Runner::Check),
            (&["test", "workflows"][..], tally::Runner::Scenarios),
            (&["test", "--mutants", "workflows"][..], tally::Runner::Mutants),
        ] {
            if !gatehouse.exists() {
                eprintln!(
                    "xtask: {} was not built, so `gatehouse {}` did not run",
                    gatehouse.display(),
                    args.join(" ")
                );
                tally.failed += 1;
                authoring_ok = false;
                continue;
            }
            let mut command = std::process::Command::new(&gatehouse);
            command.args(args).current_dir(project_root());
            eprintln!("xtask: running {}", cmd::display(&command));
            authoring_ok &= tally::run(&mut command, runner, &mut tally)?.success();
        }
    }
    println!("{}", tally.line());
    let failed = !tests.success() || !authoring_ok || tally.failed > 0;
    Ok(if failed && tests.success() { ExitCode::FAILURE } else { cmd::exit_code(tests) })
}

/// Resolves a PostgreSQL server as `test` does, runs the benchmarks with it, and stops
/// any throwaway cluster afterwards.
fn bench(quick: bool, only: &[String], postgres: &PostgresArgs) -> Result<ExitCode> {
    let server = postgres_server(postgres, "benchmarks")?;
    bench::run(&bench::Options { quick, postgres: &server, only })?;
    Ok(ExitCode::SUCCESS)
}

/// The PostgreSQL server for `users` (tests, benchmarks), named on stderr.
fn postgres_server(args: &PostgresArgs, users: &str) -> Result<postgres::TestServer> {
    let server = postgres::resolve(postgres::Options { force_throwaway: args.throwaway_pg })?;
    eprintln!("xtask: {users} use PostgreSQL {server}");
    Ok(server)
}

/// Whether the extra `cargo test` arguments pick packages themselves; `--workspace` would
/// override a `-p`, so we only add it when they don't.
fn selects_packages(args: &[OsString]) -> bool {
    args.iter()
        .filter_map(|arg| arg.to_str())
        .take_while(|arg| *arg != "--") // what follows goes to the test binaries
        .any(|arg| arg == "--package" || arg.starts_with("--package=") || arg.starts_with("-p"))
}

/// A `cargo` command: the cargo that runs us, so toolchain overrides carry through.
pub fn cargo() -> std::process::Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    std::process::Command::new(cargo)
}

/// Where cargo puts what it builds: `CARGO_TARGET_DIR`, or `target/` at the root.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| project_root().join("target"))
}

/// The workspace root: xtask lives one level below it.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits inside the workspace").to_path_buf()
}

/// Ctrl-C goes to the whole foreground process group, so the child we are waiting for
/// (cargo test, cargo bench) gets it and stops by itself. xtask itself keeps running, so
/// that it can stop a throwaway PostgreSQL cluster instead of leaving it behind.
fn ignore_interrupts() {
    if let Err(err) = ctrlc::set_handler(|| {}) {
        eprintln!("xtask: warning: could not install the Ctrl-C handler: {err}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::builder::{BoolishValueParser, TypedValueParser};

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn package_selection_is_detected() {
        assert!(selects_packages(&args(&["-p", "xtask"])));
        assert!(selects_packages(&args(&["-pxtask"])));
        assert!(selects_packages(&args(&["--package=xtask"])));
        assert!(selects_packages(&args(&["--package", "xtask"])));
        assert!(!selects_packages(&args(&["--test", "api", "--", "--nocapture"])));
        assert!(!selects_packages(&args(&["--", "-p"])));
        assert!(!selects_packages(&args(&[])));
    }

    #[test]
    fn force_flag_reads_one_as_true() {
        let cli = Cli::try_parse_from(["xtask", "test", "--throwaway-pg"]).expect("parses");
        assert!(matches!(cli.task, Task::Test { postgres: PostgresArgs { throwaway_pg: true }, .. }));
        let cli = Cli::try_parse_from(["xtask", "bench", "--quick", "--throwaway-pg"]).expect("parses");
        assert!(matches!(cli.task, Task::Bench { quick: true, postgres: PostgresArgs { throwaway_pg: true }, .. }));
        let cli = Cli::try_parse_from(["xtask", "bench", "--only", "http,cargo"]).expect("parses");
        assert!(matches!(cli.task, Task::Bench { only, .. } if only == ["http", "cargo"]));
        let value = BoolishValueParser::new();
        assert_eq!(value.parse_ref(&Cli::command(), None, "1".as_ref()).ok(), Some(true));
        assert_eq!(value.parse_ref(&Cli::command(), None, "0".as_ref()).ok(), Some(false));
    }

    #[test]
    fn cli_passes_everything_after_the_separator_to_cargo() {
        let cli = Cli::try_parse_from(["xtask", "test", "--", "-p", "xtask", "--", "--nocapture"]).expect("parses");
        let Task::Test { cargo_args, .. } = cli.task else { panic!("not the test task") };
        assert_eq!(cargo_args, args(&["-p", "xtask", "--", "--nocapture"]));
    }
}
