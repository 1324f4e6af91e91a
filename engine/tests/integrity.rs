//! Locked fields, amendments and approvals bound to what they approved, written as a
//! workflow with scenarios; and the load errors of a wrong `amend:` or `covers:`.

#[allow(dead_code)] // each test file uses some of the helpers
mod support;
use expect_test::expect;
use support::{diagnostics, run};

const WORKFLOW: &str = r#"
id: demo
version: 1
title: Demo
roles:
  commissioner: { title: Lead commissioner }
  board: { title: Board }
  director: { title: Director }
  provider: { title: Provider, external: true, email_field: provider_email }
fields:
  provider_email: { type: email, required: true }
  value: { type: money, required: true }
  note: { type: text }
  contract_end:
    type: date
    required: true
    amend: { by: director, back_to: decision, local_policy: a director corrects the date }
evidence:
  eia: { title: Equality impact assessment, kind: document }
  briefing: { title: Briefing, kind: document }
states:
  draft: { initial: true }
  decision: {}
  notice: {}
  closed: { terminal: true }
amend: { by: director, local_policy: a director corrects the case }
transitions:
  - { id: submit, from: draft, to: decision, when: "case.fields.value > 1000.0" }
  - id: decide
    from: decision
    to: notice
    gates:
      - evidence: eia
      - approval: { role: board }
      - rule: "case.fields.contract_end >= add_months(today, 6)"
        id: six_months
        explain: six months' notice
  - { id: close, from: notice, to: closed, gates: [ { rule: "today >= case.fields.contract_end", id: ended, explain: ended } ] }
  - { id: reopen, from: decision, to: draft }
"#;

#[test]
fn locked_fields_change_only_by_amendment_and_approvals_follow_what_they_saw() {
    let yaml = format!(
        "{WORKFLOW}{}",
        r#"
tests:
  - name: a field a taken transition relied on is locked until the case goes back
    users: { dan: [director], cat: [commissioner] }
    steps:
      - create: { fields: { provider_email: p@example.org, value: 5000, contract_end: 2027-12-31 } }
      - set: { value: 6000 }
      - transition: submit
      - expect_refused: { set: { value: 500 }, saying: "Value is locked: `submit` relied on it" }
      - set: { note: not relied on by anything }
      - expect_refused: { amend: { fields: { value: 7000 }, reason: typo, as: cat }, saying: only Director may amend Value }
      - expect_refused: { amend: { fields: { value: 7000 }, as: dan }, saying: "reason: is required" }
      - amend: { fields: { value: 7000 }, reason: typo in the value, as: dan }
      - expect_state: decision
      # would not have been submitted: the workflow says nowhere to send it, so refused
      - expect_refused: { amend: { fields: { value: 500 }, reason: revised, as: dan }, saying: "`submit` applies only when" }
      - transition: reopen
      - set: { value: 500 }
      - expect_refused: submit
  - name: an amendment that breaks a passed rule sends the case back, and timers follow
    start: 2026-01-05
    users: { dan: [director] }
    steps:
      - create: { fields: { provider_email: p@example.org, value: 5000, contract_end: 2026-12-31 } }
      - transition: submit
      - attach: eia
      - approve: { role: board }
      - transition: decide
      - expect_state: notice
      - expect_refused: { set: { contract_end: 2026-01-05 } }
      - expect_blocked: { transition: close, missing: [ended] }
      - amend: { fields: { contract_end: 2027-01-31 }, reason: variation signed, as: dan }
      - expect_state: notice
      - amend: { fields: { contract_end: 2026-03-31 }, reason: lease ends early, as: dan }
      - expect_state: decision
      - expect_blocked: { transition: decide, missing: [board, six_months] }
  - name: an approval stops counting when what it approved is replaced, and counts again when restored
    users: { bo: [board], bea: [board] }
    steps:
      - create: { fields: { provider_email: p@example.org, value: 5000, contract_end: 2027-12-31 } }
      - transition: submit
      - attach: eia
      - approve: { role: board, as: bo }
      - expect_allowed: decide
      - attach: briefing
      - expect_allowed: decide
      - attach: eia
      - expect_blocked: { transition: decide, missing: [board] }
      - expect_sent: { template: approval-stale, to: board, count: 1 }
      - approve: { role: board, as: bo }
      - expect_allowed: decide
      # not there when it was approved, so not part of what was approved
      - set: { note: a note }
      - expect_allowed: decide
      - approve: { role: board, as: bo }
      - set: { note: another note }
      - expect_blocked: { transition: decide, missing: [board] }
      - set: { note: a note }
      - expect_allowed: decide
      - reject: { role: board, as: bea }
      - expect_blocked: { transition: decide, missing: [board] }
      - set: { note: changed after the rejection }
      - expect_blocked: { transition: decide, missing: [board] }
      - approve: { role: board, as: bo }
      - expect_allowed: decide
"#
    );
    expect![[r#"
        PASS a field a taken transition relied on is locked until the case goes back
        PASS an amendment that breaks a passed rule sends the case back, and timers follow
        PASS an approval stops counting when what it approved is replaced, and counts again when restored
    "#]]
    .assert_eq(&run(&yaml, &[]));
}

#[test]
fn a_wrong_amend_or_covers_is_refused_at_load_with_its_position() {
    let yaml = WORKFLOW
        .replace(
            "amend: { by: director, local_policy: a director corrects the case }",
            "amend: { by: [directr, provider] }",
        )
        .replace("back_to: decision,", "back_to: closed,")
        .replace("- approval: { role: board }", "- approval: { role: board, covers: [eia, vaule] }");
    expect![[r#"
        wf.yaml:17:37: error: `closed` is a terminal state: a case sent back must be able to go on
          hint: name the state where the decision is taken again
        wf.yaml:26:15: error: unknown role `directr`
          hint: did you mean `director`?
        wf.yaml:26:24: error: external role `provider` cannot amend a case
          hint: name the internal role that may correct a locked field, like `by: [director]`
        wf.yaml:34:48: error: `vaule` is neither a field nor evidence of this workflow
          hint: did you mean `value`?
        wf.yaml:6:3: warning: role `commissioner` is not used by any transition, gate, timer or evidence
          hint: remove it, or give it something to do
        wf.yaml:26:1: warning: `amend` cites no source
          hint: add `source:` with the paragraph that allows the correction, or `local_policy:` with why it is our own choice
        wf.yaml:28:5: warning: transition `submit` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:29:7: warning: transition `decide` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:38:5: warning: transition `close` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:39:5: warning: transition `reopen` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
    "#]].assert_eq(&diagnostics(&yaml, &[]));
}

#[test]
fn a_letter_must_state_what_the_workflow_says_it_must() {
    let yaml = format!(
        "{WORKFLOW}{}",
        r#"
timers:
  - id: notice_letter
    on_enter: notice
    local_policy: the notice
    send: { to: provider, template: notice, must_state: [contract_end] }
tests:
  - name: the notice goes out
    steps:
      - create: { fields: { provider_email: p@example.org, value: 5000, contract_end: 2027-12-31 } }
      - transition: submit
      - attach: eia
      - approve: { role: board }
      - transition: decide
      - expect_sent: { template: notice, to: provider, count: 1 }
"#
    );
    let with = |body: &str| {
        let mut library = support::library(&[]);
        library.templates.insert(
            "notice".into(),
            gatehouse_engine::templates::TemplateSource {
                file: "templates/notice.txt".into(),
                text: format!("Subject: Notice\n\n{body}\n"),
                html: None,
            },
        );
        library
    };
    let outcome = |library: &gatehouse_engine::Library| match gatehouse_engine::load("wf.yaml", &yaml, library) {
        Ok(l) => {
            let warnings: Vec<String> =
                l.warnings.iter().map(|w| w.to_string()).filter(|w| w.contains("notice")).collect();
            let runs: Vec<String> = gatehouse_engine::scenario::run_all(&l.definition, &l.scenarios)
                .into_iter()
                .map(|o| o.failure.map_or("PASS".to_string(), |(_, m)| format!("FAIL: {m}")))
                .collect();
            format!("{}\n{}\n", warnings.join("\n"), runs.join("\n"))
        }
        Err(d) => format!("{d:?}"),
    };
    expect![[r#"
        wf.yaml:45:27: warning: template `notice` writes to `provider` but does not name the commissioner responsible for the case
          hint: sign templates/notice.txt with {{ case.owner.name }}
        PASS
    "#]]
    .assert_eq(&outcome(&with("The contract ends on {{ case.fields.contract_end }}.")));
    expect![[r#"
        wf.yaml:45:27: warning: template `notice` writes to `provider` but does not name the commissioner responsible for the case
          hint: sign templates/notice.txt with {{ case.owner.name }}
        wf.yaml:45:58: warning: template `notice` does not state `contract_end`, which this letter must
          hint: put {{ case.fields.contract_end }} in templates/notice.txt
        FAIL: letter `notice` does not state Contract end ("31 December 2027"), which it must (`must_state`)
    "#]]
    .assert_eq(&outcome(&with("The contract ends soon.")));
}

#[test]
fn a_transition_clears_the_details_of_one_round_and_only_fields_that_may_be_empty() {
    let yaml = WORKFLOW.replace(
        "  - { id: reopen, from: decision, to: draft }",
        "  - { id: reopen, from: decision, to: draft, clears: [note, value, nope] }",
    );
    expect![[r#"
        wf.yaml:39:61: error: `value` is required, so it cannot be cleared
        wf.yaml:39:68: error: unknown field `nope`"#]]
    .assert_eq(&diagnostics(&yaml, &[]).lines().filter(|l| l.contains(": error:")).collect::<Vec<_>>().join("\n"));
    let yaml = format!(
        "{}{}",
        WORKFLOW.replace(
            "  - { id: reopen, from: decision, to: draft }",
            "  - { id: reopen, from: decision, to: draft, clears: [note] }"
        ),
        r#"
tests:
  - name: the note of one round does not stand for the next
    steps:
      - create: { fields: { provider_email: p@example.org, value: 5000, contract_end: 2027-12-31 } }
      - transition: submit
      - set: { note: first round }
      - transition: reopen
      - expect_refused: { set: { note: null }, saying: "nothing to change" }
"#
    );
    expect![[r#"
        PASS the note of one round does not stand for the next
    "#]]
    .assert_eq(&run(&yaml, &[]));
}
