//! Related cases (`children:`): a case that opens child cases of another workflow, one
//! per applicant, and a gate that waits until every child is in one of some states.

#[allow(dead_code)] // each test file uses some of the helpers
mod support;

use expect_test::expect;
use gatehouse_engine::decide::{Command, Event, Refusal, decide, open, open_child};
use gatehouse_engine::definition::Definition;
use gatehouse_engine::fields::Input;
use gatehouse_engine::gates::evaluate;
use gatehouse_engine::load;
use gatehouse_engine::snapshot::{Actor, CaseSnapshot, ChildCase, ParentCase};
use gatehouse_engine::templates::{TemplateData, TemplateSource, render};
use support::diagnostics;

const ROUND: &str = r#"
id: round
version: 1
title: Grant round
roles:
  commissioner: { title: Commissioner }
children:
  applications:
    workflow: application
    one: application
    open_in: open
    by: commissioner
    local_policy: one case per applicant
states:
  open: { initial: true }
  assessing: {}
  closed: { terminal: true }
transitions:
  - id: close_applications
    from: open
    to: assessing
    local_policy: test
  - id: close_round
    from: assessing
    to: closed
    local_policy: test
    gates:
      - id: every_application_decided
        children: applications
        in: [funded, declined]
        at_least: 2
"#;

const APPLICATION: &str = r#"
id: application
version: 1
title: Application
parent: round
roles:
  commissioner: { title: Commissioner }
fields:
  applicant: { type: text, required: true }
  applicant_email: { type: email }
states:
  received: { initial: true }
  funded: { terminal: true }
  declined: { terminal: true }
transitions:
  - { id: fund, from: received, to: funded, local_policy: test }
  - { id: decline, from: received, to: declined, local_policy: test }
"#;

fn definition(yaml: &str) -> Definition {
    load("wf.yaml", yaml, &support::library(&[])).map(|l| l.definition).expect("loads")
}

fn now() -> jiff::Timestamp {
    "2026-03-02T09:00:00Z".parse().unwrap()
}

fn commissioner() -> Actor {
    Actor::user("alice", ["commissioner"])
}

fn opened(def: &Definition) -> CaseSnapshot {
    let mut case = open(def, &[], &commissioner(), now()).unwrap().after;
    case.id = 1;
    case
}

fn applicant(name: &str) -> Vec<(String, Input)> {
    vec![("applicant".into(), Input::Text(name.into()))]
}

#[test]
fn a_child_is_opened_numbered_in_its_group_and_recorded_on_its_parent() {
    let (round, application) = (definition(ROUND), definition(APPLICATION));
    let mut parent = opened(&round);
    for n in 1..=2 {
        let child = open_child(
            &round,
            &parent,
            "applications",
            &application,
            &applicant("Forest Friends"),
            &commissioner(),
            now(),
        )
        .unwrap();
        assert_eq!(child.number, n);
        assert_eq!(
            child.parent.decision.events,
            vec![Event::ChildOpened {
                group: "applications".into(),
                number: n,
                state: child.child.after.state.clone()
            }]
        );
        assert_eq!(child.parent.after.version, parent.version + 1, "the parent's version moves: a race is a conflict");
        assert_eq!(child.child.after.state.as_str(), "received");
        parent = child.parent.after;
    }
    assert_eq!(parent.children.iter().map(|c| c.number).collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn a_child_is_refused_outside_its_states_to_others_and_with_wrong_fields() {
    let (round, application) = (definition(ROUND), definition(APPLICATION));
    let parent = opened(&round);
    let refused =
        |parent: &CaseSnapshot, group: &str, child: &Definition, fields: &[(String, Input)], actor: &Actor| {
            match open_child(&round, parent, group, child, fields, actor, now()) {
                Ok(_) => "opened".to_string(),
                Err(r) => r.to_string(),
            }
        };
    let lines = [
        refused(&parent, "aplications", &application, &applicant("A"), &commissioner()),
        refused(&parent, "applications", &application, &applicant("A"), &Actor::user("pam", ["panel"])),
        refused(&parent, "applications", &round, &[], &commissioner()),
        refused(&parent, "applications", &application, &[], &commissioner()),
    ];
    let closed = decide(
        &round,
        &parent,
        &Command::Transition { transition: "close_applications".into(), expected_version: None },
        &commissioner(),
        now(),
    )
    .unwrap()
    .after;
    let late = refused(&closed, "applications", &application, &applicant("A"), &commissioner());
    expect![[r#"
        unknown kind of child case `aplications` (did you mean `applications`?)
        not allowed: only members of Commissioner can open an application
        invalid: workflow: an application follows `application`, not `round`
        invalid: applicant: is required
        not available: An application can be opened only while the case is in `open`; it is in `assessing`
    "#]]
    .assert_eq(&format!("{}\n{late}\n", lines.join("\n")));
    assert!(matches!(
        open_child(&round, &closed, "applications", &application, &applicant("A"), &commissioner(), now()),
        Err(Refusal::NotAvailable(_))
    ));
}

#[test]
fn the_children_gate_waits_for_enough_children_each_in_its_states() {
    let round = definition(ROUND);
    let mut case = opened(&round);
    case.state = round.states.keys().find(|s| s.as_str() == "assessing").unwrap().clone();
    let child = |number: u32, state: &str| ChildCase {
        id: i64::from(number) + 10,
        group: "applications".into(),
        number,
        state: state.into(),
    };
    let mut said = Vec::new();
    for children in [
        vec![],
        vec![child(1, "funded")],
        vec![child(1, "funded"), child(2, "received")],
        vec![child(1, "funded"), child(2, "declined")],
    ] {
        case.children = children;
        let standing = evaluate(&round, &case, &commissioner(), now());
        let close = standing.iter().find(|s| s.status.transition.id.as_str() == "close_round").unwrap();
        said.push(match close.status.unmet.first() {
            Some(u) => u.message.clone(),
            None => "allowed".into(),
        });
    }
    expect![[r#"
        at least 2 applications must be opened and `funded` or `declined`; none has been opened
        at least 2 applications must be opened and `funded` or `declined`; 1 has been opened
        every application must be `funded` or `declined`: application 2 is in `received`
        allowed
    "#]]
    .assert_eq(&format!("{}\n", said.join("\n")));
}

#[test]
fn a_children_gate_must_name_a_declared_group_and_its_states() {
    let unknown = ROUND.replace("children: applications\n        in:", "children: aplications\n        in:");
    let no_states = ROUND.replace("        in: [funded, declined]\n", "");
    let stray = ROUND.replace(
        "  - id: close_applications\n    from: open\n    to: assessing\n    local_policy: test\n",
        "  - id: close_applications\n    from: open\n    to: assessing\n    local_policy: test\n    gates:\n      - { id: r, rule: 'true', explain: x, at_least: 2 }\n",
    );
    let text = [unknown, no_states, stray].iter().map(|y| diagnostics(y, &[])).collect::<String>();
    expect![[r#"
        wf.yaml:29:19: error: unknown kind of child case `aplications`
          hint: did you mean `applications`?
        wf.yaml:28:11: error: a `children` gate needs `in:`
          hint: name the child states every child must be in, like `in: [funded, declined]`
        wf.yaml:24:9: error: `in:` and `at_least:` belong to a `children` gate
    "#]]
    .assert_eq(&text);
}

#[test]
fn a_folder_check_finds_a_state_the_child_workflow_does_not_have() {
    let round = definition(&ROUND.replace("in: [funded, declined]", "in: [funded, decline]"));
    let application = definition(APPLICATION);
    let problems = load::check_children(&[&round, &application]);
    let alone = load::check_children(&[&round]);
    expect![[r#"
        error: transition `close_round`: gate `every_application_decided` names state `decline`, which `application` does not have (did you mean `declined`?)
        warning: children `applications` follow workflow `application`, which was not loaded with it, so its states are not checked
    "#]]
    .assert_eq(
        &problems
            .iter()
            .chain(&alone)
            .map(|p| format!("{}: {}\n", if p.error { "error" } else { "warning" }, p.message))
            .collect::<String>(),
    );
}

/// An application whose acknowledgement reads the round's fields, with `template` as
/// that letter's text.
fn acknowledged(template: &str, parent: &str) -> (String, gatehouse_engine::Library) {
    let mut library = support::library(&[]);
    library
        .templates
        .insert("ack".into(), TemplateSource { file: "templates/ack.txt".into(), text: template.into(), html: None });
    let yaml = APPLICATION.replace("parent: round\n", parent).replace(
        "transitions:\n",
        "roles:\n  applicant: { title: Applicant, external: true, email_field: applicant_email }\ntimers:\n  - { id: ack, in: received, after: P1D, send: { template: ack, to: applicant }, local_policy: test }\ntransitions:\n",
    );
    (
        yaml.replacen("roles:\n  commissioner: { title: Commissioner }\n", "", 1)
            .replace("roles:\n  applicant:", "roles:\n  commissioner: { title: Commissioner }\n  applicant:"),
        library,
    )
}

const ACK: &str = "Subject: Your application to {{ parent.fields.round_name }}\n\nDear {{ case.fields.applicant }},\nthe round closes on {{ parent.fields.closes_on }}. See {{ parent.url }}.\n{{ case.owner.name }}\n";

#[test]
fn a_child_letter_reads_its_parents_fields_as_they_stand() {
    let round = definition(
        &ROUND.replace("states:\n", "fields:\n  round_name: { type: text }\n  closes_on: { type: date }\nstates:\n"),
    );
    let (yaml, library) = acknowledged(ACK, "parent: round\n");
    let application = load("wf.yaml", &yaml, &library).map(|l| l.definition).expect("loads");
    assert!(load::check_children(&[&round, &application]).is_empty());

    let mut parent = opened(&round);
    parent.id = 7;
    let set = vec![("round_name".to_string(), Input::Text("Rural isolation fund".into()))];
    parent = decide(&round, &parent, &Command::SetFields(set), &commissioner(), now()).unwrap().after;
    // Opened from the round; never on its own.
    let alone = open(&application, &applicant("Forest Friends"), &commissioner(), now());
    assert!(
        matches!(&alone, Err(Refusal::Invalid(p)) if p[0].message.contains("opened from a `round` case")),
        "{alone:?}"
    );
    let opened =
        open_child(&round, &parent, "applications", &application, &applicant("Forest Friends"), &commissioner(), now());
    let mut child = opened.unwrap().child.after;
    child.parent = Some(ParentCase::of(&round, &parent));
    let ack = application.letters.values().next().unwrap();
    // A field the round has not set yet reads as empty, not as a failure to send.
    let letter = render(ack, &TemplateData::for_case(&application, Some(&child), "https://gh.example")).unwrap();
    assert_eq!(letter.subject, "Your application to Rural isolation fund");
    assert!(letter.text.contains("the round closes on . See https://gh.example/cases/7."), "{}", letter.text);

    // Read again once the round has its date: the letter says it in words.
    let set = vec![("closes_on".to_string(), Input::Text("2026-06-30".into()))];
    parent = decide(&round, &parent, &Command::SetFields(set), &commissioner(), now()).unwrap().after;
    child.parent = Some(ParentCase::of(&round, &parent));
    let letter = render(ack, &TemplateData::for_case(&application, Some(&child), "")).unwrap();
    assert!(letter.text.contains("the round closes on 30 June 2026."), "{}", letter.text);
}

#[test]
fn what_a_child_reads_of_its_parent_is_checked() {
    let round = definition(
        &ROUND.replace("states:\n", "fields:\n  round_name: { type: text }\n  closes_on: { type: date }\nstates:\n"),
    );
    // Only a workflow whose cases have a parent may read one.
    let (orphan, library) = acknowledged(ACK, "");
    let text = match load("wf.yaml", &orphan, &library) {
        Ok(_) => panic!("a letter reading a parent loads without `parent:`"),
        Err(d) => d.iter().map(|d| d.message.clone()).collect::<Vec<_>>().join("\n"),
    };
    assert!(
        text.contains("`parent.fields.round_name` reads a parent case, but this workflow's cases have none"),
        "{text}"
    );

    // A field the parent does not have, a parent that opens no such children, and a
    // child group whose workflow does not name its parent back.
    let (yaml, library) = acknowledged(&ACK.replace("closes_on", "close_on"), "parent: round\n");
    let application = load("wf.yaml", &yaml, &library).map(|l| l.definition).expect("loads");
    let stranger = definition(&ROUND.replace("workflow: application", "workflow: other"));
    let no_parent = definition(&APPLICATION.replace("parent: round\n", ""));
    let problems = [
        load::check_children(&[&round, &application]),
        load::check_children(&[&stranger, &application]),
        load::check_children(&[&round, &no_parent]),
        load::check_children(&[&application]),
    ]
    .concat();
    expect![[r#"
        error: template `ack` reads `parent.fields.close_on`, which `round` does not have (did you mean `closes_on`?)
        warning: children `applications` follow workflow `other`, which was not loaded with it, so its states are not checked
        error: `parent: round`, but `round` opens no children of this workflow: add a `children:` group with `workflow: application` to it
        error: children `applications` follow workflow `application`, which must say whose children its cases are: add `parent: round` to it
        warning: its cases are children of `round` cases (`parent:`), which was not loaded with it, so what its letters read of them is not checked
    "#]]
    .assert_eq(
        &problems.iter().map(|p| format!("{}: {}\n", if p.error { "error" } else { "warning" }, p.message)).collect::<String>(),
    );
}
