//! The engine stays pure: its dependencies are an allow-list, so that nothing that does
//! I/O (a runtime, a database, a mailer, an HTTP stack) can creep in unnoticed.

const ALLOWED: &[&str] = &[
    "cel",
    "chrono",
    "chrono-tz",
    "cron",
    "hex",
    "indexmap",
    "jiff",
    "marked-yaml",
    "minijinja",
    "serde",
    "serde_yaml",
    "sha2",
    "strsim",
    "thiserror",
];

#[test]
fn engine_depends_only_on_pure_crates() {
    let manifest = include_str!("../Cargo.toml");
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .expect("engine/Cargo.toml has [dependencies]")
        .split("\n[")
        .next()
        .unwrap_or_default();
    let names: Vec<&str> = deps
        .lines()
        .filter_map(|l| l.split(['=', '.']).next())
        .map(str::trim)
        .filter(|n| !n.is_empty() && !n.starts_with('#'))
        .collect();
    assert!(!names.is_empty());
    for n in names {
        assert!(
            ALLOWED.contains(&n),
            "engine must stay free of I/O: `{n}` is not on the allow-list in engine/tests/boundaries.rs"
        );
    }
}
