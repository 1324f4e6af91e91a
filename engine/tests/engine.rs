//! Behaviour of the engine, written as workflows with scenarios.

mod support;
use expect_test::expect;
use support::{diagnostics, run};

const BASE: &str = r#"
id: demo
version: 1
title: Demo
roles:
  commissioner: { title: Lead commissioner }
  board: { title: Board }
  provider: { title: Provider, external: true, email_field: provider_email }
fields:
  provider_email: { type: email, required: true }
  value: { type: money }
  contract_end: { type: date, required: true }
evidence:
  eia: { title: Equality impact assessment, kind: document, valid_for: P12M }
  dims:
    title: Dimensions
    kind: checklist
    items: { a: Item A, b: Item B }
  ack: { title: Acknowledgement, kind: acknowledgement, from: provider }
states:
  draft: { initial: true }
  decision: {}
  notice: {}
  closed: { terminal: true }
"#;

fn wf(rest: &str) -> String {
    format!("{BASE}{rest}")
}

#[test]
fn a_transition_is_blocked_until_its_evidence_and_checklist_are_complete() {
    let yaml = wf(r#"
transitions:
  - { id: submit, from: draft, to: decision, by: commissioner, gates: [ { evidence: eia }, { checklist: dims } ] }
  - { id: decide, from: decision, to: notice, gates: [ { approval: { role: board } } ] }
  - { id: close, from: notice, to: closed }
tests:
  - name: gates
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 } }
      - expect_blocked: { transition: submit, missing: [eia, dims] }
      - attach: eia
      - answer: { checklist: dims, items: { a: true } }
      - expect_blocked: { transition: submit, missing: [dims] }
      - answer: { checklist: dims, items: { b: false } }
      - expect_blocked: { transition: submit, missing: [dims] }
      - answer: { checklist: dims, items: { b: true } }
      - expect_allowed: submit
      - transition: submit
      - expect_state: decision
  - name: the EIA expires after twelve months
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 } }
      - attach: eia
      - answer: dims
      - advance: P12M
      - expect_blocked: { transition: submit, missing: [eia] }
  - name: a wrong expectation fails with its line
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 } }
      - expect_allowed: submit
"#);
    expect![[r#"
        PASS gates
        PASS the EIA expires after twelve months
        FAIL a wrong expectation fails with its line (line 54): expected `submit` to be allowed, but it is blocked by: eia (Equality impact assessment has not been attached); dims (Dimensions has not been completed)
    "#]]
    .assert_eq(&run(&yaml, &[]));
}

#[test]
fn approvals_need_a_quorum_of_independent_members_and_any_rejection_blocks() {
    let yaml = wf(r#"
transitions:
  - { id: submit, from: draft, to: decision, by: commissioner }
  - id: decide
    from: decision
    to: notice
    gates: [ { approval: { role: board, quorum: 2, not_by: [submitter] } } ]
  - { id: close, from: notice, to: closed }
  - { id: back, from: decision, to: draft }
tests:
  - name: quorum, separation of duties and conflicts
    users: { alice: [commissioner, board], bob: [board], carol: [board], dan: [board] }
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 }, as: alice }
      - transition: { transition: submit, as: alice }
      - approve: { role: board, as: alice, refused: true }
      - approve: { role: board, as: bob, meeting: { name: Board, date: 2026-01-10 } }
      - expect_blocked: { transition: decide, missing: [board] }
      - declare_conflict: { role: board, as: carol, reason: trustee of the provider }
      - approve: { role: board, as: carol, refused: true }
      - expect_blocked: { transition: decide, missing: [board] }
      - approve: { role: board, as: dan, conflict: former employee }
      - expect_blocked: { transition: decide, missing: [board] }
  - name: a rejection blocks until the member changes their mind
    users: { bob: [board], carol: [board] }
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 } }
      - transition: submit
      - approve: { role: board, as: bob }
      - reject: { role: board, as: carol, comment: not enough evidence }
      - expect_blocked: { transition: decide, missing: [board] }
      - approve: { role: board, as: carol }
      - transition: decide
      - expect_state: notice
  - name: approvals do not carry over when the case goes round again
    users: { bob: [board], carol: [board] }
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 } }
      - transition: submit
      - approve: { role: board, as: bob }
      - approve: { role: board, as: carol }
      - expect_allowed: decide
      - transition: back
      - transition: submit
      - expect_blocked: { transition: decide, missing: [board] }
  - name: only members may approve, and only what is asked of them
    users: { bob: [board] }
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 } }
      - approve: { role: board, as: bob }
"#);
    expect![[r#"
        PASS quorum, separation of duties and conflicts
        PASS a rejection blocks until the member changes their mind
        PASS approvals do not carry over when the case goes round again
        FAIL only members may approve, and only what is asked of them (line 74): refused: not available: nothing in `draft` needs approval from Board
    "#]].assert_eq(&run(&yaml, &[]));
}

#[test]
fn routing_by_value_and_a_six_months_rule() {
    let yaml = wf(r#"
params:
  key_decision_threshold: 500000
transitions:
  - { id: submit, from: draft, to: decision }
  - id: key_decision
    from: decision
    to: notice
    when: "case.fields.value >= params.key_decision_threshold"
    gates:
      - rule: "case.fields.contract_end >= add_months(today, 6)"
        id: six_months_notice
        explain: At least six months' notice before the contract ends
  - id: delegated_decision
    from: decision
    to: notice
    when: "case.fields.value < params.key_decision_threshold"
  - { id: close, from: notice, to: closed }
tests:
  - name: a large contract goes to the key decision, with six months' notice
    start: 2026-01-05
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2026-07-04, value: 750000 } }
      - transition: submit
      - expect_blocked: { transition: key_decision, missing: [six_months_notice] }
      - expect_refused: delegated_decision
      - set: { contract_end: 2026-07-05 }
      - expect_allowed: key_decision
  - name: without a value neither route applies
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-01-01 } }
      - transition: submit
      - expect_allowed: key_decision
"#);
    expect![[r#"
        PASS a large contract goes to the key decision, with six months' notice
        FAIL without a value neither route applies (line 57): expected `key_decision` to be allowed, but it cannot tell whether it applies: `value` is not set
    "#]].assert_eq(&run(&yaml, &[]));
}

#[test]
fn timers_chase_until_the_evidence_arrives_and_stop_when_the_case_moves() {
    let yaml = wf(r#"
calendar: test-calendar
transitions:
  - { id: submit, from: draft, to: decision }
  - { id: decide, from: decision, to: notice }
  - { id: close, from: notice, to: closed, gates: [ { evidence: ack } ] }
  - { id: expire, from: notice, to: closed }
timers:
  - id: notice_letter
    on_enter: notice
    send: { to: provider, template: notice }
  - id: chase
    in: notice
    after: P10D
    every: P7D
    until: { evidence: ack }
    send: { to: provider, template: chase }
  - id: before_end
    in: notice
    at: contract_end
    offset: -P1M
    send: { to: commissioner, template: ending }
  - id: working_day_nudge
    in: decision
    after: 3 working days
    limit: 2
    every: 1 working day
    send: { to: board, template: nudge }
  - id: at_end
    in: notice
    at: contract_end
    fire: expire
tests:
  - name: reminders stop by themselves once the acknowledgement arrives
    start: 2026-03-02
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2026-12-31 } }
      - transition: submit
      - transition: decide
      - expect_sent: { template: notice, to: provider, count: 1 }
      - advance: P9D
      - expect_sent: { template: chase, count: 0 }
      - advance: P1D
      - expect_sent: { template: chase, count: 1 }
      - advance: P14D
      - expect_sent: { template: chase, count: 3 }
      - attach: ack
      - advance: P30D
      - expect_sent: { template: chase, count: 3 }
      - expect_state: notice
  - name: working days skip Christmas and the weekend, and the limit holds
    start: 2026-12-23T10:00
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 } }
      - transition: submit
      - advance: P5D
      - expect_sent: { template: nudge, count: 0 }
      - advance: P2D
      - expect_sent: { template: nudge, count: 1 }
      - advance: P30D
      - expect_sent: { template: nudge, count: 2 }
  - name: a date timer warns a month before the end and then fires a transition
    start: 2026-10-01
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2026-12-31 } }
      - transition: submit
      - transition: decide
      - advance: P1M
      - expect_sent: { template: ending, count: 0 }
      - advance: P1M
      - expect_sent: { template: ending, count: 1 }
      - set: { contract_end: 2027-01-31 }
      - advance: P1M
      - expect_state: notice
      - advance: P1M
      - expect_state: closed
      - expect_sent: { template: ending, count: 2 }
"#);
    expect![[r#"
        PASS reminders stop by themselves once the acknowledgement arrives
        PASS working days skip Christmas and the weekend, and the limit holds
        PASS a date timer warns a month before the end and then fires a transition
    "#]]
    .assert_eq(&run(&yaml, &["notice", "chase", "ending", "nudge"]));
}

#[test]
fn a_timer_with_unless_asks_again_whenever_what_it_asks_for_is_out_of_date() {
    let yaml = wf(r#"
params:
  ask_every: { value: P1M, local_policy: test }
transitions:
  - { id: submit, from: draft, to: notice, by: commissioner, local_policy: test }
  - { id: decide, from: notice, to: decision, by: board, local_policy: test }
  - { id: close, from: decision, to: closed, local_policy: test }
timers:
  - id: ask
    in: notice
    after: params.ask_every
    every: params.ask_every
    unless: { evidence: eia }
    local_policy: test
    send: { to: provider, template: ask }
tests:
  - name: asked, quiet while the assessment is current, asked again once it is out of date
    start: 2026-01-05
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2028-12-31 } }
      - transition: submit
      - advance: P1M
      - expect_sent: { template: ask, to: provider, count: 1 }
      - advance: P10D
      - attach: eia
      - advance: P12M
      - expect_sent: { template: ask, count: 1 }
      - advance: P1M
      - expect_sent: { template: ask, count: 2 }
      - advance: P1M
      - expect_sent: { template: ask, count: 3 }
"#);
    expect![[r#"
        PASS asked, quiet while the assessment is current, asked again once it is out of date
    "#]]
    .assert_eq(&run(&yaml, &["ask"]));
    let once = yaml.replace("    every: params.ask_every\n", "");
    expect![[r#"
        wf.yaml:36:13: error: `unless` only applies to a timer that repeats
          hint: add `every:`; for a timer that stops for good once something holds, use `until:`
        wf.yaml:38:27: warning: template `ask` writes to `provider` but does not name the commissioner responsible for the case
          hint: sign templates/ask.txt with {{ case.owner.name }}
    "#]]
    .assert_eq(&diagnostics(&once, &["ask"]));
}

#[test]
fn a_letter_that_asks_for_something_must_say_by_when() {
    let yaml = wf(r#"
transitions:
  - { id: submit, from: draft, to: decision, by: commissioner, local_policy: test }
  - { id: decide, from: decision, to: notice, by: board, local_policy: test }
  - { id: close, from: notice, to: closed, gates: [ { evidence: ack } ], local_policy: test }
timers:
  - id: notice_letter
    on_enter: notice
    local_policy: test
    send: { to: provider, template: notice }
  - id: chase
    in: notice
    after: P10D
    every: P7D
    until: { evidence: ack }
    local_policy: test
    send: { to: provider, template: chase }
"#);
    // The test templates give no date, name no commissioner: each letter is warned of.
    expect![[r#"
        ok
        wf.yaml:34:27: warning: template `notice` writes to `provider` but does not name the commissioner responsible for the case
          hint: sign templates/notice.txt with {{ case.owner.name }}
        wf.yaml:41:27: warning: template `chase` asks again and again for something but gives no date to reply by
          hint: say by when in templates/chase.txt with {{ deadline }}: the day it would remind again
        wf.yaml:41:27: warning: template `chase` writes to `provider` but does not name the commissioner responsible for the case
          hint: sign templates/chase.txt with {{ case.owner.name }}
        wf.yaml:34:27: warning: template `notice` asks for something that `chase` reminds of, but gives no date to reply by
          hint: say by when in templates/notice.txt with {{ deadline }}: the day the reminder first fires
    "#]]
    .assert_eq(&diagnostics(&yaml, &["notice", "chase"]));
}

#[test]
fn every_problem_is_reported_with_its_position_and_a_hint() {
    let yaml = wf(r#"
calendar: no-such-calendar
transitions:
  - id: submit
    from: draf
    to: decision
    by: comissioner
    gates:
      - evidence: eai
      - checklist: eia
      - approval: { role: board, not_by: [submiter] }
      - rule: "case.fields.contract_ends > today"
        id: r1
        explain: x
      - rule: "case.fields.value > 'x'"
        id: r2
        explain: y
      - rule: "case.fields.value >"
        id: r3
        explain: z
  - { id: submit, from: decision, to: closed }
timers:
  - id: chase
    in: decision
    after: 10 days
    send: { to: provider, template: missing-template }
  - id: chase2
    in: decision
    after: 3 working days
    send: { to: board, template: notice }
schedules:
  - id: review
    cron: "every april"
    send: { to: board, template: notice }
"#);
    expect![[r#"
        wf.yaml:26:11: error: calendar `no-such-calendar` not found in calendars/
          hint: declared calendars: test-calendar
        wf.yaml:29:11: error: unknown state `draf`
          hint: did you mean `draft`?
        wf.yaml:31:9: error: unknown role `comissioner`
          hint: did you mean `commissioner`?
        wf.yaml:33:19: error: unknown evidence `eai`
          hint: declared evidence: eia, dims, ack
        wf.yaml:34:20: error: `eia` is not a checklist
          hint: use `evidence: eia`
        wf.yaml:35:42: error: unknown separation of duties `submiter`
          hint: did you mean `submitter`?
        wf.yaml:36:15: error: `case.fields.contract_ends > today`: unknown field `contract_ends` in `case.fields.contract_ends` (did you mean `contract_end`?)
          hint: CEL can use case.fields.<id>, params.<id>, today, now and add_days, add_months, add_years, add_working_days, months_between, days_between
        wf.yaml:39:15: error: `case.fields.value > 'x'`: type error: found no matching overload for '_>_' applied to '(double, string)'
          hint: CEL can use case.fields.<id>, params.<id>, today, now and add_days, add_months, add_years, add_working_days, months_between, days_between
        wf.yaml:42:15: error: `case.fields.value >`: CEL does not compile: ERROR: <input>:1:20: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}
          hint: CEL can use case.fields.<id>, params.<id>, today, now and add_days, add_months, add_years, add_working_days, months_between, days_between
        wf.yaml:45:11: error: duplicate transition id `submit`
        wf.yaml:49:12: error: `10 days` is not an ISO 8601 duration (like P6M, P10D, P2W, PT12H) nor a number of working days (like `10 working days`)
          hint: ISO 8601: P6M is six months, P10D ten days, P2W two weeks, PT12H twelve hours
        wf.yaml:50:37: error: template `missing-template` not found in templates/ (expected templates/missing-template.txt)
          hint: declared templates: notice
        wf.yaml:57:11: error: `every april` is not a valid cron expression: The 'Seconds' field does not support using names. 'every' specified.
          hint: six or seven fields: sec min hour day-of-month month day-of-week [year], like "0 0 9 1 4 *" for 09:00 on 1 April
        wf.yaml:6:3: warning: role `commissioner` is not used by any transition, gate, timer or evidence
          hint: remove it, or give it something to do
        wf.yaml:28:7: warning: transition `submit` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:45:5: warning: transition `submit` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:47:7: warning: timer `chase` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:51:7: warning: timer `chase2` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
    "#]].assert_eq(&diagnostics(&yaml, &["notice"]));
}

#[test]
fn unknown_keys_are_refused_with_a_suggestion() {
    let yaml = BASE.replace("states:", "statse:");
    expect![[r#"
        wf.yaml:20:1: error: unknown field `statse`, expected one of `id`, `version`, `title`, `organisation`, `description`, `source`, `timezone`, `calendar`, `params`, `roles`, `fields`, `evidence`, `states`, `transitions`, `timers`, `schedules`, `tests`, `contract`, `amend`, `mutants`, `children`, `parent`
          hint: did you mean `states`?
    "#]].assert_eq(&diagnostics(&yaml, &[]));
    let yaml = wf("transitions:\n  - { id: submit, from: draft, to: decision, gate: [] }\n");
    expect![[r#"
        wf.yaml:26:46: error: transitions[0]: unknown field `gate`, expected one of `id`, `title`, `description`, `from`, `to`, `by`, `when`, `source`, `local_policy`, `gates`, `clears`
          hint: did you mean `gates`?
    "#]].assert_eq(&diagnostics(&yaml, &[]));
}

#[test]
fn the_state_graph_is_checked() {
    let yaml = wf(r#"
transitions:
  - { id: submit, from: draft, to: decision }
  - { id: close, from: closed, to: draft }
"#);
    expect![[r#"
        wf.yaml:22:13: error: state `decision` has no way out
          hint: add a transition from it, or mark it `terminal: true`
        wf.yaml:23:11: error: state `notice` has no way out
          hint: add a transition from it, or mark it `terminal: true`
        wf.yaml:23:11: error: state `notice` cannot be reached from the initial state `draft`
          hint: add a transition into it, or remove it
        wf.yaml:24:11: error: terminal state `closed` has 1 outgoing transition(s)
          hint: remove `terminal: true` or the transitions that leave it
        wf.yaml:24:11: error: state `closed` cannot be reached from the initial state `draft`
          hint: add a transition into it, or remove it
        wf.yaml:6:3: warning: role `commissioner` is not used by any transition, gate, timer or evidence
          hint: remove it, or give it something to do
        wf.yaml:7:3: warning: role `board` is not used by any transition, gate, timer or evidence
          hint: remove it, or give it something to do
        wf.yaml:27:5: warning: transition `submit` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:28:5: warning: transition `close` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
    "#]]
    .assert_eq(&diagnostics(&yaml, &[]));
}

#[test]
fn duplicate_ids_and_malformed_yaml() {
    let yaml = BASE.replace("  notice: {}\n", "  notice: {}\n  decision: {}\n");
    expect![[r#"
        wf.yaml:24:3: error: duplicate key `decision`
          hint: each id may be declared once
    "#]]
    .assert_eq(&diagnostics(&yaml, &[]));
    expect![[r#"
        wf.yaml:2:10: error: version: invalid type: sequence, expected u32
    "#]]
    .assert_eq(&diagnostics("id: x\nversion: [1\n", &[]));
    expect![[r#"
        wf.yaml:2:10: error: version: invalid type: string "one", expected u32
    "#]]
    .assert_eq(&diagnostics("id: x\nversion: one\ntitle: X\nstates: {}\n", &[]));
}

#[test]
fn templates_may_only_use_known_variables() {
    let mut lib = support::library(&[]);
    lib.templates.insert(
        "notice".into(),
        gatehouse_engine::templates::TemplateSource {
            file: "templates/notice.txt".into(),
            text: "Subject: Notice for {{ case.fields.service }}\n\n{{ provider_name }} {% if %}\n".into(),
            html: None,
        },
    );
    let yaml = wf(r#"
transitions:
  - { id: submit, from: draft, to: decision }
  - { id: decide, from: decision, to: notice }
  - { id: close, from: notice, to: closed }
timers:
  - { id: letter, on_enter: notice, send: { to: provider, template: notice } }
"#);
    let out = match gatehouse_engine::load("wf.yaml", &yaml, &lib) {
        Ok(_) => "ok".to_string(),
        Err(d) => d.iter().map(|d| format!("{d}\n")).collect(),
    };
    expect![[r#"
        wf.yaml:31:69: error: template `notice`: subject: unknown field `case.fields.service`
          hint: templates can use workflow.id, workflow.title, workflow.organisation, case.id, case.url, case.state, case.state_title, case.owner.name, case.owner.email, case.fields.<id>, parent.id, parent.url, parent.state, parent.state_title, parent.fields.<id> (a child case's, with `parent:`), recipient.role, recipient.title, link, deadline, timer.id
        wf.yaml:31:69: error: template `notice`: body: syntax error: unexpected end of block (line 1 of the body)
          hint: templates can use workflow.id, workflow.title, workflow.organisation, case.id, case.url, case.state, case.state_title, case.owner.name, case.owner.email, case.fields.<id>, parent.id, parent.url, parent.state, parent.state_title, parent.fields.<id> (a child case's, with `parent:`), recipient.role, recipient.title, link, deadline, timer.id
        wf.yaml:6:3: warning: role `commissioner` is not used by any transition, gate, timer or evidence
          hint: remove it, or give it something to do
        wf.yaml:7:3: warning: role `board` is not used by any transition, gate, timer or evidence
          hint: remove it, or give it something to do
        wf.yaml:27:5: warning: transition `submit` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:28:5: warning: transition `decide` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:29:5: warning: transition `close` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:31:5: warning: timer `letter` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:31:59: warning: template `notice` writes to `provider` but does not name the commissioner responsible for the case
          hint: sign templates/notice.txt with {{ case.owner.name }}
    "#]].assert_eq(&out);
}

#[test]
fn params_are_numbers_and_date_functions_take_them() {
    let yaml = wf(r#"
params:
  notice_months: 3
transitions:
  - { id: submit, from: draft, to: decision }
  - id: decide
    from: decision
    to: notice
    gates:
      - rule: "case.fields.contract_end >= add_months(today, params.notice_months)"
        id: notice_period
        explain: At least the notice period before the contract ends
  - { id: close, from: notice, to: closed }
tests:
  - name: three months from a param
    start: 2026-01-05
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2026-04-04 } }
      - transition: submit
      - expect_blocked: { transition: decide, missing: [notice_period] }
      - set: { contract_end: 2026-04-05 }
      - expect_allowed: decide
"#);
    expect![[r#"
        PASS three months from a param
    "#]]
    .assert_eq(&run(&yaml, &[]));
}

#[test]
fn a_letter_asks_the_provider_only_for_what_its_step_needs() {
    // The provider provides two things: a reply no gate needs, and the acknowledgement
    // the way out of `notice` needs.
    let ack = "  ack: { title: Acknowledgement, kind: acknowledgement, from: provider }\n";
    let yaml = wf(r#"
transitions:
  - { id: submit, from: draft, to: decision, gates: [ { evidence: eia } ] }
  - { id: decide, from: decision, to: notice }
  - { id: close, from: notice, to: closed, gates: [ { evidence: ack } ] }
timers:
  - { id: early_letter, on_enter: draft, send: { to: provider, template: early } }
  - { id: notice_letter, on_enter: notice, send: { to: provider, template: notice } }
  - { id: chase, in: notice, after: P10D, until: { evidence: ack }, send: { to: provider, template: chase } }
"#)
    .replace(ack, &format!("{ack}  reply: {{ title: Reply, kind: document, from: provider }}\n"));
    let def = gatehouse_engine::load("wf.yaml", &yaml, &support::library(&["early", "notice", "chase"]))
        .unwrap_or_else(|d| panic!("{}", d.iter().map(|d| format!("{d}\n")).collect::<String>()))
        .definition;
    let asked =
        |timer: Option<&str>| def.evidence_asked("provider", timer).iter().map(|e| e.to_string()).collect::<Vec<_>>();
    assert_eq!(asked(Some("early_letter")), ["reply"], "not yet the acknowledgement a later step needs");
    assert_eq!(asked(Some("notice_letter")), ["ack"], "what the way out of notice needs");
    assert_eq!(asked(Some("chase")), ["ack"], "what the chaser waits for");
    assert_eq!(asked(None), ["ack", "reply"], "without a timer, all the provider provides");
    assert!(def.evidence_asked("board", Some("notice_letter")).is_empty());
}

#[test]
fn the_contract_block_names_fields_states_and_months_that_exist() {
    let transitions = r#"
transitions:
  - { id: submit, from: draft, to: decision }
  - { id: decide, from: decision, to: notice }
  - { id: close, from: notice, to: closed }
"#;
    let good = wf(&format!(
        "{transitions}params: {{ notice_months: 6 }}\ncontract:\n  value: value\n  ends: contract_end\n  notice: {{ state: notice, months: params.notice_months, when: \"case.fields.value > 100\" }}\n"
    ));
    expect![[r#"
        ok
        wf.yaml:30:11: warning: param `notice_months` says neither where it comes from nor that it is a local choice
          hint: write `notice_months: { value: …, source: "<document>, <paragraph>" }`, or `local_policy: <why>` when the documents do not set it
        wf.yaml:27:5: warning: transition `submit` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:28:5: warning: transition `decide` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:29:5: warning: transition `close` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:6:3: warning: role `commissioner` is not used by any transition, gate, timer or evidence
          hint: remove it, or give it something to do
        wf.yaml:7:3: warning: role `board` is not used by any transition, gate, timer or evidence
          hint: remove it, or give it something to do
    "#]]
    .assert_eq(&diagnostics(&good, &[]));
    let bad = wf(&format!(
        "{transitions}params: {{ notice_months: 2.5 }}\ncontract:\n  service: service_nmae\n  value: contract_end\n  notice: {{ state: notise, months: params.notice_months, when: \"case.fields.nope\" }}\n"
    ));
    expect![[r#"
        wf.yaml:32:12: error: unknown field `service_nmae`
          hint: declared fields: provider_email, value, contract_end
        wf.yaml:33:10: error: field `contract_end` is a date field; `value` needs a money field
        wf.yaml:34:3: error: notice needs the date it runs to
          hint: add `until: <date field>`, or `ends:` to the contract
        wf.yaml:34:20: error: unknown state `notise`
          hint: did you mean `notice`?
        wf.yaml:34:36: error: param `notice_months` is 2.5, not a whole number of months
          hint: a whole number of months from 1 to 120, like `months: 6`, or `months: params.notice_months`
        wf.yaml:34:64: error: `case.fields.nope`: unknown field `nope` in `case.fields.nope` (declared fields: provider_email, value, contract_end)
          hint: CEL can use case.fields.<id>, params.<id>, today, now and add_days, add_months, add_years, add_working_days, months_between, days_between
        wf.yaml:6:3: warning: role `commissioner` is not used by any transition, gate, timer or evidence
          hint: remove it, or give it something to do
        wf.yaml:7:3: warning: role `board` is not used by any transition, gate, timer or evidence
          hint: remove it, or give it something to do
        wf.yaml:27:5: warning: transition `submit` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:28:5: warning: transition `decide` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:29:5: warning: transition `close` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:30:11: warning: param `notice_months` says neither where it comes from nor that it is a local choice
          hint: write `notice_months: { value: …, source: "<document>, <paragraph>" }`, or `local_policy: <why>` when the documents do not set it
    "#]].assert_eq(&diagnostics(&bad, &[]));
}

#[test]
fn a_rule_counts_working_days_on_the_workflows_calendar() {
    let yaml = wf(r#"
calendar: test-calendar
transitions:
  - id: submit
    from: draft
    to: decision
    by: commissioner
    gates:
      - rule: "add_working_days(today, 2) <= case.fields.contract_end"
        id: two_working_days
        explain: the contract runs two more working days
  - { id: decide, from: decision, to: notice, gates: [ { approval: { role: board } } ] }
  - { id: close, from: notice, to: closed }
tests:
  - name: from Christmas Eve two working days skip Christmas, the weekend and the Boxing Day substitute
    start: 2026-12-24T10:00
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2026-12-30 } }
      - expect_allowed: submit
  - name: a day less is not enough
    start: 2026-12-24T10:00
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2026-12-29 } }
      - expect_blocked: { transition: submit, missing: [two_working_days] }
"#);
    expect![[r#"
        PASS from Christmas Eve two working days skip Christmas, the weekend and the Boxing Day substitute
        PASS a day less is not enough
    "#]]
    .assert_eq(&run(&yaml, &[]));
}

const CHECKLIST_GATE: &str = r#"
transitions:
  - { id: submit, from: draft, to: decision, by: commissioner, gates: [ { checklist: dims } ] }
  - { id: decide, from: decision, to: notice, gates: [ { approval: { role: board } } ] }
  - { id: close, from: notice, to: closed }
"#;

/// `dims` with item `b` allowed to be answered not applicable.
fn with_na(rest: &str) -> String {
    wf(rest).replace("items: { a: Item A, b: Item B }", "items: { a: Item A, b: { label: Item B, allow_na: true } }")
}

#[test]
fn a_checklist_passes_only_on_yes_and_on_n_a_where_the_workflow_allows_it() {
    let scenarios = r#"tests:
  - name: a no blocks until it is answered yes
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 } }
      - answer: { checklist: dims, items: { a: no, b: yes } }
      - expect_blocked: { transition: submit, missing: [dims] }
      - answer: { checklist: dims, items: { a: yes } }
      - expect_allowed: submit
  - name: true and false are yes and no
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 } }
      - answer: { checklist: dims, items: { a: true, b: false } }
      - expect_blocked: { transition: submit, missing: [dims] }
  - name: n/a passes where the workflow allows it
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 } }
      - answer: { checklist: dims, items: { a: yes, b: n/a } }
      - expect_allowed: submit
  - name: n/a is refused where the workflow does not allow it
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 } }
      - answer: { checklist: dims, items: { a: n/a, b: yes }, refused: true }
      - expect_blocked: { transition: submit, missing: [dims] }
  - name: answering every item answers yes
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 } }
      - answer: dims
      - expect_allowed: submit
  - name: a no is named in the gate's message
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 } }
      - answer: { checklist: dims, items: { a: no } }
      - expect_allowed: submit
  - name: a refused n/a names the item
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 } }
      - answer: { checklist: dims, items: { a: n/a } }
  - name: an answer expected to be refused that is recorded fails
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 } }
      - answer: { checklist: dims, items: { b: n/a }, refused: true }
"#;
    let yaml = with_na(&format!("{CHECKLIST_GATE}{scenarios}"));
    expect![[r#"
        PASS a no blocks until it is answered yes
        PASS true and false are yes and no
        PASS n/a passes where the workflow allows it
        PASS n/a is refused where the workflow does not allow it
        PASS answering every item answers yes
        FAIL a no is named in the gate's message (line 62): expected `submit` to be allowed, but it is blocked by: dims (Dimensions: answered no: Item A; not yet answered: Item B)
        FAIL a refused n/a names the item (line 66): refused: invalid: a: "Item A" cannot be answered n/a: answer yes or no
        FAIL an answer expected to be refused that is recorded fails (line 70): expected the answers to `dims` to be refused, but they were recorded
    "#]]
    .assert_eq(&run(&yaml, &[]));
}

#[test]
fn an_n_a_the_workflow_does_not_allow_leaves_the_gate_unmet() {
    // A case answered under an earlier rule (or written by hand) is judged by the rule of
    // its workflow version: the gate does not take the n/a.
    let yaml = with_na(CHECKLIST_GATE);
    expect![[r#"
        dims: Dimensions: answered n/a, which the workflow does not allow: Item A
    "#]]
    .assert_eq(&support::unmet_after_answers(&yaml, "submit", "dims", &[("a", "n/a"), ("b", "n/a")]));
}

#[test]
fn checklist_items_and_answers_are_checked_when_the_workflow_loads() {
    let yaml = wf(CHECKLIST_GATE).replace("b: Item B }", "b: { label: Item B, alow_na: true } }");
    expect![[r#"
        wf.yaml:18:45: error: evidence.dims.items.b: unknown field `alow_na`, expected `label` or `allow_na`
          hint: did you mean `allow_na`?
    "#]]
    .assert_eq(&diagnostics(&yaml, &[]));
    let yaml = wf(CHECKLIST_GATE).replace("b: Item B }", "b: { allow_na: true } }");
    expect![[r#"
        wf.yaml:18:28: error: evidence.dims.items.b: missing field `label`
          hint: add the missing key; see the workflow language reference in README.md
    "#]]
    .assert_eq(&diagnostics(&yaml, &[]));
    let yaml = wf(CHECKLIST_GATE).replace("b: Item B }", "b: { label: Item B, allow_na: sometimes } }");
    expect![[r#"
        wf.yaml:18:55: error: evidence.dims.items.b.allow_na: invalid type: string "sometimes", expected a boolean
    "#]]
    .assert_eq(&diagnostics(&yaml, &[]));
    let yaml = wf(CHECKLIST_GATE).replace("b: Item B }", "b: [Item B] }");
    expect![[r#"
        wf.yaml:18:28: error: evidence.dims.items.b: invalid type: sequence, expected a label, or a map with `label` and `allow_na`
    "#]]
    .assert_eq(&diagnostics(&yaml, &[]));
    let scenario = r#"tests:
  - name: answers
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 } }
      - answer: { checklist: dims, items: { a: maybe } }
"#;
    expect![[r#"
        wf.yaml:34:48: error: tests[0].steps[1].answer.items.a: invalid value: string "maybe", expected yes, no or n/a
    "#]]
    .assert_eq(&diagnostics(&format!("{}{scenario}", wf(CHECKLIST_GATE)), &[]));
    let scenario = r#"tests:
  - name: answers
    steps:
      - create: { fields: { provider_email: p@example.org, contract_end: 2027-12-31 } }
      - answer: { checklist: dims, itmes: { a: yes } }
"#;
    expect![[r#"
        wf.yaml:34:36: error: tests[0].steps[1].answer: unknown field `itmes`, expected one of `checklist`, `items`, `as`, `refused`
          hint: did you mean `items`?
    "#]]
    .assert_eq(&diagnostics(&format!("{}{scenario}", wf(CHECKLIST_GATE)), &[]));
}

#[test]
fn params_transitions_and_timers_say_where_they_come_from() {
    let rest = r#"params:
  notice_months: { value: 6, source: "Code of Practice, Contract Management" }
  remedial_days: { value: 28, local_policy: the Code asks for a reasonable period; 28 days is ours }
  quorum: 2
transitions:
  - { id: submit, from: draft, to: decision, source: "Toolkit, Decision" }
  - { id: serve, from: decision, to: notice, by: board, source: "Toolkit, Notice" }
  - { id: close, from: notice, to: closed }
timers:
  - { id: chase, in: decision, after: P7D, send: { to: commissioner, template: t } }
"#;
    expect![[r#"
        ok
        wf.yaml:28:3: warning: param `quorum` says neither where it comes from nor that it is a local choice
          hint: write `quorum: { value: …, source: "<document>, <paragraph>" }`, or `local_policy: <why>` when the documents do not set it
        wf.yaml:32:5: warning: transition `close` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
        wf.yaml:34:5: warning: timer `chase` cites no source
          hint: add `source:` with the document and paragraph it comes from, or `local_policy:` with why it is our own choice
    "#]]
    .assert_eq(&diagnostics(&wf(rest), &["t"]));

    // A rule of our own says so instead of citing: no warning.
    let ours = rest
        .replace("to: closed }", "to: closed, local_policy: closing is a step of ours }")
        .replace("template: t } }", "template: t }, local_policy: a weekly chase is our own cadence }");
    assert!(!diagnostics(&wf(&ours), &["t"]).contains("cites no source"), "{}", diagnostics(&wf(&ours), &["t"]));
    let loaded = gatehouse_engine::load("wf.yaml", &wf(&ours), &support::library(&["t"])).unwrap();
    let close = loaded.definition.transition("close").unwrap();
    assert_eq!(close.source.as_deref(), Some("Local policy: closing is a step of ours"));
    // The policy document lists every local choice apart, for the governance group.
    let policy = gatehouse_engine::explain::markdown(&loaded.definition);
    let choices = &policy[policy.find("## Local choices to confirm").expect("a section of local choices")..];
    let choices = &choices[..choices.find("\n## Who").unwrap()];
    expect![[r#"
        ## Local choices to confirm

        These values and rules are not set by the source documents: they are this installation's own choices, for the governance group to confirm or change.

        - `params.remedial_days` = 28 — the Code asks for a reasonable period; 28 days is ours
        - Step “Close” (close) — closing is a step of ours
        - Reminder chase — a weekly chase is our own cadence
    "#]]
    .assert_eq(choices);
    let html = gatehouse_engine::explain::html(&loaded.definition);
    assert!(html.contains("<li>Reminder chase — a weekly chase is our own cadence</li>"), "{html}");

    let both = rest.replace("28, local_policy:", "28, source: Code, local_policy:");
    let unknown = rest.replace("value: 6, source:", "value: 6, sauce:");
    let none = rest.replace("{ value: 6, source: \"Code of Practice, Contract Management\" }", "{ source: Code }");
    let mut out = String::new();
    for yaml in [both, unknown, none] {
        let errors: Vec<String> =
            diagnostics(&wf(&yaml), &["t"]).lines().filter(|l| l.contains("error")).map(str::to_string).collect();
        out.push_str(&errors.join("\n"));
        out.push('\n');
    }
    expect![[r#"
        wf.yaml:27:18: error: param `remedial_days` has both `source` and `local_policy`
        wf.yaml:26:37: error: unknown key `sauce` in param `notice_months`
        wf.yaml:26:18: error: param `notice_months` needs a `value`
    "#]]
    .assert_eq(&out);
}

#[test]
fn a_quorum_may_be_a_param_that_says_it_is_a_local_choice() {
    let rest = |quorum: &str| {
        format!(
            r#"params:
  board_quorum: {{ value: 2, local_policy: the code names the board but not how many must agree }}
  label: text
transitions:
  - {{ id: submit, from: draft, to: decision, by: commissioner, source: S }}
  - id: decide
    from: decision
    to: notice
    source: S
    gates: [ {{ approval: {{ role: board, quorum: {quorum} }} }} ]
  - {{ id: close, from: notice, to: closed, source: S }}
tests:
  - name: two of the board
    users: {{ bob: [board], carol: [board] }}
    steps:
      - create: {{ fields: {{ provider_email: p@example.org, contract_end: 2027-12-31 }} }}
      - transition: submit
      - approve: {{ role: board, as: bob }}
      - expect_blocked: {{ transition: decide, missing: [board] }}
      - approve: {{ role: board, as: carol }}
      - transition: decide
"#
        )
    };
    expect![[r#"
        PASS two of the board
    "#]]
    .assert_eq(&run(&wf(&rest("params.board_quorum")), &[]));
    let mut errors = String::new();
    for quorum in ["params.board_qorum", "params.label", "0", "1.5"] {
        for line in diagnostics(&wf(&rest(quorum)), &[]).lines().filter(|l| l.contains("error:")) {
            errors.push_str(line);
            errors.push('\n');
        }
    }
    expect![[r#"
        wf.yaml:34:49: error: unknown param `board_qorum`
        wf.yaml:34:49: error: param `label`, which is not a number, is not a quorum: it must be a whole number from 1 to 100
        wf.yaml:34:49: error: `0` is not a quorum: it must be a whole number from 1 to 100
        wf.yaml:34:49: error: `1.5` is not a quorum: it must be a whole number from 1 to 100
    "#]]
    .assert_eq(&errors);
}
