//! Store benchmarks, on fresh SQLite files and fresh PostgreSQL databases:
//!
//! - the raw commit rate: single-row inserts, one per transaction, through sea-orm with
//!   the store's own connection settings. Nothing durable can be faster.
//! - durable operations per second: app service calls (each loads, decides and applies
//!   in one transaction) over the Leeds decommissioning lifecycle, and their share of
//!   the raw commit rate. Both with 1 and 8 clients, the two taking turns.
//! - transition latency (p50, p99) in a database of 10 thousand cases and in one of 1
//!   million (100 thousand with `--quick`), the two taking turns, and how much it grows.
//!
//! Prints one `name: value unit` line per figure, which `cargo xtask bench` collects into
//! BENCHMARKS.md. PostgreSQL is the server `GATEHOUSE_TEST_DATABASE_URL` names (`cargo
//! xtask bench` sets it), else the one on 127.0.0.1:5432.
//!
//! Run with `cargo bench --bench store [-- --quick] [--backend sqlite|postgres]
//! [--part throughput|latency] [--transport socket]`; `--backend` and `--part` narrow the
//! run while profiling; `--transport socket` says the PostgreSQL URL names the server's
//! Unix socket (`?host=/run/postgresql`), and its figures are named `postgres_socket_…`
//! (`cargo xtask bench` measures PostgreSQL over TCP and then, when it can reach the
//! server's socket, over that).

#[path = "store/commits.rs"]
mod commits;
#[path = "store/fill.rs"]
mod fill;
#[path = "store/latency.rs"]
mod latency;
#[path = "store/lifecycle.rs"]
mod lifecycle;
#[path = "store/rate.rs"]
mod rate;
#[path = "../tests/support/mod.rs"]
mod support;

use gatehouse::app::App;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Backend, TestDb, fresh_db};

/// How much to do: the full run, or a short one with `--quick` (well under a minute).
struct Scale {
    /// How long each throughput figure is measured, in all.
    window: Duration,
    /// In how many turns (see `rate.rs`).
    rounds: u32,
    /// Cases stored in the two databases whose transition latency is compared.
    sizes: [u64; 2],
    /// Transitions timed in each.
    transitions: usize,
}

impl Scale {
    fn from_args() -> Scale {
        if std::env::args().any(|a| a == "--quick") {
            Scale { window: Duration::from_secs(1), rounds: 2, sizes: [10_000, 100_000], transitions: 100 }
        } else {
            Scale { window: Duration::from_secs(10), rounds: 10, sizes: [10_000, 1_000_000], transitions: 300 }
        }
    }
}

/// The concurrent clients of each throughput measurement.
const CLIENTS: [usize; 2] = [1, 8];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let scale = Scale::from_args();
    let backends: Vec<Backend> = [Backend::Sqlite, Backend::Postgres]
        .into_iter()
        .filter(|b| arg_value("--backend").is_none_or(|name| name == backend_name(*b)))
        .collect();
    let part = arg_value("--part");
    if part.as_deref().is_none_or(|p| p == "throughput") {
        for &backend in &backends {
            throughput(backend, &scale).await?;
        }
    }
    if part.as_deref().is_none_or(|p| p == "latency") {
        for &backend in &backends {
            transition_latency(backend, &scale).await?;
        }
    }
    Ok(())
}

/// The value after `flag` on the command line, if any.
fn arg_value(flag: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1).cloned())
}

/// For each number of clients: the raw commit rate and durable operations per second,
/// taking turns, and the share of the one the other is.
async fn throughput(backend: Backend, scale: &Scale) -> anyhow::Result<()> {
    let started = Instant::now();
    let name = figure_prefix(backend);
    let raw_table = commits::RawTable::create(backend).await?;
    let db = fresh_db(backend).await;
    let (app, _) = db.app().await;
    let app = Arc::new(app);
    for clients in CLIENTS {
        let (lifecycles, times) = lifecycle::clients(&app, clients);
        let (raw, durable) =
            rate::take_turns(raw_table.committers(clients), lifecycles, scale.window, scale.rounds).await?;
        let label = clients_label(clients);
        print_figure(&raw_commit_rate_name(backend, clients), raw.per_second(), "commits_per_second");
        print_figure(&format!("{name}_durable_ops_{label}"), durable.per_second(), "ops_per_second");
        print_figure(&format!("{name}_durable_vs_raw_{label}"), durable.per_second() / raw.per_second(), "ratio");
        let (documents, others) = times.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).means();
        print_figure(&format!("{name}_op_latency_mean_document_{label}"), millis(documents), "ms");
        print_figure(&format!("{name}_op_latency_mean_other_{label}"), millis(others), "ms");
    }
    raw_table.remove().await?;
    drop(app);
    db.drop_database().await;
    eprintln!("store bench: {name} throughput measured in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Transition latency in a database of each size, and its growth: p50 in the larger
/// over p50 in the smaller (p99 is left out of the ratio: it is one or two slow fsyncs).
async fn transition_latency(backend: Backend, scale: &Scale) -> anyhow::Result<()> {
    let started = Instant::now();
    let name = figure_prefix(backend);
    let mut databases = Vec::new();
    for cases in scale.sizes {
        databases.push(filled(backend, cases).await?);
    }
    let apps: Vec<&App> = databases.iter().map(|(_, app)| app).collect();
    let latencies = latency::measure(&apps, scale.transitions).await?;
    for (cases, latency) in scale.sizes.into_iter().zip(&latencies) {
        let size = size_label(cases);
        print_figure(&format!("transition_latency_p50_{size}_cases_{name}"), millis(latency.p50), "ms");
        print_figure(&format!("transition_latency_p99_{size}_cases_{name}"), millis(latency.p99), "ms");
    }
    let growth = millis(latencies[1].p50) / millis(latencies[0].p50);
    print_figure(&format!("transition_latency_growth_{name}"), growth, "ratio");
    for (db, app) in databases {
        drop(app);
        db.drop_database().await;
    }
    eprintln!("store bench: {name} transition latency measured in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// A fresh database holding `cases` cases, and an app over it.
async fn filled(backend: Backend, cases: u64) -> anyhow::Result<(TestDb, App)> {
    let db = fresh_db(backend).await;
    let (app, _) = db.app().await;
    let template = fill::Template::capture(&app).await?;
    let last = fill::grow_to(app.store().connection(), &template, cases).await?;
    // A copy is a case like any other: its audit trail verifies.
    let (events, broken) = app.audit_trail(&gatehouse_engine::snapshot::Actor::system(), last).await?;
    anyhow::ensure!(events.len() == 1 && broken.is_none(), "case {last}, a copy, does not verify: {broken:?}");
    Ok((db, app))
}

/// One line for `cargo xtask bench`: whole numbers for rates, two decimals otherwise.
fn print_figure(name: &str, value: f64, unit: &str) {
    if value >= 100.0 {
        println!("{name}: {value:.0} {unit}");
    } else {
        println!("{name}: {value:.2} {unit}");
    }
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

/// The start of a figure's name: the backend's, and for PostgreSQL over its Unix socket
/// (`--transport socket`), `postgres_socket`.
fn figure_prefix(backend: Backend) -> String {
    match (backend, arg_value("--transport").as_deref()) {
        (Backend::Postgres, Some("socket")) => "postgres_socket".into(),
        _ => backend_name(backend).into(),
    }
}

/// SQLite's one-client rate is the headline figure, under the shorter name.
fn raw_commit_rate_name(backend: Backend, clients: usize) -> String {
    match (backend, clients) {
        (Backend::Sqlite, 1) => "sqlite_raw_commit_rate".into(),
        _ => format!("{}_raw_commit_rate_{}", figure_prefix(backend), clients_label(clients)),
    }
}

fn clients_label(clients: usize) -> String {
    if clients == 1 { "1_client".into() } else { format!("{clients}_clients") }
}

/// `10k`, `1m`.
fn size_label(cases: u64) -> String {
    match cases {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}m", n / 1_000_000),
        n if n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
