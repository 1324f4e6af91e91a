//! Moving an open case to another version of its workflow (`gatehouse cases
//! migrate`): where it lands, what it would meet there, and the decision that moves it.
//!
//! A case stays on the version it was opened with unless a governance member moves it.
//! Moving it keeps everything it holds (fields, evidence, approvals, its audit trail);
//! it lands in the state of the same id, or the one a mapping names where states were
//! renamed or removed, and a move that would leave it in a state the new version does
//! not have is refused. Its timers are armed again from the new version, counted from
//! when it entered its state: a reminder the new version makes due already is due now,
//! and nothing is sent by the move itself.

use crate::decide::Decided;
use crate::decision::{Decision, Event, Problem, Refusal};
use crate::definition::{Definition, GateKind, Trigger, flatten};
use crate::gates::Evaluator;
use crate::ids::StateId;
use crate::snapshot::{Actor, ArmedTimer, CaseSnapshot, Verdict};
use jiff::Timestamp;
use std::collections::BTreeMap;

/// A case's move to another version, decided but not yet stored.
#[derive(Debug, Clone)]
pub struct Migrated {
    /// The decision (its one event: `migrated`), and the case after it.
    pub decided: Decided,
    /// What changes for the case, in words: its state, next steps that would wait for
    /// a gate they did not, approvals that would no longer count, timers.
    pub impact: Vec<String>,
}

/// Move `case` from `from` to `to` (another version of the same workflow), into the
/// state `states` maps its state's id to, else the state of the same id.
pub fn migrate(
    from: &Definition,
    to: &Definition,
    case: &CaseSnapshot,
    states: &BTreeMap<String, String>,
    actor: &Actor,
    now: Timestamp,
) -> Result<Migrated, Refusal> {
    let invalid = |message: String| Refusal::Invalid(vec![Problem { field: None, message }]);
    if from.id != to.id {
        return Err(invalid(format!("case {} follows `{}`, not `{}`", case.id, from.id, to.id)));
    }
    if from.version == to.version {
        return Err(invalid(format!("case {} is on version {} already", case.id, to.version)));
    }
    let wanted = states.get(case.state.as_str()).map_or(case.state.as_str(), String::as_str);
    let Some((target, _)) = to.states.get_key_value(wanted) else {
        let (mapped, target) = (states.contains_key(case.state.as_str()), wanted);
        return Err(invalid(if mapped {
            format!(
                "case {}: `{}` is mapped to `{target}`, which version {} does not have",
                case.id, case.state, to.version
            )
        } else {
            format!(
                "case {} is in `{}`, which version {} does not have: map it to one of its states (`--map {}=<state>`)",
                case.id, case.state, to.version, case.state
            )
        }));
    };
    let target = target.clone();
    // What the case holds must all be declared by the new version: nothing is dropped.
    let mut lost: Vec<String> =
        case.fields.keys().filter(|f| !to.fields.contains_key(*f)).map(|f| format!("field `{f}`")).collect();
    lost.extend(case.evidence.keys().filter(|e| !to.evidence.contains_key(*e)).map(|e| format!("evidence `{e}`")));
    let mut roles: Vec<&str> = case.approvals.iter().map(|a| a.role.as_str()).collect();
    roles.extend(case.conflicts.iter().map(|c| c.role.as_str()));
    roles.sort();
    roles.dedup();
    lost.extend(
        roles
            .into_iter()
            .filter(|r| !to.roles.contains_key(*r))
            .map(|r| format!("approvals or conflicts for role `{r}`")),
    );
    for r in &case.relied {
        if to.transition(r.transition.as_str()).is_none() {
            lost.push(format!("the lock transition `{}` put on its fields", r.transition));
        }
        lost.extend(r.fields.iter().filter(|f| !to.fields.contains_key(*f)).map(|f| format!("a lock on field `{f}`")));
    }
    if !lost.is_empty() {
        return Err(invalid(format!(
            "case {} holds {}, which version {} does not declare: moving it would drop them",
            case.id,
            lost.join(", "),
            to.version
        )));
    }

    let mut decision = Decision::new(actor, now);
    decision.events.push(Event::Migrated {
        from_version: from.version,
        to_version: to.version,
        from_state: case.state.clone(),
        to_state: target.clone(),
    });
    let mut after = case.clone();
    after.apply(&decision);
    let history = |state: &StateId| -> Result<StateId, Refusal> {
        let name = states.get(state.as_str()).map_or(state.as_str(), String::as_str);
        to.states.get_key_value(name).map(|(id, _)| id.clone()).ok_or_else(|| {
            invalid(format!(
                "case {} passed through `{state}`, which version {} does not have: map it to one of its states (`--map {state}=<state>`)",
                case.id, to.version
            ))
        })
    };
    let visited = translate(&after.visited, &history)?;
    let mut relied = after.relied.clone();
    for r in &mut relied {
        r.from = history(&r.from)?;
        r.visited = translate(&r.visited, &history)?;
    }
    rearm(from, to, case, &after, now, &mut decision);
    let mut decided = Decided::of(case, decision);
    // The states it passed through and its locks, named as the new version names them.
    decided.after.visited = visited;
    decided.after.relied = relied;

    let mut impact = Vec::new();
    if target != case.state {
        impact.push(format!("moves from `{}` to `{target}`", case.state));
    }
    impact.extend(next_steps(from, to, case, &decided.after, now));
    impact.extend(timers(case, &decided));
    Ok(Migrated { decided, impact })
}

/// `states`, each as the new version names it, once each, in order.
fn translate(
    states: &[StateId],
    history: &dyn Fn(&StateId) -> Result<StateId, Refusal>,
) -> Result<Vec<StateId>, Refusal> {
    let mut out: Vec<StateId> = Vec::new();
    for s in states {
        let s = history(s)?;
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// Cancel every armed timer and arm the new version's timers of the state, counted from
/// when the case entered it. A timer armed under the same id, in the same state, whose
/// timing the new version does not change keeps its due time and count.
fn rearm(
    from: &Definition,
    to: &Definition,
    before: &CaseSnapshot,
    after: &CaseSnapshot,
    now: Timestamp,
    decision: &mut Decision,
) {
    let timing = |t: &crate::definition::Timer| format!("{:?} {:?} {:?}", t.trigger, t.every, t.limit);
    decision.cancel = before.timers.iter().map(|t| t.timer.clone()).collect();
    let ev = Evaluator::new(to, after, now);
    let entered = after.entered_at.to_zoned(to.timezone.clone());
    let same_state = before.state == after.state;
    for timer in to.timers_in(&after.state) {
        if timer.until.as_ref().is_some_and(|u| ev.holds(u)) {
            continue;
        }
        let unchanged = from.timer(timer.id.as_str()).is_some_and(|old| timing(old) == timing(timer));
        let kept = before.timers.iter().find(|a| a.timer == timer.id).filter(|_| same_state && unchanged);
        let armed = match (&timer.trigger, kept) {
            (_, Some(a)) => Some(a.clone()),
            (Trigger::OnEnter(_), None) => timer
                .every
                .as_ref()
                .filter(|_| timer.limit.is_none_or(|l| l > 1))
                .and_then(|every| every.add_to(&entered, to.calendar.as_deref()).ok())
                .map(|due| ArmedTimer { timer: timer.id.clone(), due_at: due.timestamp().max(now), occurrence: 1 }),
            (Trigger::After { after: d, .. }, None) => d
                .add_to(&entered, to.calendar.as_deref())
                .ok()
                .map(|due| ArmedTimer { timer: timer.id.clone(), due_at: due.timestamp().max(now), occurrence: 0 }),
            (Trigger::At { .. }, None) => crate::plan::at_due(to, after, timer).map(|due| ArmedTimer {
                timer: timer.id.clone(),
                due_at: due.max(now),
                occurrence: 0,
            }),
        };
        if let Some(a) = armed {
            decision.cancel.retain(|t| t != &a.timer);
            decision.arm.push(a);
        }
    }
}

/// The case's next steps that the move makes wait for a gate they did not wait for,
/// and the approvals it holds that would no longer count.
fn next_steps(
    from: &Definition,
    to: &Definition,
    before: &CaseSnapshot,
    after: &CaseSnapshot,
    now: Timestamp,
) -> Vec<String> {
    let mut out = Vec::new();
    let (old, new) = (Evaluator::new(from, before, now), Evaluator::new(to, after, now));
    for t in to.outgoing(&after.state) {
        let status = new.transition(t);
        if status.applies.is_err() {
            continue;
        }
        let was: Vec<String> = from
            .transition(t.id.as_str())
            .filter(|o| o.from.contains(&before.state))
            .map(|o| old.transition(o).unmet.iter().map(|u| u.gate.to_string()).collect())
            .unwrap_or_default();
        let newly: Vec<String> = status.unmet.iter().map(|u| u.gate.to_string()).filter(|g| !was.contains(g)).collect();
        if !newly.is_empty() {
            out.push(format!(
                "next step `{}` would wait for {}",
                t.id,
                newly.iter().map(|g| format!("`{g}`")).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    // Approvals given in this visit for a role no gate of the new state's next steps asks.
    let asked: Vec<&str> = to
        .outgoing(&after.state)
        .flat_map(|t| flatten(&t.gates))
        .filter_map(|g| match &g.kind {
            GateKind::Approval(a) => Some(a.role.as_str()),
            _ => None,
        })
        .collect();
    let mut dropped: BTreeMap<&str, usize> = BTreeMap::new();
    for a in before.approvals.iter().filter(|a| a.visit == before.visit && a.verdict == Verdict::Approve) {
        if after.visit != before.visit || !asked.contains(&a.role.as_str()) {
            *dropped.entry(a.role.as_str()).or_default() += 1;
        }
    }
    for (role, n) in dropped {
        out.push(format!("{n} approval{} by `{role}` would no longer count", if n == 1 { "" } else { "s" }));
    }
    out
}

/// Timers the move stops, starts or moves.
fn timers(before: &CaseSnapshot, decided: &Decided) -> Vec<String> {
    let mut out = Vec::new();
    for t in &before.timers {
        match decided.decision.arm.iter().find(|a| a.timer == t.timer) {
            None => out.push(format!("timer `{}` stops", t.timer)),
            Some(a) if a.due_at != t.due_at => {
                out.push(format!("timer `{}` due {} (was {})", t.timer, a.due_at, t.due_at))
            }
            Some(_) => {}
        }
    }
    for a in &decided.decision.arm {
        if !before.timers.iter().any(|t| t.timer == a.timer) {
            out.push(format!("timer `{}` starts, due {}", a.timer, a.due_at));
        }
    }
    out
}
