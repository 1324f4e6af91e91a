//! Who may read a case: the holders of the workflow's internal roles and the
//! installation's oversight roles; not a person without either, and not a provider link.

#[allow(dead_code)]
mod support;
use gatehouse_engine::access::{Oversight, may_read, may_request};
use gatehouse_engine::load;
use gatehouse_engine::snapshot::Actor;

const WORKFLOW: &str = r#"
id: demo
version: 1
title: Demo
roles:
  commissioner: { title: Lead commissioner }
  board: { title: Board }
  provider: { title: Provider, external: true, email_field: provider_email }
fields:
  provider_email: { type: email, required: true }
states:
  draft: { initial: true }
  closed: { terminal: true }
transitions:
  - { id: close, from: draft, to: closed, by: commissioner }
  - { id: drop, from: draft, to: closed }
"#;

fn reads(actor: &Actor, oversight: &Oversight) -> bool {
    let loaded = load("wf.yaml", WORKFLOW, &support::library(&[])).expect("the workflow loads");
    may_read(&loaded.definition, actor, oversight)
}

fn requests(transition: &str, actor: &Actor) -> Result<(), String> {
    let loaded = load("wf.yaml", WORKFLOW, &support::library(&[])).expect("the workflow loads");
    let def = &loaded.definition;
    may_request(def, def.transition(transition).expect("a transition of the workflow"), actor)
}

#[test]
fn a_transition_is_requested_by_its_roles_or_else_by_any_member_of_the_workflow() {
    let alice = Actor::user("alice", ["commissioner"]);
    let bob = Actor::user("bob", ["board"]);
    let auditor = Actor::user("dora", ["audit"]);
    assert_eq!(requests("close", &alice), Ok(()));
    assert_eq!(requests("close", &bob), Err("only Lead commissioner can request `close`".into()));
    // No `by:`: any internal role of the workflow, and not an outsider, even one who
    // reads every case.
    assert_eq!(requests("drop", &bob), Ok(()));
    assert_eq!(requests("drop", &auditor), Err("only members of this workflow's roles can request `drop`".into()));
    assert!(requests("drop", &Actor::link("provider")).is_err());
    assert_eq!(requests("drop", &Actor::system()), Ok(()));
}

#[test]
fn holders_of_the_workflows_internal_roles_read_its_cases() {
    let none = Oversight::default();
    assert!(reads(&Actor::user("alice", ["commissioner"]), &none));
    assert!(reads(&Actor::user("bob", ["board", "pig"]), &none));
    assert!(reads(&Actor::system(), &none));
}

#[test]
fn a_person_without_a_role_of_the_workflow_reads_nothing() {
    let none = Oversight::default();
    assert!(!reads(&Actor::user("nobody", Vec::<String>::new()), &none));
    assert!(!reads(&Actor::user("carol", ["pig"]), &none));
    // The external role is the provider's: holding its name gives a user nothing.
    assert!(!reads(&Actor::user("mallory", ["provider"]), &none));
}

#[test]
fn a_provider_link_reads_no_case_through_the_readers_rule() {
    let audit = Oversight::new(["audit"]);
    assert!(!reads(&Actor::link("provider"), &Oversight::default()));
    assert!(!reads(&Actor::link("provider"), &audit));
}

#[test]
fn the_installations_oversight_roles_read_every_case() {
    let oversight = Oversight::new(["governance", " audit ", ""]);
    assert_eq!(oversight.roles(), ["audit", "governance"]);
    assert!(reads(&Actor::user("dora", ["audit"]), &oversight));
    assert!(reads(&Actor::user("gary", ["governance"]), &oversight));
    assert!(!reads(&Actor::user("carol", ["pig"]), &oversight));
}
