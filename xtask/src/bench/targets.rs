//! The targets the issues set for the figures of the bench targets, each judged met or
//! missed against what this run measured, for the notes in BENCHMARKS.md.

use super::Figure;
use super::report::verdict;

/// At least or at most.
enum Bound {
    AtLeast(f64),
    AtMost(f64),
}

/// (figure name, bound, what the target is, where it was set)
const TARGETS: &[(&str, Bound, &str)] = &[
    ("gate_evaluations_4_gates", Bound::AtLeast(1_000_000.0), "≥ 1,000,000 gate evaluations per second (engine issue)"),
    ("load_and_check_all_workflows", Bound::AtMost(20.0), "load + check of all workflows ≤ 20 ms (engine issue)"),
    (
        "sqlite_durable_vs_raw_1_client",
        Bound::AtLeast(0.7),
        "SQLite durable operations ≥ 70% of the raw commit rate, 1 client (store issue)",
    ),
    (
        "sqlite_durable_vs_raw_8_clients",
        Bound::AtLeast(0.7),
        "SQLite durable operations ≥ 70% of the raw commit rate, 8 clients (store issue)",
    ),
    (
        "postgres_durable_ops_8_clients",
        Bound::AtLeast(2000.0),
        "PostgreSQL ≥ 2,000 durable operations per second with 8 clients, over TCP (store issue)",
    ),
    (
        "postgres_socket_durable_ops_8_clients",
        Bound::AtLeast(2000.0),
        "PostgreSQL ≥ 2,000 durable operations per second with 8 clients, over the Unix socket (scale issue)",
    ),
    (
        "transition_latency_growth_sqlite",
        Bound::AtMost(1.5),
        "transition latency grows ≤ 1.5x with the cases stored, SQLite (store issue)",
    ),
    (
        "transition_latency_growth_postgres",
        Bound::AtMost(1.5),
        "transition latency grows ≤ 1.5x with the cases stored, PostgreSQL (store issue)",
    ),
];

/// A Markdown list: each target whose figure this run measured, with the figure and
/// whether the target is met.
pub fn judge(figures: &[Figure]) -> String {
    let mut lines = Vec::new();
    for (name, bound, what) in TARGETS {
        let Some(figure) = figures.iter().find(|f| f.name == *name) else { continue };
        let Ok(value) = figure.value.replace(',', "").parse::<f64>() else { continue };
        let met = match bound {
            Bound::AtLeast(target) => value >= *target,
            Bound::AtMost(target) => value <= *target,
        };
        lines.push(format!("- {what}: **{}** ({name} = {} {}).", verdict(met), figure.value, figure.unit));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(name: &str, value: &str, unit: &str) -> Figure {
        Figure { name: name.into(), value: value.into(), unit: unit.into() }
    }

    #[test]
    fn each_measured_target_is_judged_and_the_rest_left_out() {
        let text = judge(&[
            figure("postgres_durable_ops_8_clients", "545", "ops_per_second"),
            figure("transition_latency_growth_sqlite", "1.01", "ratio"),
            figure("something_else", "3", "x"),
        ]);
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("2,000 durable operations per second with 8 clients, over TCP (store issue): **missed** (postgres_durable_ops_8_clients = 545"));
        assert!(text.contains("SQLite (store issue): **met**"));
    }
}
