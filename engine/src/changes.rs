//! What changed between two versions of a workflow, in words a governance group reads
//! ("gate `eia` added to `submit_key_decision`", "param `notice_months` 6 → 3", "state
//! `referred` removed"), for the workflow page, the API and `gatehouse diff`: what a
//! text diff of the YAML shows, said as the rules it changes.

use crate::calendar::Calendar;
use crate::definition::{Definition, Gate, GateKind, Timer, Transition, Trigger, flatten};
use crate::values::ParamValue;
use indexmap::IndexMap;
use std::fmt::Display;
use std::hash::Hash;

/// Every difference between `old` and `new`, in file order: workflow settings, params,
/// roles, fields, evidence, states, transitions (and their gates), timers, kinds of
/// child case. Empty when they are the same in every way a case can notice.
pub fn changes(old: &Definition, new: &Definition) -> Vec<String> {
    let mut out = Vec::new();
    let mut say = |s: String| out.push(s);
    if old.title != new.title {
        say(format!("title “{}” → “{}”", old.title, new.title));
    }
    if old.organisation != new.organisation {
        say(format!("organisation “{}” → “{}”", old.organisation, new.organisation));
    }
    if old.timezone_name != new.timezone_name {
        say(format!("time zone {} → {}", old.timezone_name, new.timezone_name));
    }
    if old.initial != new.initial {
        say(format!("cases start in `{}`, not `{}`", new.initial, old.initial));
    }
    keyed(&old.params, &new.params, "param", &mut say, |id, a, b, say| {
        if a != b {
            say(format!("param `{id}` {} → {}", param(a), param(b)));
        }
    });
    keyed(&old.roles, &new.roles, "role", &mut say, |id, a, b, say| {
        if a.is_external() != b.is_external() {
            let now = if b.is_external() { "external (acts from emailed links)" } else { "internal" };
            say(format!("role `{id}` is now {now}"));
        }
    });
    keyed(&old.fields, &new.fields, "field", &mut say, |id, a, b, say| {
        if a.kind != b.kind {
            say(format!("field `{id}`: type {} → {}", a.kind.name(), b.kind.name()));
        }
        if a.required != b.required {
            say(format!("field `{id}` is {}", if b.required { "now required" } else { "no longer required" }));
        }
    });
    keyed(&old.evidence, &new.evidence, "evidence", &mut say, |id, a, b, say| {
        if a.valid_for != b.valid_for {
            say(format!("evidence `{id}` valid for {} → {}", opt(&a.valid_for), opt(&b.valid_for)));
        }
        if a.from != b.from {
            say(format!("evidence `{id}` comes from {} → {}", opt(&a.from), opt(&b.from)));
        }
    });
    keyed(&old.states, &new.states, "state", &mut say, |id, a, b, say| {
        if a.title != b.title {
            say(format!("state `{id}` is called “{}” (was “{}”)", b.title, a.title));
        }
        if a.terminal != b.terminal {
            say(format!("state `{id}` {}", if b.terminal { "now ends a case" } else { "no longer ends a case" }));
        }
    });
    let by_id = |d: &Definition| -> IndexMap<String, Transition> {
        d.transitions.iter().map(|t| (t.id.to_string(), t.clone())).collect()
    };
    keyed(&by_id(old), &by_id(new), "transition", &mut say, transition);
    let timers = |d: &Definition| -> IndexMap<String, Timer> {
        d.timers.iter().map(|t| (t.id.to_string(), t.clone())).collect()
    };
    keyed(&timers(old), &timers(new), "timer", &mut say, |id, a, b, say| {
        if trigger(&a.trigger) != trigger(&b.trigger) {
            say(format!("timer `{id}` fires {} (was {})", trigger(&b.trigger), trigger(&a.trigger)));
        }
        if a.every != b.every || a.limit != b.limit {
            say(format!("timer `{id}` repeats {} (was {})", repeats(b), repeats(a)));
        }
        let sends = |t: &Timer| t.send.as_ref().map(|s| format!("`{}` to {}", s.template, list(&s.to)));
        if sends(a) != sends(b) {
            say(format!(
                "timer `{id}` sends {} (was {})",
                sends(b).unwrap_or("nothing".into()),
                sends(a).unwrap_or("nothing".into())
            ));
        }
        let waits = |t: &Timer| {
            t.until
                .as_ref()
                .map(crate::graph::compact)
                .or(t.unless.as_ref().map(|g| format!("unless {}", crate::graph::compact(g))))
        };
        if waits(a) != waits(b) {
            say(format!("timer `{id}` stops for {} (was {})", opt(&waits(b)), opt(&waits(a))));
        }
    });
    keyed(&old.children, &new.children, "kind of child case", &mut say, |id, a, b, say| {
        if a.workflow != b.workflow {
            say(format!("child cases `{id}` follow `{}` (was `{}`)", b.workflow, a.workflow));
        }
        if a.open_in != b.open_in {
            say(format!("child cases `{id}` are opened in {} (was {})", list(&b.open_in), list(&a.open_in)));
        }
    });
    if old.parent != new.parent {
        say(format!("parent workflow {} → {}", opt(&old.parent), opt(&new.parent)));
    }
    letters(old, new, &mut say);
    calendar(old.calendar.as_deref(), new.calendar.as_deref(), &mut say);
    out
}

/// The letters both versions send whose words changed: the subject said, the body
/// and the HTML version named. (A letter one of them does not send shows as a timer's
/// change.)
fn letters(old: &Definition, new: &Definition, say: &mut dyn FnMut(String)) {
    let subject =
        |text: &str| text.lines().next().and_then(|l| l.strip_prefix("Subject:")).map(str::trim).map(String::from);
    let body = |text: &str| text.split_once("\n\n").map(|(_, b)| b.trim().to_string()).unwrap_or_default();
    for (name, b) in &new.letters {
        let Some(a) = old.letters.get(name) else { continue };
        if subject(&a.text) != subject(&b.text) {
            say(format!(
                "letter `{name}`: subject “{}” → “{}”",
                subject(&a.text).unwrap_or_default(),
                subject(&b.text).unwrap_or_default()
            ));
        }
        if body(&a.text) != body(&b.text) {
            say(format!("letter `{name}`: its words changed"));
        }
        match (&a.html, &b.html) {
            (None, Some(_)) => say(format!("letter `{name}`: an HTML version added")),
            (Some(_), None) => say(format!("letter `{name}`: its HTML version removed")),
            (Some(x), Some(y)) if x != y => say(format!("letter `{name}`: its HTML version changed")),
            _ => {}
        }
    }
}

/// The working-day calendar: another one, or its holidays and weekend changed.
fn calendar(old: Option<&Calendar>, new: Option<&Calendar>, say: &mut dyn FnMut(String)) {
    match (old, new) {
        (None, None) => {}
        (Some(a), None) => say(format!("calendar `{}` removed: days count as calendar days", a.name)),
        (None, Some(b)) => say(format!("calendar `{}` added", b.name)),
        (Some(a), Some(b)) if a.name != b.name => say(format!("calendar `{}` → `{}`", a.name, b.name)),
        (Some(a), Some(b)) => {
            let dates = |c: &Calendar| c.holidays().collect::<std::collections::BTreeSet<_>>();
            let (was, now) = (dates(a), dates(b));
            let days = |d: Vec<&jiff::civil::Date>| d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ");
            let added: Vec<_> = now.difference(&was).collect();
            if !added.is_empty() {
                say(format!("calendar `{}`: holidays added {}", b.name, days(added)));
            }
            let removed: Vec<_> = was.difference(&now).collect();
            if !removed.is_empty() {
                say(format!("calendar `{}`: holidays removed {}", b.name, days(removed)));
            }
            if a.weekend() != b.weekend() {
                let names = |c: &Calendar| c.weekend().iter().map(|w| format!("{w:?}")).collect::<Vec<_>>().join(", ");
                say(format!("calendar `{}`: weekend {} (was {})", b.name, names(b), names(a)));
            }
        }
    }
}

/// Added and removed entries of two maps, in file order, and `both` on the entries in
/// each.
fn keyed<K: Display + Eq + Hash, V>(
    old: &IndexMap<K, V>,
    new: &IndexMap<K, V>,
    what: &str,
    say: &mut dyn FnMut(String),
    mut both: impl FnMut(&K, &V, &V, &mut dyn FnMut(String)),
) {
    for id in old.keys().filter(|k| !new.contains_key(*k)) {
        say(format!("{what} `{id}` removed"));
    }
    for (id, b) in new {
        match old.get(id) {
            None => say(format!("{what} `{id}` added")),
            Some(a) => both(id, a, b, say),
        }
    }
}

fn transition(id: &String, a: &Transition, b: &Transition, say: &mut dyn FnMut(String)) {
    if a.from != b.from {
        say(format!("transition `{id}` leaves {} (was {})", list(&b.from), list(&a.from)));
    }
    if a.to != b.to {
        say(format!("transition `{id}` goes to `{}` (was `{}`)", b.to, a.to));
    }
    if a.by != b.by {
        say(format!("transition `{id}` is taken by {} (was {})", list(&b.by), list(&a.by)));
    }
    let when = |t: &Transition| t.when.as_ref().map(|w| w.text().to_string());
    if when(a) != when(b) {
        say(format!("transition `{id}` applies when {} (was {})", opt(&when(b)), opt(&when(a))));
    }
    // Gates by id, nested ones included, each described as the diagram shows it.
    let gates = |t: &Transition| -> IndexMap<String, String> {
        flatten(&t.gates).into_iter().map(|g| (g.id.to_string(), gate(g))).collect()
    };
    let (ga, gb) = (gates(a), gates(b));
    for g in ga.keys().filter(|g| !gb.contains_key(*g)) {
        say(format!("gate `{g}` removed from `{id}`"));
    }
    for (g, now) in &gb {
        match ga.get(g) {
            None => say(format!("gate `{g}` added to `{id}`: {now}")),
            Some(was) if was != now => say(format!("gate `{g}` of `{id}`: {was} → {now}")),
            Some(_) => {}
        }
    }
}

/// A gate in words, its rule's text included.
fn gate(g: &Gate) -> String {
    match &g.kind {
        GateKind::Rule(e) => format!("rule {}", e.text()),
        _ => crate::graph::compact(g),
    }
}

fn trigger(t: &Trigger) -> String {
    match t {
        Trigger::OnEnter(s) => format!("on entering `{s}`"),
        Trigger::After { state, after } => format!("{after} after entering `{state}`"),
        Trigger::At { state, field, offset: None } => format!("on `{field}` in `{state}`"),
        Trigger::At { state, field, offset: Some(o) } => format!("{o} from `{field}` in `{state}`"),
    }
}

fn repeats(t: &Timer) -> String {
    match (&t.every, t.limit) {
        (None, _) => "never".into(),
        (Some(e), None) => format!("every {e}"),
        (Some(e), Some(n)) => format!("every {e}, at most {n} times"),
    }
}

fn param(v: &ParamValue) -> String {
    match v {
        ParamValue::Number(n) => n.to_string(),
        ParamValue::Text(t) => format!("“{t}”"),
        ParamValue::Bool(b) => b.to_string(),
    }
}

fn list<T: Display>(items: &[T]) -> String {
    items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ")
}

fn opt<T: Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "none".into(), |v| format!("`{v}`"))
}

#[cfg(test)]
mod tests {
    use super::changes;
    use crate::load::{Library, load};
    use expect_test::expect;

    const V1: &str = r#"
id: notice
version: 1
title: Notice
params:
  notice_months: { value: 3, local_policy: test }
roles:
  commissioner: { title: Commissioner }
  pig: { title: PIG }
  provider: { title: Provider, external: true, email_field: provider_email }
fields:
  provider_email: { type: email }
  contract_end: { type: date, required: true }
evidence:
  eia: { title: EIA, kind: document }
states:
  draft: { initial: true, title: Draft }
  referred: { title: Referred back }
  notice: { title: Notice served, terminal: true }
transitions:
  - id: refer
    from: draft
    to: referred
    by: commissioner
    local_policy: test
  - id: serve
    from: [draft, referred]
    to: notice
    by: commissioner
    local_policy: test
    gates:
      - id: enough_notice
        rule: "case.fields.contract_end >= add_months(today, params.notice_months)"
        explain: Enough notice
        local_policy: test
timers:
  - id: chase
    in: notice
    after: P10D
    every: P7D
    local_policy: test
    send: { to: provider, template: chase }
"#;

    fn def(yaml: &str) -> crate::Definition {
        let mut lib = Library::default();
        lib.templates.insert(
            "chase".into(),
            crate::templates::TemplateSource {
                file: "chase.txt".into(),
                text: "Subject: x\n\n{{ case.owner.name }} {{ deadline }}\n".into(),
                html: None,
            },
        );
        match load("wf.yaml", yaml, &lib) {
            Ok(l) => l.definition,
            Err(d) => panic!("{d:#?}"),
        }
    }

    #[test]
    fn a_change_is_said_as_the_rules_it_changes() {
        let v2 = V1
            .replace("version: 1", "version: 2")
            .replace("value: 3,", "value: 4,")
            .replace("  referred: { title: Referred back }\n", "")
            .replace("  - id: refer\n    from: draft\n    to: referred\n    by: commissioner\n    local_policy: test\n", "")
            .replace("from: [draft, referred]", "from: draft")
            .replace(
                "        local_policy: test\ntimers:",
                "        local_policy: test\n      - { id: eia_held, evidence: eia, local_policy: test }\n      - approval: { role: pig, quorum: 2 }\n        local_policy: test\ntimers:",
            )
            .replace("every: P7D", "every: P14D")
            .replace("contract_end: { type: date, required: true }", "contract_end: { type: date }");
        let text = changes(&def(V1), &def(&v2)).join("\n");
        expect![[r#"
            param `notice_months` 3 → 4
            field `contract_end` is no longer required
            state `referred` removed
            transition `refer` removed
            transition `serve` leaves `draft` (was `draft`, `referred`)
            gate `eia_held` added to `serve`: eia
            gate `pig` added to `serve`: approval pig ×2
            timer `chase` repeats every P14D (was every P7D)"#]]
        .assert_eq(&text);
    }

    #[test]
    fn a_letter_and_a_calendar_changed_are_said() {
        let with_calendar = |holidays: &str, chase: &str| {
            let mut lib = Library::default();
            lib.templates.insert(
                "chase".into(),
                crate::templates::TemplateSource { file: "chase.txt".into(), text: chase.into(), html: None },
            );
            let text = format!("title: England\nholidays:\n{holidays}");
            lib.calendars.insert(
                "england".into(),
                std::sync::Arc::new(crate::calendar::Calendar::parse("england", &text).unwrap()),
            );
            match load("wf.yaml", &V1.replace("title: Notice\n", "title: Notice\ncalendar: england\n"), &lib) {
                Ok(l) => l.definition,
                Err(d) => panic!("{d:#?}"),
            }
        };
        let old = with_calendar(
            "  - { date: 2027-12-27, title: Christmas (substitute) }\n",
            "Subject: Reminder\n\n{{ deadline }}\n",
        );
        let new = with_calendar(
            "  - { date: 2027-12-28, title: Boxing Day (substitute) }\n",
            "Subject: Final reminder\n\nBy {{ deadline }}, please.\n",
        );
        let text = changes(&old, &new).join("\n");
        expect![[r#"
            letter `chase`: subject “Reminder” → “Final reminder”
            letter `chase`: its words changed
            calendar `england`: holidays added 2027-12-28
            calendar `england`: holidays removed 2027-12-27"#]]
        .assert_eq(&text);
        assert!(changes(&old, &old).is_empty());
    }

    #[test]
    fn the_same_workflow_has_no_changes() {
        assert!(changes(&def(V1), &def(&V1.replace("version: 1", "version: 2"))).is_empty());
    }
}
