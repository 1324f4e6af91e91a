//! Locked facts and amendments.
//!
//! A transition relies on the fields its `when` and rules read. Once it is taken, those
//! fields are locked ([`CaseSnapshot::relied`]): a plain update of one is refused, so a
//! date or value a decision rested on cannot be moved afterwards to let a timer fire
//! early or to put the case under another rule. It can still be corrected by an
//! *amendment*: by a role the workflow names (`amend:`), with a reason, recorded with the
//! old and new values. The amended case is checked against every rule it already passed
//! that reads the changed fields, as of the moment it passed it; if one would have
//! failed, the amendment is refused, naming the rule, unless the workflow says where the
//! case goes instead (`back_to:`). Locks are released when the case returns to a state it
//! had been in before the relying transition was taken: that part of the case is being
//! done again, and the transition is checked again when it is taken again.

use crate::access::holds_internal_role;
use crate::decision::{Decision, Event, Problem, Refusal};
use crate::definition::Definition;
use crate::expr::evaluate_bool;
use crate::fields::Input;
use crate::fields::changes;
use crate::gates::Evaluator;
use crate::ids::FieldId;
use crate::plan;
use crate::snapshot::{Actor, ActorKind, CaseSnapshot, Reliance};
use jiff::Timestamp;
use std::collections::BTreeMap;

/// Why a plain update of `field` is refused: `reliance` locked it.
pub(crate) fn locked_message(def: &Definition, field: &FieldId, reliance: &Reliance) -> String {
    let how = match def.amend_rule(field) {
        Some(rule) => format!("it can be changed only by an amendment, with a reason, by {}", titles(def, &rule.by)),
        None => "the workflow lets no one amend it".to_string(),
    };
    format!(
        "{} is locked: `{}` relied on it on {}; {how}",
        def.fields[field].title,
        reliance.transition,
        def.day(reliance.at)
    )
}

/// Whether `actor` may amend `field` of `case`: anyone who may change the case's fields
/// when it is not locked; when it is, only a role its `amend:` names. `Err` says why not.
pub fn may_amend(def: &Definition, case: &CaseSnapshot, field: &FieldId, actor: &Actor) -> Result<(), String> {
    let Some(reliance) = case.locked_by(field) else { return Ok(()) };
    match def.amend_rule(field) {
        None => Err(locked_message(def, field, reliance)),
        Some(rule) if !rule.by.iter().any(|r| actor.has_role(r.as_str())) => {
            Err(format!("only {} may amend {}", titles(def, &rule.by), def.fields[field].title))
        }
        Some(_) => Ok(()),
    }
}

/// Decide an amendment of `values` on `case`, giving `reason`; the case after it.
pub(crate) fn amend(
    def: &Definition,
    case: &CaseSnapshot,
    values: &[(String, Input)],
    reason: &str,
    actor: &Actor,
    now: Timestamp,
    decision: &mut Decision,
) -> Result<CaseSnapshot, Refusal> {
    if actor.kind != ActorKind::User || !holds_internal_role(def, actor) {
        return Err(Refusal::NotAllowed("only members of this workflow's roles can amend a case".into()));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Refusal::Invalid(vec![Problem {
            field: Some("reason".into()),
            message: "is required: say why the amendment is made; it is kept in the audit trail".into(),
        }]));
    }
    let (set, cleared) = changes(def, case, values)?;
    let changed: Vec<&FieldId> = set.keys().chain(&cleared).collect();
    for field in &changed {
        may_amend(def, case, field, actor).map_err(Refusal::NotAllowed)?;
    }
    let mut after = case.clone();
    for (k, v) in &set {
        after.fields.insert(k.clone(), v.clone());
    }
    for k in &cleared {
        after.fields.remove(k);
    }
    let broken = broken_rules(def, case, &after, &changed);
    let back_to = if broken.is_empty() {
        None
    } else {
        let back_to = changed
            .iter()
            .filter(|f| case.locked_by(f).is_some())
            .find_map(|f| def.amend_rule(f).and_then(|r| r.back_to.clone()));
        if back_to.is_none() {
            return Err(Refusal::NotAvailable(format!(
                "the amendment would break {}; the workflow does not say where the case goes when it does, so it \
                 is refused",
                broken.join("; and ")
            )));
        }
        back_to
    };
    let previous: BTreeMap<FieldId, _> = changed.iter().map(|f| ((*f).clone(), case.fields.get(*f).cloned())).collect();
    decision.events.push(Event::Amended {
        set,
        cleared,
        previous,
        reason: reason.to_string(),
        broken,
        back_to: back_to.clone(),
    });
    let mut after = case.clone();
    after.apply(decision);
    if back_to.is_some() {
        for armed in &case.timers {
            decision.cancel.push(armed.timer.clone());
        }
        plan::enter_state(def, &after, now, decision);
    } else {
        plan::replan(def, case, &after, now, decision);
    }
    Ok(after)
}

/// The rules `case` passed that `after`, its fields amended, would have failed: each
/// taken transition that relied on a changed field is checked again as of the moment it
/// was taken (its state, visit and day), on its `when` and on the gates that read a
/// changed field.
fn broken_rules(def: &Definition, case: &CaseSnapshot, after: &CaseSnapshot, changed: &[&FieldId]) -> Vec<String> {
    let mut broken = Vec::new();
    for reliance in &case.relied {
        if !reliance.fields.iter().any(|f| changed.contains(&f)) {
            continue;
        }
        let Some(t) = def.transition(reliance.transition.as_str()) else { continue };
        let mut then = after.clone();
        then.state = reliance.from.clone();
        then.visit = reliance.visit;
        let ev = Evaluator::new(def, &then, reliance.at);
        let passed = format!("which `{}` passed on {}", t.id, def.day(reliance.at));
        if let Some(when) = &t.when
            && changed.iter().any(|f| when.reads().includes(f.as_str()))
            && evaluate_bool(when, ev.bindings()) != Ok(true)
        {
            broken.push(format!("`{}` applies only when `{}`, {passed}", t.id, when.text()));
        }
        for gate in t.gates.iter().filter(|g| changed.iter().any(|f| g.reads_field(f.as_str()))) {
            for unmet in ev.unmet(gate) {
                broken.push(format!("`{}` ({}), {passed}", unmet.gate, unmet.message));
            }
        }
    }
    broken
}

fn titles(def: &Definition, roles: &[crate::ids::RoleId]) -> String {
    let names: Vec<&str> = roles.iter().map(|r| def.roles[r].title.as_str()).collect();
    names.join(" or ")
}
