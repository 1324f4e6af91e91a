//! The one place engine tests call the engine's API: load a workflow written inline,
//! then either run its scenarios or list its diagnostics, as text for `expect!`.

use gatehouse_engine::calendar::Calendar;
use gatehouse_engine::templates::TemplateSource;
use gatehouse_engine::{Library, load};
use std::sync::Arc;

/// A library with the named templates (each a one-line subject and a short body) and the
/// `test-calendar` calendar (Christmas 2026 and Boxing Day substitute).
pub fn library(templates: &[&str]) -> Library {
    let mut lib = Library::default();
    for t in templates {
        lib.templates.insert(
            t.to_string(),
            TemplateSource {
                file: format!("templates/{t}.txt"),
                text: format!("Subject: {t} for {{{{ case.id }}}}\n\nHello.\n"),
                html: None,
            },
        );
    }
    let cal = "title: Test\nholidays:\n  - { date: 2026-12-25, title: Christmas Day }\n  - { date: 2026-12-28, title: Boxing Day }\n";
    lib.calendars.insert("test-calendar".into(), Arc::new(Calendar::parse("test-calendar", cal).unwrap()));
    lib
}

/// Load `yaml` and run its scenarios: one line per scenario, failures with their line.
pub fn run(yaml: &str, templates: &[&str]) -> String {
    let loaded = match load("wf.yaml", yaml, &library(templates)) {
        Ok(l) => l,
        Err(diags) => return diags.iter().map(|d| format!("{d}\n")).collect(),
    };
    let mut out = String::new();
    for o in gatehouse_engine::scenario::run_all(&loaded.definition, &loaded.scenarios) {
        match o.failure {
            None => out.push_str(&format!("PASS {}\n", o.name)),
            Some((line, m)) => out.push_str(&format!("FAIL {} (line {line}): {m}\n", o.name)),
        }
    }
    out
}

/// Load `yaml` and list every diagnostic, or "ok" with the warnings.
pub fn diagnostics(yaml: &str, templates: &[&str]) -> String {
    match load("wf.yaml", yaml, &library(templates)) {
        Ok(l) => {
            let mut out = String::from("ok\n");
            for w in l.warnings {
                out.push_str(&format!("{w}\n"));
            }
            out
        }
        Err(diags) => diags.iter().map(|d| format!("{d}\n")).collect(),
    }
}

/// Load `yaml`, give a fresh case the checklist `answers` (`yes`, `no`, `n/a`) without
/// asking `decide`, as a case stored under another rule would hold them, and list what
/// blocks `transition`: one `gate: message` line each.
pub fn unmet_after_answers(yaml: &str, transition: &str, checklist: &str, answers: &[(&str, &str)]) -> String {
    use gatehouse_engine::ids::EvidenceId;
    use gatehouse_engine::snapshot::{Actor, Answer, EvidenceContent, EvidenceRecord};
    let def = match load("wf.yaml", yaml, &library(&[])) {
        Ok(l) => l.definition,
        Err(diags) => return diags.iter().map(|d| format!("{d}\n")).collect(),
    };
    let now = jiff::Timestamp::UNIX_EPOCH;
    let mut case = gatehouse_engine::decide::blank_case(&def, &Actor::user("author", ["commissioner"]), now);
    let answer = |a: &str| match a {
        "yes" => Answer::Yes,
        "no" => Answer::No,
        "n/a" => Answer::NotApplicable,
        other => panic!("not an answer: {other}"),
    };
    let (id, _): (&EvidenceId, _) = def.evidence_kind(checklist).expect("the checklist is declared");
    let content = EvidenceContent::Checklist(answers.iter().map(|(i, a)| (i.to_string(), (answer(a), None))).collect());
    case.evidence.insert(id.clone(), EvidenceRecord { evidence: id.clone(), content, by: "author".into(), at: now });
    let t = def.transition(transition).expect("the transition is declared");
    assert!(t.from.contains(&case.state), "`{transition}` leaves the state");
    gatehouse_engine::gates::Evaluator::new(&def, &case, now)
        .transition(t)
        .unmet
        .iter()
        .map(|u| format!("{}: {}\n", u.gate, u.message))
        .collect()
}
