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
    // Graph layout and SVG text; no dependencies of its own (its `log` is optional, off).
    "layout-rs",
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

/// The engine's modules form no cycle: each names (`crate::<module>`) only modules that
/// do not name it back, directly or through others, so that each can be read knowing
/// only those below it. Submodules count as their parent; tests are left out.
#[test]
fn engine_modules_import_no_cycle() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = Default::default();
    let mut files = vec![src.clone()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = path.strip_prefix(&src).unwrap();
        let module = relative.iter().next().unwrap().to_string_lossy().trim_end_matches(".rs").to_string();
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let uses = graph.entry(module.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                uses.insert(name);
            }
        }
    }
    assert!(graph.len() > 10, "found the engine's modules: {graph:?}");
    // Depth-first search; a module met again while still on the path closes a cycle.
    fn visit(
        m: &str,
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut cycle = path[i..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if !done.insert(m.to_string()) {
            return None;
        }
        path.push(m.to_string());
        for next in graph.get(m).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = std::collections::BTreeSet::new();
    for m in graph.keys() {
        if let Some(cycle) = visit(m, &graph, &mut Vec::new(), &mut done) {
            panic!("the engine's modules import in a cycle: {}", cycle.join(" → "));
        }
    }
}
