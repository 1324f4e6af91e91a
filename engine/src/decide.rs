//! `decide`: a command from an actor, against a case, at an instant, becomes a decision
//! (plain data for the shell to carry out) or a refusal. Nothing here does I/O.

use crate::access::holds_internal_role;
use crate::definition::{ApprovalGate, Definition, EvidenceKind, GateKind, Separation};
use crate::fields::{self, Input};

use crate::ids::RoleId;
use crate::plan;
use crate::snapshot::{Actor, ActorKind, Answer, CaseSnapshot, EvidenceContent};

pub use crate::decision::{Command, Decision, Event, Message, Problem, Refusal};
use jiff::Timestamp;
use std::collections::BTreeMap;

/// A decision with the case as it leaves it. The new case is worked out here, once: the
/// shell writes the decision and answers with `after`, and works out neither again.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    /// What to do.
    pub decision: Decision,
    /// The case after it (for a new case, its id is not yet known: 0).
    pub after: CaseSnapshot,
}

impl Decided {
    pub(crate) fn of(before: &CaseSnapshot, decision: Decision) -> Decided {
        let mut after = before.clone();
        after.apply(&decision);
        Decided { decision, after }
    }
}

/// Open a new case with `fields`.
pub fn open(def: &Definition, fields: &[(String, Input)], actor: &Actor, now: Timestamp) -> Result<Decided, Refusal> {
    if let Some(parent) = &def.parent {
        return Err(Refusal::Invalid(vec![Problem {
            field: Some("workflow".into()),
            message: format!(
                "a {} case is opened from a `{parent}` case, as one of its children (POST /api/cases/{{id}}/children), not on its own",
                def.title
            ),
        }]));
    }
    open_case(def, fields, actor, now)
}

/// [`open`], for a case on its own or a child its parent opens.
pub(crate) fn open_case(
    def: &Definition,
    fields: &[(String, Input)],
    actor: &Actor,
    now: Timestamp,
) -> Result<Decided, Refusal> {
    if actor.kind != ActorKind::User || !holds_internal_role(def, actor) {
        return Err(Refusal::NotAllowed(format!(
            "only members of this workflow's roles can open a {} case",
            def.title
        )));
    }
    let mut problems = Vec::new();
    let mut values = BTreeMap::new();
    for (name, input) in fields {
        match def.fields.get_key_value(name.as_str()) {
            None => problems.push(fields::unknown_field(def, name)),
            Some((id, field)) => match fields::check(field, input) {
                Ok(Some(v)) => {
                    values.insert(id.clone(), v);
                }
                Ok(None) => {}
                Err(m) => problems.push(Problem { field: Some(name.clone()), message: m }),
            },
        }
    }
    for (id, field) in &def.fields {
        if field.required
            && !values.contains_key(id)
            && !problems.iter().any(|p| p.field.as_deref() == Some(id.as_str()))
        {
            problems.push(Problem { field: Some(id.to_string()), message: "is required".into() });
        }
    }
    if !problems.is_empty() {
        return Err(Refusal::Invalid(problems));
    }
    let mut decision = Decision::new(actor, now);
    decision.events.push(Event::Opened { state: def.initial.clone(), fields: values });
    let blank = blank_case(def, actor, now);
    let mut opened = blank.clone();
    opened.apply(&decision);
    plan::enter_state(def, &opened, now, &mut decision);
    Ok(Decided::of(&blank, decision))
}

/// A child case opened from its parent (`children:`): the parent's decision (its
/// `ChildOpened`, which bumps its version, so a parent that moved on meanwhile, out of
/// the states that may open children say, is a conflict) and the child's own opening.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedChild {
    /// The parent's decision.
    pub parent: Decided,
    /// The child's.
    pub child: Decided,
    /// The group, and the child's number in it.
    pub group: String,
    /// Its number within the group, from 1.
    pub number: u32,
}

/// Open a child of `parent` in `group`, following `child_def`, with `fields`: while the
/// parent is in one of the group's `open_in` states, by a member of one of its `by`
/// roles who may open a case of the child workflow.
#[allow(clippy::too_many_arguments)]
pub fn open_child(
    def: &Definition,
    parent: &CaseSnapshot,
    group: &str,
    child_def: &Definition,
    fields: &[(String, Input)],
    actor: &Actor,
    now: Timestamp,
) -> Result<OpenedChild, Refusal> {
    let Some(g) = def.children.get(group) else {
        let hint = crate::diagnostics::did_you_mean(group, def.children.keys().map(|k| k.as_str()))
            .map(|c| format!("did you mean `{c}`?"));
        return Err(Refusal::NotFound { what: "kind of child case", id: group.to_string(), hint });
    };
    if child_def.id != g.workflow {
        return Err(Refusal::Invalid(vec![Problem {
            field: Some("workflow".into()),
            message: format!("{} follows `{}`, not `{}`", a_or_an(&g.one), g.workflow, child_def.id),
        }]));
    }
    if actor.kind != ActorKind::User || !g.by.iter().any(|r| actor.has_role(r.as_str())) {
        let roles: Vec<&str> = g.by.iter().map(|r| def.roles[r].title.as_str()).collect();
        return Err(Refusal::NotAllowed(format!(
            "only members of {} can open {}",
            roles.join(" or "),
            a_or_an(&g.one)
        )));
    }
    if !g.open_in.contains(&parent.state) {
        let states: Vec<String> = g.open_in.iter().map(|s| format!("`{s}`")).collect();
        return Err(Refusal::NotAvailable(format!(
            "{} can be opened only while the case is in {}; it is in `{}`",
            capitalise_first(&a_or_an(&g.one)),
            states.join(" or "),
            parent.state
        )));
    }
    let child = open_case(child_def, fields, actor, now)?;
    let number = parent.next_child(group);
    let mut decision = Decision::new(actor, now);
    decision.events.push(Event::ChildOpened { group: group.to_string(), number, state: child.after.state.clone() });
    Ok(OpenedChild { parent: Decided::of(parent, decision), child, group: group.to_string(), number })
}

/// "an application", "a tender".
fn a_or_an(noun: &str) -> String {
    let vowel = noun.chars().next().is_some_and(|c| "aeiouAEIOU".contains(c));
    format!("{} {noun}", if vowel { "an" } else { "a" })
}

fn capitalise_first(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// Decide what `command` means for `case`.
pub fn decide(
    def: &Definition,
    case: &CaseSnapshot,
    command: &Command,
    actor: &Actor,
    now: Timestamp,
) -> Result<Decided, Refusal> {
    let mut decision = Decision::new(actor, now);
    match command {
        Command::SetFields(values) => set_fields(def, case, values, actor, &mut decision)?,
        Command::Amend { fields, reason } => {
            let after = crate::locks::amend(def, case, fields, reason, actor, now, &mut decision)?;
            return Ok(Decided::of(case, crate::basis::tell_stale(def, case, &after, decision)));
        }
        Command::Attach { evidence, content } => attach(def, case, evidence, content, actor, &mut decision)?,
        Command::Approve { role, verdict, comment, meeting, conflict } => {
            let role = approval_role(def, case, role, actor)?;
            decision.events.push(Event::ApprovalRecorded {
                basis: Some(crate::basis::of(def, case, &role)),
                visit: case.visit,
                role,
                verdict: *verdict,
                comment: comment.clone(),
                meeting: meeting.clone(),
                conflict: conflict.clone(),
            });
        }
        Command::DeclareConflict { role, reason } => {
            let role = member_role(def, role, actor)?;
            if reason.trim().is_empty() {
                return Err(Refusal::Invalid(vec![Problem {
                    field: Some("reason".into()),
                    message: "is required".into(),
                }]));
            }
            decision.events.push(Event::ConflictDeclared { role, reason: reason.trim().to_string() });
        }
        Command::Reassign { to } => reassign(def, case, to, actor, &mut decision)?,
        Command::Transition { transition, expected_version } => {
            if let Some(expected) = expected_version
                && *expected != case.version
            {
                return Err(Refusal::Conflict { expected: *expected, actual: case.version });
            }
            plan::transition_to(def, case, transition, actor, now, &mut decision)?;
            return Ok(Decided::of(case, decision));
        }
        Command::FireTimer { timer } => {
            plan::fire(def, case, timer, now, &mut decision)?;
            return Ok(Decided::of(case, decision));
        }
    }
    // Evidence or fields may have made a timer's `until` hold, or moved an `at` date.
    let mut after = case.clone();
    after.apply(&decision);
    plan::replan(def, case, &after, now, &mut decision);
    Ok(Decided::of(case, crate::basis::tell_stale(def, case, &after, decision)))
}

fn set_fields(
    def: &Definition,
    case: &CaseSnapshot,
    values: &[(String, Input)],
    actor: &Actor,
    decision: &mut Decision,
) -> Result<(), Refusal> {
    if actor.kind != ActorKind::User || !holds_internal_role(def, actor) {
        return Err(Refusal::NotAllowed("only members of this workflow's roles can change a case's fields".into()));
    }
    let (set, cleared) = fields::changes(def, case, values)?;
    if let Some(locked) = set.keys().chain(&cleared).find_map(|f| case.locked_by(f).map(|r| (f, r))) {
        return Err(Refusal::NotAvailable(crate::locks::locked_message(def, locked.0, locked.1)));
    }
    decision.events.push(Event::FieldsSet { set, cleared });
    Ok(())
}

/// The case given to `to`, by a member of the workflow's roles, to a member of them.
fn reassign(
    def: &Definition,
    case: &CaseSnapshot,
    to: &Actor,
    actor: &Actor,
    decision: &mut Decision,
) -> Result<(), Refusal> {
    if actor.kind != ActorKind::User || !holds_internal_role(def, actor) {
        return Err(Refusal::NotAllowed("only members of this workflow's roles can reassign a case".into()));
    }
    if to.kind != ActorKind::User || !holds_internal_role(def, to) {
        return Err(Refusal::Invalid(vec![Problem {
            field: Some("owner".into()),
            message: format!("{} holds none of this workflow's roles, so cannot be responsible for its cases", to.id),
        }]));
    }
    if def.states[&case.state].terminal {
        return Err(Refusal::NotAvailable(format!("the case is closed (`{}`)", case.state)));
    }
    if to.id == case.owner {
        return Err(Refusal::NotAvailable(format!("{} is already responsible for the case", to.id)));
    }
    decision.events.push(Event::OwnerChanged { from: case.owner.clone(), to: to.id.clone() });
    Ok(())
}

fn attach(
    def: &Definition,
    case: &CaseSnapshot,
    evidence: &str,
    content: &EvidenceContent,
    actor: &Actor,
    decision: &mut Decision,
) -> Result<(), Refusal> {
    let Some((id, ev)) = def.evidence_kind(evidence) else {
        let hint = crate::diagnostics::did_you_mean(evidence, def.evidence.keys().map(|k| k.as_str()))
            .map(|c| format!("did you mean `{c}`?"));
        return Err(Refusal::NotFound { what: "evidence", id: evidence.to_string(), hint });
    };
    if def.states[&case.state].terminal {
        return Err(Refusal::NotAvailable(format!("the case is closed (`{}`)", case.state)));
    }
    let allowed = match (&ev.from, actor.kind) {
        (_, ActorKind::System) => false,
        (Some(role), _) => actor.has_role(role.as_str()),
        (None, ActorKind::User) => holds_internal_role(def, actor),
        (None, ActorKind::Link) => false,
    };
    if !allowed {
        let who = match &ev.from {
            Some(role) => def.roles[role].title.clone(),
            None => "members of this workflow's roles".into(),
        };
        return Err(Refusal::NotAllowed(format!("{} must come from {who}", ev.title)));
    }
    match (&ev.kind, content) {
        (EvidenceKind::Document, EvidenceContent::Document { .. }) => {}
        (EvidenceKind::Acknowledgement, EvidenceContent::Acknowledgement { .. }) => {}
        (EvidenceKind::Checklist(items), EvidenceContent::Checklist(answers)) => {
            let mut problems = Vec::new();
            for (k, (answer, _)) in answers {
                match items.iter().find(|item| item.id == *k) {
                    None => problems.push(Problem {
                        field: Some(k.clone()),
                        message: format!(
                            "is not an item of {} ({})",
                            ev.title,
                            crate::diagnostics::hint_for(k, "items", items.iter().map(|i| i.id.as_str()))
                        ),
                    }),
                    Some(item) if *answer == Answer::NotApplicable && !item.allow_na => problems.push(Problem {
                        field: Some(k.clone()),
                        message: format!("\"{}\" cannot be answered n/a: answer yes or no", item.label),
                    }),
                    Some(_) => {}
                }
            }
            if answers.is_empty() {
                problems.push(Problem { field: None, message: "answer at least one item".into() });
            }
            if !problems.is_empty() {
                return Err(Refusal::Invalid(problems));
            }
            // Answers add to earlier ones: a checklist can be filled in over several visits.
            if let Some(crate::snapshot::EvidenceRecord { content: EvidenceContent::Checklist(old), .. }) =
                case.evidence.get(id)
            {
                let mut merged: BTreeMap<String, (Answer, Option<String>)> = old.clone();
                merged.extend(answers.clone());
                decision.events.push(Event::EvidenceAttached {
                    evidence: id.clone(),
                    content: EvidenceContent::Checklist(merged),
                });
                return Ok(());
            }
        }
        (kind, _) => {
            return Err(Refusal::Invalid(vec![Problem {
                field: Some("type".into()),
                message: format!("{} is a {}, and takes {}", ev.title, kind.name(), content_name(kind)),
            }]));
        }
    }
    decision.events.push(Event::EvidenceAttached { evidence: id.clone(), content: content.clone() });
    Ok(())
}

fn content_name(kind: &EvidenceKind) -> &'static str {
    match kind {
        EvidenceKind::Document => "a file",
        EvidenceKind::Checklist(_) => "answers",
        EvidenceKind::Acknowledgement => "an acknowledgement",
    }
}

/// The role, if the actor is a member and a gate in the current state needs its approval.
fn approval_role(def: &Definition, case: &CaseSnapshot, role: &str, actor: &Actor) -> Result<RoleId, Refusal> {
    let id = member_role(def, role, actor)?;
    let mut leaves = Vec::new();
    for t in def.outgoing(&case.state) {
        t.gates.iter().for_each(|g| g.leaves(&mut leaves));
    }
    let asks: Vec<&ApprovalGate> = leaves
        .into_iter()
        .filter_map(|g| match &g.kind {
            GateKind::Approval(a) if a.role == id => Some(a),
            _ => None,
        })
        .collect();
    if asks.is_empty() {
        return Err(Refusal::NotAvailable(format!(
            "nothing in `{}` needs approval from {}",
            case.state, def.roles[&id].title
        )));
    }
    // Separation of duties: an approval that no gate could count is refused, saying why,
    // rather than recorded and silently ignored.
    let barred = |a: &ApprovalGate| -> Option<Separation> {
        a.not_by
            .iter()
            .find(|s| match s {
                Separation::Submitter => case.entered_by == actor.id,
                Separation::Creator => case.created_by == actor.id,
            })
            .copied()
    };
    // A member who declared a conflict of interest for the role on this case does not
    // count toward its quorum: their approval is refused, saying why, for the same reason.
    if let Some(declared) = case.conflicts.iter().find(|c| c.role == id && c.by == actor.id) {
        return Err(Refusal::NotAllowed(format!(
            "you declared a conflict of interest as {} on this case ({}), so your approval cannot count; \
             another member must decide",
            def.roles[&id].title, declared.reason
        )));
    }
    if let Some(why) = asks.iter().map(|a| barred(a)).collect::<Option<Vec<_>>>().and_then(|w| w.first().copied()) {
        let what = match why {
            Separation::Submitter => "submitted this case for decision",
            Separation::Creator => "opened this case",
        };
        return Err(Refusal::NotAllowed(format!(
            "you {what}, so your approval as {} cannot count (separation of duties); another member must decide",
            def.roles[&id].title
        )));
    }
    Ok(id)
}

fn member_role(def: &Definition, role: &str, actor: &Actor) -> Result<RoleId, Refusal> {
    let Some((id, r)) = def.role(role) else {
        let hint = crate::diagnostics::did_you_mean(role, def.roles.keys().map(|k| k.as_str()))
            .map(|c| format!("did you mean `{c}`?"));
        return Err(Refusal::NotFound { what: "role", id: role.to_string(), hint });
    };
    if actor.kind != ActorKind::User || !actor.has_role(role) {
        return Err(Refusal::NotAllowed(format!("only members of {} can do this", r.title)));
    }
    Ok(id.clone())
}

/// A case before its `Opened` event.
pub fn blank_case(def: &Definition, actor: &Actor, now: Timestamp) -> CaseSnapshot {
    CaseSnapshot::blank(def.initial.clone(), actor, now)
}
