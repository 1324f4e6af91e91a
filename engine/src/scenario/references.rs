//! The check, when a workflow loads, that its scenarios name only what it declares.

use super::{Action, Scenario, parse_start};
use crate::definition::{Definition, EvidenceKind};
use crate::duration::Duration;

/// Report every reference in the scenarios that the definition does not declare.
pub(crate) fn check_references(
    def: &Definition,
    scenarios: &[Scenario],
    report: &mut dyn FnMut(&str, String, Option<String>),
) {
    use crate::diagnostics::hint_for;
    let states: Vec<&str> = def.states.keys().map(|k| k.as_str()).collect();
    let transitions: Vec<&str> = def.transitions.iter().map(|t| t.id.as_str()).collect();
    let evidence: Vec<&str> = def.evidence.keys().map(|k| k.as_str()).collect();
    let roles: Vec<&str> = def.roles.keys().map(|k| k.as_str()).collect();
    let templates: Vec<&str> = def.templates.iter().map(|t| t.as_str()).collect();
    for s in scenarios {
        let mut problems: Vec<(String, String, Option<String>)> = Vec::new();
        let mut empty_refusals = Vec::new();
        let mut orphans = Vec::new();
        let mut check = |path: &str, what: &str, id: &str, all: &[&str]| {
            if !all.contains(&id) {
                let one = what.strip_suffix('s').unwrap_or(what);
                problems.push((
                    path.to_string(),
                    format!("unknown {one} `{id}`"),
                    Some(hint_for(id, what, all.iter().copied())),
                ));
            }
        };
        if let Some(start) = &s.start
            && parse_start(start, def).is_err()
        {
            check(&format!("{}.start", s.path), "start date", start, &[]);
        }
        for (user, user_roles) in &s.users {
            for r in user_roles {
                check(&format!("{}.users.{user}", s.path), "roles", r, &roles);
            }
        }
        for (j, step) in s.steps.iter().enumerate() {
            let path = format!("{}.steps.{j}", s.path);
            let mut known_users: Vec<&str> = s.users.keys().map(String::as_str).chain(roles.iter().copied()).collect();
            known_users.push("author");
            let mut actor_ok = |a: &Option<String>| {
                if let Some(a) = a {
                    check(&path, "users", a, &known_users);
                }
            };
            match &step.action {
                Action::Create { actor, .. } | Action::Attach { actor, .. } | Action::Answer { actor, .. } => {
                    actor_ok(actor)
                }
                Action::Approve { actor, .. } | Action::DeclareConflict { actor, .. } => actor_ok(actor),
                Action::Transition { actor, .. } | Action::ExpectRefused { actor, .. } => actor_ok(actor),
                Action::Amend { actor, .. } | Action::ExpectChangeRefused { actor, .. } => actor_ok(actor),
                _ => {}
            }
            match &step.action {
                Action::Attach { evidence: e, .. } => check(&path, "evidence", e, &evidence),
                Action::Answer { checklist, items, .. } => {
                    check(&path, "evidence", checklist, &evidence);
                    if let (Some((_, ev)), Some(items)) = (def.evidence_kind(checklist), items)
                        && let EvidenceKind::Checklist(declared) = &ev.kind
                    {
                        let names: Vec<&str> = declared.iter().map(|i| i.id.as_str()).collect();
                        for (item, _) in items {
                            check(&path, "items", item, &names);
                        }
                    }
                }
                Action::Approve { role, .. } | Action::DeclareConflict { role, .. } => {
                    check(&path, "roles", role, &roles)
                }
                Action::Transition { transition, .. }
                | Action::ExpectAllowed(transition)
                | Action::ExpectRefused { transition, .. } => check(&path, "transitions", transition, &transitions),
                Action::ExpectBlocked { transition, missing } => {
                    check(&path, "transitions", transition, &transitions);
                    if let Some(t) = def.transition(transition) {
                        let gates: Vec<&str> =
                            crate::definition::flatten(&t.gates).into_iter().map(|g| g.id.as_str()).collect();
                        for m in missing {
                            check(&path, "gates", m, &gates);
                        }
                    }
                }
                Action::ExpectState(st) => check(&path, "states", st, &states),
                Action::ExpectSent { template, to, .. } => {
                    check(&path, "templates", template, &templates);
                    if let Some(to) = to {
                        check(&path, "roles", to, &roles);
                    }
                }
                Action::ExpectNotSent(template) => check(&path, "templates", template, &templates),
                Action::Children(groups) => {
                    let known: Vec<&str> = def.children.keys().map(String::as_str).collect();
                    for (group, _) in groups {
                        check(&path, "children", group, &known);
                    }
                }
                Action::Advance(d) => {
                    if Duration::parse(d).is_err() {
                        check(&path, "duration (use ISO 8601 like P10D)", d, &[]);
                    }
                }
                Action::ExpectChangeRefused { fields, .. } if fields.is_empty() => empty_refusals.push(path.clone()),
                Action::Create { parent, .. } if !parent.is_empty() && def.parent.is_none() => {
                    orphans.push(format!("{path}.create.parent"))
                }
                Action::Create { .. } | Action::Set(_) | Action::Amend { .. } | Action::ExpectChangeRefused { .. } => {}
            }
        }
        for path in orphans {
            let message = "this workflow's cases have no parent case (it has no `parent:`), so `create` gives none";
            problems.push((path, message.into(), None));
        }
        for path in empty_refusals {
            problems.push((
                path,
                "`expect_refused` needs a transition, or one of `set: {…}` and `amend: {…}`".into(),
                Some("like `expect_refused: { set: { contract_end: 2026-06-30 } }`".into()),
            ));
        }
        for (path, message, hint) in problems {
            report(&path, message, hint);
        }
    }
}
