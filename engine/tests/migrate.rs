//! Moving an open case to another version of its workflow: where it lands, what it
//! would meet there, what is refused, and its timers armed again from the new version.

#[allow(dead_code)] // each test file uses some of the helpers
mod support;

use gatehouse_engine::decide::{Command, Event, Refusal, decide, open};
use gatehouse_engine::definition::Definition;
use gatehouse_engine::fields::Input;
use gatehouse_engine::load;
use gatehouse_engine::migrate::migrate;
use gatehouse_engine::snapshot::{Actor, CaseSnapshot};
use std::collections::BTreeMap;

const V1: &str = r#"
id: change
version: 1
title: Service change
roles:
  commissioner: { title: Commissioner }
  pig: { title: PIG }
fields:
  service: { type: text, required: true }
evidence:
  eia: { title: EIA, kind: document }
states:
  draft: { initial: true }
  referred: {}
  review: {}
  decided: { terminal: true }
transitions:
  - { id: refer, from: draft, to: referred, by: commissioner, local_policy: test }
  - { id: submit, from: [draft, referred], to: review, by: commissioner, local_policy: test }
  - id: decide
    from: review
    to: decided
    by: commissioner
    local_policy: test
    gates:
      - approval: { role: pig }
        local_policy: test
timers:
  - { id: nudge, in: review, after: P10D, local_policy: test, send: { to: pig, template: nudge } }
"#;

fn v2(yaml: &str) -> String {
    yaml.replace("version: 1", "version: 2")
}

fn def(yaml: &str) -> Definition {
    match load("wf.yaml", yaml, &support::library(&["nudge"])) {
        Ok(l) => l.definition,
        Err(d) => panic!("{d:#?}"),
    }
}

fn t0() -> jiff::Timestamp {
    "2026-03-02T09:00:00Z".parse().unwrap()
}

fn days(n: i64) -> jiff::Timestamp {
    t0().checked_add(jiff::SignedDuration::from_hours(24 * n)).unwrap()
}

fn alice() -> Actor {
    Actor::user("alice", ["commissioner"])
}

fn governance() -> Actor {
    Actor::user("gov", ["commissioner"])
}

fn step(def: &Definition, case: CaseSnapshot, command: Command, actor: &Actor, at: jiff::Timestamp) -> CaseSnapshot {
    match decide(def, &case, &command, actor, at) {
        Ok(d) => d.after,
        Err(e) => panic!("{e:?}"),
    }
}

/// A case of `def` in review since day 0, approved by a PIG member.
fn in_review(def: &Definition) -> CaseSnapshot {
    let mut case = open(def, &[("service".into(), Input::Text("Day centre".into()))], &alice(), t0()).unwrap().after;
    case.id = 7;
    let submit = Command::Transition { transition: "submit".into(), expected_version: None };
    let case = step(def, case, submit, &alice(), t0());
    let approve = Command::Approve {
        role: "pig".into(),
        verdict: gatehouse_engine::snapshot::Verdict::Approve,
        comment: None,
        meeting: None,
        conflict: None,
    };
    step(def, case, approve, &Actor::user("pam", ["pig"]), t0())
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn a_case_moves_into_the_same_state_keeping_what_still_counts() {
    let (old, new) = (def(V1), def(&v2(&V1.replace(
        "      - approval: { role: pig }\n        local_policy: test\n",
        "      - approval: { role: pig }\n        local_policy: test\n      - { id: eia_held, evidence: eia, local_policy: test }\n",
    ))));
    let case = in_review(&old);
    let moved = migrate(&old, &new, &case, &BTreeMap::new(), &governance(), days(3)).unwrap();
    let after = &moved.decided.after;
    assert_eq!(after.state.as_str(), "review");
    assert_eq!(after.visit, case.visit, "same state, same visit: the PIG approval still counts");
    assert!(matches!(&moved.decided.decision.events[..], [Event::Migrated { from_version: 1, to_version: 2, .. }]));
    assert_eq!(moved.impact, ["next step `decide` would wait for `eia_held`"]);
    // The unchanged reminder keeps its due time.
    assert_eq!(moved.decided.decision.arm.len(), 1);
    assert_eq!(moved.decided.decision.arm[0].due_at, days(10));
}

#[test]
fn a_removed_state_must_be_mapped_and_the_move_starts_a_new_visit() {
    let (old, new) = (
        def(V1),
        def(&v2(&V1
            .replace("  referred: {}\n", "")
            .replace("  - { id: refer, from: draft, to: referred, by: commissioner, local_policy: test }\n", "")
            .replace("from: [draft, referred]", "from: draft"))),
    );
    let mut case = open(&old, &[("service".into(), Input::Text("Day centre".into()))], &alice(), t0()).unwrap().after;
    case.id = 9;
    let case =
        step(&old, case, Command::Transition { transition: "refer".into(), expected_version: None }, &alice(), t0());
    let refused = migrate(&old, &new, &case, &BTreeMap::new(), &governance(), days(1));
    match refused {
        Err(Refusal::Invalid(p)) => assert_eq!(
            p[0].message,
            "case 9 is in `referred`, which version 2 does not have: map it to one of its states (`--map referred=<state>`)"
        ),
        other => panic!("{other:?}"),
    }
    let moved = migrate(&old, &new, &case, &map(&[("referred", "draft")]), &governance(), days(1)).unwrap();
    assert_eq!(moved.decided.after.state.as_str(), "draft");
    assert_eq!(moved.decided.after.visit, case.visit + 1);
    assert_eq!(moved.impact[0], "moves from `referred` to `draft`");
}

#[test]
fn approvals_for_a_state_left_by_mapping_no_longer_count() {
    let new = def(&v2(V1));
    let old = def(V1);
    let case = in_review(&old);
    let moved = migrate(&old, &new, &case, &map(&[("review", "referred")]), &governance(), days(2)).unwrap();
    assert!(moved.impact.contains(&"1 approval by `pig` would no longer count".to_string()), "{:?}", moved.impact);
    assert!(moved.impact.contains(&"timer `nudge` stops".to_string()), "{:?}", moved.impact);
}

#[test]
fn timers_are_armed_again_from_when_the_case_entered_its_state() {
    let (old, new) = (def(V1), def(&v2(&V1.replace("after: P10D", "after: P5D"))));
    let case = in_review(&old);
    // Day 3: the new reminder falls on day 5, counted from entry on day 0.
    let moved = migrate(&old, &new, &case, &BTreeMap::new(), &governance(), days(3)).unwrap();
    assert_eq!(moved.decided.decision.arm[0].due_at, days(5));
    // Day 8: it was due already, so it is due now; the move itself sends nothing.
    let late = migrate(&old, &new, &case, &BTreeMap::new(), &governance(), days(8)).unwrap();
    assert_eq!(late.decided.decision.arm[0].due_at, days(8));
    assert!(late.decided.decision.messages.is_empty());
}

#[test]
fn nothing_a_case_holds_is_dropped() {
    let old = def(V1);
    let new = def(&v2(&V1.replace("  eia: { title: EIA, kind: document }\n", "").replace("evidence:\n", "")));
    let case = in_review(&old);
    // Without the EIA held the case moves; holding it, it cannot.
    assert!(migrate(&old, &new, &case, &BTreeMap::new(), &governance(), days(1)).is_ok());
    let attach = Command::Attach {
        evidence: "eia".into(),
        content: gatehouse_engine::snapshot::EvidenceContent::Document {
            sha256: "ab".repeat(32),
            name: "eia.pdf".into(),
            size: 3,
            media_type: "application/pdf".into(),
        },
    };
    let holding = step(&old, case, attach, &alice(), days(1));
    match migrate(&old, &new, &holding, &BTreeMap::new(), &governance(), days(2)) {
        Err(Refusal::Invalid(p)) => {
            assert!(p[0].message.contains("holds evidence `eia`, which version 2 does not declare"), "{p:?}")
        }
        other => panic!("{other:?}"),
    }
}
