//! The `gatehouse` binary as a workflow author uses it: real binary, real files, a fresh
//! directory per test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn gatehouse(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .current_dir(dir)
        .env_remove("GATEHOUSE_WORKFLOWS")
        .output()
        .expect("run gatehouse")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh copy of the shipped workflows folder.
fn shipped() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("workflows");
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows"), &dst);
    (tmp, dst)
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let target = dst.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

fn workflow_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_workflow_validates() {
    let (tmp, dir) = shipped();
    let out = gatehouse(tmp.path(), &["validate", "workflows"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let files = workflow_files(&dir);
    assert!(files.len() >= 5, "expected the five shipped workflows, found {files:?}");
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(text.lines().any(|l| l.starts_with("ok: ") && l.contains(&name)), "no ok line for {name} in:\n{text}");
    }
    assert!(!text.contains("error:"), "{text}");
}

#[test]
fn every_shipped_scenario_passes_and_covers_every_gate_and_timer() {
    let (tmp, _) = shipped();
    let out = gatehouse(tmp.path(), &["test", "workflows"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let last = text.lines().last().unwrap_or_default();
    assert!(last.ends_with(" passed, 0 failed"), "{text}");
    let passed: u32 = last.split_whitespace().next().unwrap().parse().unwrap();
    assert!(passed >= 10, "{text}");
    assert!(!text.contains("note:"), "a gate or timer is not covered by any scenario:\n{text}");
}

#[test]
fn a_misspelt_state_is_reported_where_it_is_with_a_suggestion() {
    let (tmp, dir) = shipped();
    let file = dir.join("lcc-decommissioning.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    // The first `to:` of a transition names a state; misspell it.
    let (line_no, line) =
        text.lines().enumerate().find(|(_, l)| l.trim_start().starts_with("to: ")).expect("a transition with `to:`");
    let state = line.trim_start().trim_start_matches("to: ").trim().to_string();
    let broken = text.replacen(line, &line.replace(&state, &format!("{state}x")), 1);
    std::fs::write(&file, broken).unwrap();
    let col = line.find("to: ").unwrap() + 5;

    let out = gatehouse(tmp.path(), &["validate", "workflows"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let expected = format!("workflows/lcc-decommissioning.yaml:{}:{col}: error: unknown state `{state}x`", line_no + 1);
    assert!(text.contains(&expected), "expected `{expected}` in:\n{text}");
    assert!(text.contains(&format!("hint: did you mean `{state}`?")), "{text}");
    assert!(text.contains("1 error(s) in 1 file(s)"), "{text}");
}

#[test]
fn a_failing_scenario_fails_the_run_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("wf.yaml"),
        "id: wf\nversion: 1\ntitle: W\nroles: { c: { title: C } }\nstates: { a: { initial: true }, b: { terminal: true } }\n\
         transitions: [ { id: go, from: a, to: b, by: c } ]\n\
         tests:\n  - name: stays put\n    steps:\n      - create: {}\n      - expect_state: b\n",
    )
    .unwrap();
    let out = gatehouse(tmp.path(), &["test", "wf.yaml"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL wf: stays put\n  wf.yaml:11: expected the case in `b`, but it is in `a`"), "{text}");
    assert!(text.ends_with("0 passed, 1 failed\n"), "{text}");
}

#[test]
fn graph_and_explain_render_a_shipped_workflow() {
    let (tmp, _) = shipped();
    let out = gatehouse(tmp.path(), &["graph", "workflows/lcc-decommissioning.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("stateDiagram-v2"), "{}", stdout(&out));
    let out = gatehouse(tmp.path(), &["graph", "workflows/lcc-decommissioning.yaml", "--format", "dot"]);
    assert!(stdout(&out).starts_with("digraph"), "{}", stdout(&out));
    let out = gatehouse(tmp.path(), &["graph", "workflows/lcc-decommissioning.yaml", "--format", "svg"]);
    assert_eq!(out.status.code(), Some(0));
    let svg = stdout(&out);
    assert!(
        svg.starts_with("<svg ") && svg.contains("Awaiting Executive") && svg.trim_end().ends_with("</svg>"),
        "{svg}"
    );
    let out = gatehouse(tmp.path(), &["explain", "workflows/lcc-decommissioning.yaml", "--format", "html"]);
    assert_eq!(out.status.code(), Some(0));
    let html = stdout(&out);
    assert!(html.to_lowercase().starts_with("<!doctype html>"), "{html}");
    assert!(html.contains("leeds-commissioning-code-of-practice-2018.txt"), "citations belong in the policy document");
}

/// `gatehouse diff`: a governance group that keeps its workflows in git sees what a
/// change does to the rules before publishing it, an earlier version taken out of git
/// into another folder included.
#[test]
fn diff_says_what_a_change_does_to_the_rules() {
    let (tmp, dir) = shipped();
    let file = dir.join("gloucestershire-compact.yaml");
    let old = tmp.path().join("old.yaml");
    std::fs::copy(&file, &old).unwrap();
    let source = std::fs::read_to_string(&file).unwrap();
    let changed = source.replacen("version: 6", "version: 7", 1).replacen(
        "  notice_months:\n    value: 3",
        "  notice_months:\n    value: 4",
        1,
    );
    assert_ne!(changed, source, "the test changes the notice");
    std::fs::write(&file, changed).unwrap();
    let out = gatehouse(tmp.path(), &["diff", "old.yaml", "workflows/gloucestershire-compact.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(stdout(&out), "gloucestershire-compact version 6 → 7: 1 change\n- param `notice_months` 3 → 4\n");
    // Two different workflows are not two versions of one.
    let out = gatehouse(
        tmp.path(),
        &["diff", "workflows/lcc-decommissioning.yaml", "workflows/gloucestershire-compact.yaml"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("compare two versions of one workflow"), "{}", stdout(&out));
}

#[test]
fn a_path_that_does_not_exist_is_wrong_input() {
    let tmp = tempfile::tempdir().unwrap();
    let out = gatehouse(tmp.path(), &["validate", "nowhere.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "error: nowhere.yaml: no such file or directory\n");
}

/// A workflow with an approval gate (quorum 2, not by the submitter) behind an evidence
/// gate, and a scenario that only walks the happy path: `--mutants` reports, at its
/// line and column, every weakening the scenario would not notice; a scenario that
/// shows each gate blocking kills those mutants.
#[test]
fn mutants_show_the_rules_no_scenario_pins() {
    let workflow = |steps: &str| {
        format!(
            "id: wf\nversion: 1\ntitle: W\n\
             roles: {{ c: {{ title: C }}, b: {{ title: Board }} }}\n\
             evidence: {{ eia: {{ title: EIA, kind: document }} }}\n\
             states: {{ draft: {{ initial: true }}, decision: {{}}, done: {{ terminal: true }} }}\n\
             transitions:\n\
             \x20 - {{ id: submit, from: draft, to: decision, by: c, gates: [ {{ evidence: eia }} ] }}\n\
             \x20 - id: decide\n    from: decision\n    to: done\n    gates:\n\
             \x20     - approval: {{ role: b, quorum: 2, not_by: [submitter] }}\n\
             tests:\n  - name: walk\n    users: {{ sub: [c, b], x: [b], y: [b] }}\n    steps:\n{steps}"
        )
    };
    let happy = "      - create: {}\n      - attach: eia\n      - transition: { transition: submit, as: sub }\n\
                 \x20     - approve: { role: b, as: x }\n      - approve: { role: b, as: y }\n\
                 \x20     - transition: decide\n      - expect_state: done\n";
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("wf.yaml"), workflow(happy)).unwrap();
    let out = gatehouse(tmp.path(), &["test", "--mutants", "wf.yaml"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "survivors fail the run: {text}");
    for survivor in [
        "wf.yaml:8:62: mutant survived: gate `eia` of `submit` removed",
        "wf.yaml:10:11: mutant survived: `decide` also allowed from `draft`",
        "wf.yaml:13:38: mutant survived: quorum of `b` in `decide` 2 → 1",
        "wf.yaml:13:49: mutant survived: `not_by` of `b` in `decide` dropped",
    ] {
        assert!(text.contains(survivor), "missing `{survivor}` in:\n{text}");
    }
    assert!(text.ends_with(" survived\n"), "{text}");

    let thorough = "      - create: {}\n      - expect_blocked: { transition: submit, missing: [eia] }\n\
                    \x20     - expect_refused: decide\n      - attach: eia\n\
                    \x20     - transition: { transition: submit, as: sub }\n\
                    \x20     - approve: { role: b, as: sub, refused: true }\n      - approve: { role: b, as: x }\n\
                    \x20     - expect_blocked: { transition: decide, missing: [b] }\n\
                    \x20     - approve: { role: b, as: y }\n      - transition: decide\n      - expect_state: done\n";
    std::fs::write(tmp.path().join("wf.yaml"), workflow(thorough)).unwrap();
    let out = gatehouse(tmp.path(), &["test", "--mutants", "wf.yaml"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("survived:"), "{text}");
    assert!(text.ends_with(" killed, 0 survived\n"), "{text}");
}
