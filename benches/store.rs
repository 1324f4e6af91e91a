//! Store benchmarks, each on a fresh SQLite file and a fresh PostgreSQL database:
//!
//! - the raw commit rate: single-row inserts, one per transaction, through sea-orm with
//!   the store's own connection settings. Nothing durable can be faster.
//! - durable operations per second: app service calls (each loads, decides and applies
//!   in one transaction) over the Leeds decommissioning lifecycle, with 1 and 8 clients,
//!   and their share of the raw commit rate.
//! - transition latency (p50, p99) with 10 thousand cases stored and with 1 million
//!   (100 thousand with `--quick`), and how much it grows between the two.
//!
//! Prints one `name: value unit` line per figure, which `cargo xtask bench` collects into
//! BENCHMARKS.md. PostgreSQL is the server `GATEHOUSE_TEST_DATABASE_URL` names (`cargo
//! xtask bench` sets it), else the one on 127.0.0.1:5432.
//!
//! Run with `cargo bench --bench store [-- --quick]`.

#[path = "store/commits.rs"]
mod commits;
#[path = "store/fill.rs"]
mod fill;
#[path = "store/latency.rs"]
mod latency;
#[path = "store/lifecycle.rs"]
mod lifecycle;
#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;
use support::{Backend, fresh_db};

/// How much to do: the full run, or a short one with `--quick` (well under a minute).
struct Scale {
    /// Commits per raw commit rate measurement.
    commits: usize,
    /// How long each durable-operations measurement runs.
    window: Duration,
    /// Cases stored for the first latency measurement, then for the second.
    sizes: [u64; 2],
    /// Transitions timed per latency measurement.
    transitions: usize,
}

impl Scale {
    fn from_args() -> Scale {
        if std::env::args().any(|a| a == "--quick") {
            Scale { commits: 500, window: Duration::from_secs(2), sizes: [10_000, 100_000], transitions: 100 }
        } else {
            Scale { commits: 3_000, window: Duration::from_secs(10), sizes: [10_000, 1_000_000], transitions: 300 }
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let scale = Scale::from_args();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        throughput(backend, &scale).await?;
    }
    for backend in [Backend::Sqlite, Backend::Postgres] {
        transition_latency(backend, &scale).await?;
    }
    Ok(())
}

/// Raw commit rates, then durable operations per second on one database and one app,
/// with 1 and then 8 clients.
async fn throughput(backend: Backend, scale: &Scale) -> anyhow::Result<()> {
    let name = backend_name(backend);
    let raw_1 = commits::rate(backend, 1, scale.commits).await?;
    let raw_8 = match backend {
        // SQLite has one writer at a time: more clients only queue for it, so the
        // one-client rate is the ceiling for both.
        Backend::Sqlite => {
            print_figure(&format!("{name}_raw_commit_rate"), raw_1, "commits_per_second");
            raw_1
        }
        Backend::Postgres => {
            let raw_8 = commits::rate(backend, 8, scale.commits).await?;
            print_figure(&format!("{name}_raw_commit_rate_1_client"), raw_1, "commits_per_second");
            print_figure(&format!("{name}_raw_commit_rate_8_clients"), raw_8, "commits_per_second");
            raw_8
        }
    };
    let db = fresh_db(backend).await;
    let (app, _) = db.app().await;
    let app = Arc::new(app);
    for (clients, raw) in [(1, raw_1), (8, raw_8)] {
        let ops = lifecycle::ops_per_second(&app, clients, scale.window).await?;
        let label = clients_label(clients);
        print_figure(&format!("{name}_durable_ops_{label}"), ops, "ops_per_second");
        print_figure(&format!("{name}_durable_vs_raw_{label}"), ops / raw, "ratio");
    }
    drop(app);
    db.drop_database().await;
    Ok(())
}

/// Transition latency at the two sizes, and its growth (p50 at the larger size over p50
/// at the smaller one; p99 is left out of the ratio, being one or two slow fsyncs).
async fn transition_latency(backend: Backend, scale: &Scale) -> anyhow::Result<()> {
    let name = backend_name(backend);
    let db = fresh_db(backend).await;
    let (app, _) = db.app().await;
    let template = fill::Template::capture(&app).await?;
    let mut p50s = Vec::new();
    for cases in scale.sizes {
        fill::grow_to(app.store().connection(), &template, cases).await?;
        let latency = latency::measure(&app, scale.transitions).await?;
        let size = size_label(cases);
        print_figure(&format!("transition_latency_p50_{size}_cases_{name}"), millis(latency.p50), "ms");
        print_figure(&format!("transition_latency_p99_{size}_cases_{name}"), millis(latency.p99), "ms");
        p50s.push(latency.p50);
    }
    print_figure(&format!("transition_latency_growth_{name}"), millis(p50s[1]) / millis(p50s[0]), "ratio");
    drop(app);
    db.drop_database().await;
    Ok(())
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
