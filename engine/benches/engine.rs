//! Engine micro-benchmarks: gate evaluation of a four-gate transition, and loading and
//! checking every shipped workflow. Prints `name: value unit` lines for
//! `cargo xtask bench`, after criterion's own report.

use criterion::Criterion;
use gatehouse_engine::decide::Command;
use gatehouse_engine::snapshot::{Actor, Answer, EvidenceContent, Verdict};
use gatehouse_engine::{Library, decide, gates::Evaluator, load, open};
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

const WORKFLOW: &str = r#"
id: bench
version: 1
title: Bench
roles:
  commissioner: { title: Commissioner }
  board: { title: Board }
fields:
  contract_end: { type: date, required: true }
evidence:
  eia: { title: EIA, kind: document, valid_for: P12M }
  dims: { title: Dimensions, kind: checklist, items: { a: A, b: B, c: { label: C, allow_na: true } } }
states:
  draft: { initial: true }
  done: { terminal: true }
transitions:
  - id: submit
    from: draft
    to: done
    by: commissioner
    gates:
      - evidence: eia
      - checklist: dims
      - approval: { role: board, quorum: 2, not_by: [submitter] }
      - rule: "case.fields.contract_end >= add_months(today, 6)"
        id: notice
        explain: six months' notice
"#;

fn main() {
    let def = load("bench.yaml", WORKFLOW, &Library::default()).expect("bench workflow loads").definition;
    let now = jiff::Timestamp::from_second(1_767_600_000).unwrap();
    let author = Actor::user("author", ["commissioner"]);
    let mut case = open(
        &def,
        &[("contract_end".into(), gatehouse_engine::fields::Input::Text("2027-12-31".into()))],
        &author,
        now,
    )
    .unwrap()
    .after;
    let steps = [
        (
            Command::Attach {
                evidence: "eia".into(),
                content: EvidenceContent::Document {
                    sha256: "0".repeat(64),
                    name: "eia.pdf".into(),
                    size: 1,
                    media_type: "application/pdf".into(),
                },
            },
            author.clone(),
        ),
        (
            Command::Attach {
                evidence: "dims".into(),
                content: EvidenceContent::Checklist(
                    [("a", Answer::Yes), ("b", Answer::Yes), ("c", Answer::NotApplicable)]
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), (v, None)))
                        .collect(),
                ),
            },
            author.clone(),
        ),
        (
            Command::Approve {
                role: "board".into(),
                verdict: Verdict::Approve,
                comment: None,
                meeting: None,
                conflict: None,
            },
            Actor::user("b1", ["board"]),
        ),
        (
            Command::Approve {
                role: "board".into(),
                verdict: Verdict::Approve,
                comment: None,
                meeting: None,
                conflict: None,
            },
            Actor::user("b2", ["board"]),
        ),
    ];
    for (command, actor) in steps {
        case = decide(&def, &case, &command, &actor, now).unwrap().after;
    }
    let transition = def.transition("submit").unwrap();
    assert!(Evaluator::new(&def, &case, now).transition(transition).allowed(), "every gate holds in the benchmark");

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("gate evaluation, 4 gates", |b| {
        b.iter(|| Evaluator::new(&def, black_box(&case), now).transition(transition).allowed())
    });
    let workflows = Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows");
    let (sources, library) = read_workflows(&workflows);
    c.bench_function("load and check all shipped workflows", |b| {
        b.iter(|| sources.iter().map(|(f, t)| load(f, t, &library).is_ok() as usize).sum::<usize>())
    });
    c.final_summary();

    // Figures for BENCHMARKS.md: a plain timed loop, single thread.
    let n = 1_000_000;
    let start = Instant::now();
    let mut allowed = 0usize;
    for _ in 0..n {
        allowed += Evaluator::new(&def, black_box(&case), now).transition(transition).allowed() as usize;
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(allowed, n);
    println!("gate_evaluations_4_gates: {:.0} per_second", n as f64 / secs);
    let rounds = 20;
    let start = Instant::now();
    for _ in 0..rounds {
        assert_eq!(sources.iter().map(|(f, t)| load(f, t, &library).is_ok() as usize).sum::<usize>(), sources.len());
    }
    println!("load_and_check_all_workflows: {:.2} ms", start.elapsed().as_secs_f64() * 1000.0 / rounds as f64);
    println!("shipped_workflows: {} count", sources.len());
}

fn read_workflows(dir: &Path) -> (Vec<(String, String)>, Library) {
    let (library, _) = gatehouse_adapters::workflows::read_library(dir).expect("read workflows/");
    let files = gatehouse_adapters::workflows::collect(&[dir.to_path_buf()]).expect("workflow files");
    let sources = files.iter().map(|p| (p.display().to_string(), std::fs::read_to_string(p).unwrap())).collect();
    (sources, library)
}
