//! `decide`: a command from an actor, against a case, at an instant, becomes a decision
//! (plain data for the shell to carry out) or a refusal. Nothing here does I/O.

use crate::access::holds_internal_role;
use crate::definition::{ApprovalGate, Definition, EvidenceKind, GateKind, Separation};
use crate::fields::{self, Input};
use crate::gates::{Evaluator, Unmet};
use crate::ids::{EvidenceId, FieldId, RoleId, StateId, TemplateName, TimerId, TransitionId};
use crate::plan;
use crate::snapshot::{
    Actor, ActorKind, Answer, ArmedTimer, CaseSnapshot, EvidenceContent, FieldValue, Meeting, Verdict,
};
use jiff::Timestamp;
use jiff::civil::Date;
use std::collections::BTreeMap;

/// What someone asks the engine to do to a case.
#[derive(Debug, Clone)]
pub enum Command {
    /// Set (or clear, with `Input::Null`) fields.
    SetFields(Vec<(String, Input)>),
    /// Change fields that may be locked, as the workflow's `amend:` allows, saying why.
    Amend {
        /// The new values.
        fields: Vec<(String, Input)>,
        /// Why: required, kept in the audit trail.
        reason: String,
    },
    /// Attach evidence: a stored document, checklist answers, or an acknowledgement.
    Attach {
        /// The evidence id.
        evidence: String,
        /// What is attached.
        content: EvidenceContent,
    },
    /// Approve or reject for a role.
    Approve {
        /// The role approving.
        role: String,
        /// Approve or reject.
        verdict: Verdict,
        /// Why.
        comment: Option<String>,
        /// The meeting it was given at.
        meeting: Option<Meeting>,
        /// A conflict of interest the approver declares with it.
        conflict: Option<String>,
    },
    /// Declare a conflict of interest for a role on this case.
    DeclareConflict {
        /// The role.
        role: String,
        /// Why.
        reason: String,
    },
    /// Move the case.
    Transition {
        /// The transition id.
        transition: String,
        /// The case version the requester saw; a different one is a conflict.
        expected_version: Option<i64>,
    },
    /// A due timer fires (the scheduler's command).
    FireTimer {
        /// The timer id.
        timer: String,
    },
}

/// Something that happened to a case, for the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The case was opened.
    Opened {
        /// Initial state.
        state: StateId,
        /// Initial fields.
        fields: BTreeMap<FieldId, FieldValue>,
    },
    /// Fields changed.
    FieldsSet {
        /// New values.
        set: BTreeMap<FieldId, FieldValue>,
        /// Fields cleared.
        cleared: Vec<FieldId>,
    },
    /// Fields amended: changed although a taken transition relied on them.
    Amended {
        /// New values.
        set: BTreeMap<FieldId, FieldValue>,
        /// Fields cleared.
        cleared: Vec<FieldId>,
        /// Each changed field's value before (`None`: it was not set).
        previous: BTreeMap<FieldId, Option<FieldValue>>,
        /// Why.
        reason: String,
        /// The rules the new values would have failed, which sent the case back.
        broken: Vec<String>,
        /// Where the case was sent back to, when it was.
        back_to: Option<StateId>,
    },
    /// Evidence attached (replacing any earlier one of the same kind).
    EvidenceAttached {
        /// Which.
        evidence: EvidenceId,
        /// What.
        content: EvidenceContent,
    },
    /// An approval or rejection.
    ApprovalRecorded {
        /// For which role.
        role: RoleId,
        /// Approve or reject.
        verdict: Verdict,
        /// Comment.
        comment: Option<String>,
        /// Meeting.
        meeting: Option<Meeting>,
        /// Declared conflict of interest.
        conflict: Option<String>,
        /// What it approved ([`crate::basis`]).
        basis: Option<crate::snapshot::Basis>,
    },
    /// A conflict of interest declared.
    ConflictDeclared {
        /// For which role.
        role: RoleId,
        /// Why.
        reason: String,
    },
    /// The case moved.
    Transitioned {
        /// Which transition.
        transition: TransitionId,
        /// From.
        from: StateId,
        /// To.
        to: StateId,
        /// The fields its `when` and rules read, locked from now on.
        relied_on: Vec<FieldId>,
    },
    /// A timer fired.
    TimerFired {
        /// Which.
        timer: TimerId,
        /// The how-many-th firing in this visit (1-based).
        occurrence: u32,
    },
    /// A timer stopped because its `until` holds, or its state was left.
    TimerStopped {
        /// Which.
        timer: TimerId,
        /// Why.
        reason: String,
    },
    /// A timer asked for a transition that was blocked.
    TransitionBlocked {
        /// Which.
        transition: TransitionId,
        /// What stopped it, in words.
        reason: String,
    },
}

impl Event {
    /// A stable name for the audit trail.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Opened { .. } => "opened",
            Event::FieldsSet { .. } => "fields_set",
            Event::Amended { .. } => "amended",
            Event::EvidenceAttached { .. } => "evidence_attached",
            Event::ApprovalRecorded { .. } => "approval_recorded",
            Event::ConflictDeclared { .. } => "conflict_declared",
            Event::Transitioned { .. } => "transitioned",
            Event::TimerFired { .. } => "timer_fired",
            Event::TimerStopped { .. } => "timer_stopped",
            Event::TransitionBlocked { .. } => "transition_blocked",
        }
    }
}

/// A message to send once the decision is committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Recipient roles (the shell finds their addresses).
    pub to: Vec<RoleId>,
    /// Template.
    pub template: TemplateName,
    /// The timer that sent it; `None` for a message of Gatehouse's own (an approval gone
    /// stale).
    pub timer: Option<TimerId>,
    /// Unique within the case: `<visit>/<timer>/<occurrence>`. With the case id it is the
    /// outbox's idempotency key.
    pub key: String,
    /// The date something is asked for by, when there is one.
    pub deadline: Option<Date>,
}

/// What to do: plain data, applied by the shell in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Who acted.
    pub actor: String,
    /// When.
    pub at: Timestamp,
    /// Audit events, in order.
    pub events: Vec<Event>,
    /// Timers to arm (replacing any armed timer with the same id).
    pub arm: Vec<ArmedTimer>,
    /// Timers to cancel.
    pub cancel: Vec<TimerId>,
    /// Messages to send after commit.
    pub messages: Vec<Message>,
}

impl Decision {
    fn new(actor: &Actor, at: Timestamp) -> Decision {
        Decision {
            actor: actor.id.clone(),
            at,
            events: Vec::new(),
            arm: Vec::new(),
            cancel: Vec::new(),
            messages: Vec::new(),
        }
    }

    /// The state the case is in after this decision, if it moved.
    pub fn new_state(&self) -> Option<&StateId> {
        self.events.iter().rev().find_map(|e| match e {
            Event::Transitioned { to, .. } => Some(to),
            Event::Opened { state, .. } => Some(state),
            _ => None,
        })
    }
}

/// Why a command was refused, grouped by what the caller must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The input is wrong: fix it. Each problem names the field or item at fault.
    Invalid(Vec<Problem>),
    /// Something named does not exist in this workflow.
    NotFound {
        /// What kind of thing (`transition`, `evidence`, `role`, `field`, `timer`).
        what: &'static str,
        /// The id given.
        id: String,
        /// A suggestion.
        hint: Option<String>,
    },
    /// The actor may not do this.
    NotAllowed(String),
    /// Not possible in the case's current situation (wrong state, `when` false...).
    NotAvailable(String),
    /// The transition's gates do not hold.
    Blocked {
        /// The transition.
        transition: TransitionId,
        /// Every unmet gate.
        unmet: Vec<Unmet>,
    },
    /// The case changed since the requester looked at it.
    Conflict {
        /// The version the requester saw.
        expected: i64,
        /// The current version.
        actual: i64,
    },
}

/// One thing wrong with the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field or item at fault.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Invalid(problems) => {
                let parts: Vec<String> = problems
                    .iter()
                    .map(|p| match &p.field {
                        Some(field) => format!("{field}: {}", p.message),
                        None => p.message.clone(),
                    })
                    .collect();
                write!(f, "invalid: {}", parts.join("; "))
            }
            Refusal::NotFound { what, id, hint } => {
                write!(f, "unknown {what} `{id}`")?;
                if let Some(h) = hint {
                    write!(f, " ({h})")?;
                }
                Ok(())
            }
            Refusal::NotAllowed(m) => write!(f, "not allowed: {m}"),
            Refusal::NotAvailable(m) => write!(f, "not available: {m}"),
            Refusal::Blocked { transition, unmet } => {
                let parts: Vec<String> = unmet.iter().map(|u| format!("{}: {}", u.gate, u.message)).collect();
                write!(f, "`{transition}` is blocked: {}", parts.join("; "))
            }
            Refusal::Conflict { expected, actual } => {
                write!(f, "the case changed: you saw version {expected}, it is now at version {actual}")
            }
        }
    }
}

/// Open a new case with `fields`.
pub fn open(def: &Definition, fields: &[(String, Input)], actor: &Actor, now: Timestamp) -> Result<Decision, Refusal> {
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
            None => problems.push(unknown_field(def, name)),
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
    let mut after = blank_case(def, actor, now);
    after.apply(&decision);
    plan::enter_state(def, &after, now, &mut decision);
    Ok(decision)
}

/// Decide what `command` means for `case`.
pub fn decide(
    def: &Definition,
    case: &CaseSnapshot,
    command: &Command,
    actor: &Actor,
    now: Timestamp,
) -> Result<Decision, Refusal> {
    let mut decision = Decision::new(actor, now);
    match command {
        Command::SetFields(values) => set_fields(def, case, values, actor, &mut decision)?,
        Command::Amend { fields, reason } => {
            crate::locks::amend(def, case, fields, reason, actor, now, &mut decision)?;
            return Ok(crate::basis::tell_stale(def, case, decision));
        }
        Command::Attach { evidence, content } => attach(def, case, evidence, content, actor, &mut decision)?,
        Command::Approve { role, verdict, comment, meeting, conflict } => {
            let role = approval_role(def, case, role, actor)?;
            decision.events.push(Event::ApprovalRecorded {
                basis: Some(crate::basis::of(def, case, &role)),
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
        Command::Transition { transition, expected_version } => {
            if let Some(expected) = expected_version
                && *expected != case.version
            {
                return Err(Refusal::Conflict { expected: *expected, actual: case.version });
            }
            transition_to(def, case, transition, actor, now, &mut decision)?;
            return Ok(decision);
        }
        Command::FireTimer { timer } => {
            plan::fire(def, case, timer, now, &mut decision)?;
            return Ok(decision);
        }
    }
    // Evidence or fields may have made a timer's `until` hold, or moved an `at` date.
    let mut after = case.clone();
    after.apply(&decision);
    plan::replan(def, case, &after, now, &mut decision);
    Ok(crate::basis::tell_stale(def, case, decision))
}

/// Request `transition` as `actor`, adding its events and timer changes to `decision`.
pub(crate) fn transition_to(
    def: &Definition,
    case: &CaseSnapshot,
    transition: &str,
    actor: &Actor,
    now: Timestamp,
    decision: &mut Decision,
) -> Result<(), Refusal> {
    let Some(t) = def.transition(transition) else {
        let hint = crate::diagnostics::did_you_mean(transition, def.transitions.iter().map(|t| t.id.as_str()))
            .map(|c| format!("did you mean `{c}`?"));
        return Err(Refusal::NotFound { what: "transition", id: transition.to_string(), hint });
    };
    if !t.from.contains(&case.state) {
        let from: Vec<&str> = t.from.iter().map(|s| s.as_str()).collect();
        return Err(Refusal::NotAvailable(format!(
            "the case is in `{}`; `{}` leaves from {}",
            case.state,
            t.id,
            from.join(", ")
        )));
    }
    crate::access::may_request(def, t, actor).map_err(Refusal::NotAllowed)?;
    let status = Evaluator::new(def, case, now).transition(t);
    if let Err(reason) = status.applies {
        return Err(Refusal::NotAvailable(format!("`{}` {reason}", t.id)));
    }
    if !status.unmet.is_empty() {
        return Err(Refusal::Blocked { transition: t.id.clone(), unmet: status.unmet });
    }
    decision.events.push(Event::Transitioned {
        transition: t.id.clone(),
        from: case.state.clone(),
        to: t.to.clone(),
        relied_on: t.fields_read(def),
    });
    for armed in &case.timers {
        if !decision.cancel.contains(&armed.timer) {
            decision.cancel.push(armed.timer.clone());
        }
    }
    decision.arm.clear();
    let mut after = case.clone();
    after.apply(decision);
    plan::enter_state(def, &after, now, decision);
    Ok(())
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
    let (set, cleared) = changes(def, case, values)?;
    if let Some(locked) = set.keys().chain(&cleared).find_map(|f| case.locked_by(f).map(|r| (f, r))) {
        return Err(Refusal::NotAvailable(crate::locks::locked_message(def, locked.0, locked.1)));
    }
    decision.events.push(Event::FieldsSet { set, cleared });
    Ok(())
}

/// The fields `values` would change on `case`, checked against their types: new
/// values, and fields cleared. Refused when a value is wrong, the case is closed, or
/// nothing would change.
pub(crate) fn changes(
    def: &Definition,
    case: &CaseSnapshot,
    values: &[(String, Input)],
) -> Result<(BTreeMap<FieldId, FieldValue>, Vec<FieldId>), Refusal> {
    if def.states[&case.state].terminal {
        return Err(Refusal::NotAvailable(format!("the case is closed (`{}`)", case.state)));
    }
    let mut problems = Vec::new();
    let mut set = BTreeMap::new();
    let mut cleared = Vec::new();
    for (name, input) in values {
        match def.fields.get_key_value(name.as_str()) {
            None => problems.push(unknown_field(def, name)),
            Some((id, field)) => match fields::check(field, input) {
                Ok(Some(v)) => {
                    if case.fields.get(id) != Some(&v) {
                        set.insert(id.clone(), v);
                    }
                }
                Ok(None) => {
                    if case.fields.contains_key(id) {
                        cleared.push(id.clone());
                    }
                }
                Err(m) => problems.push(Problem { field: Some(name.clone()), message: m }),
            },
        }
    }
    if !problems.is_empty() {
        return Err(Refusal::Invalid(problems));
    }
    if set.is_empty() && cleared.is_empty() {
        return Err(Refusal::NotAvailable("nothing to change: the fields already hold these values".into()));
    }
    Ok((set, cleared))
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

fn unknown_field(def: &Definition, name: &str) -> Problem {
    Problem {
        field: Some(name.to_string()),
        message: format!(
            "is not a field of this workflow ({})",
            crate::diagnostics::hint_for(name, "fields", def.fields.keys().map(|k| k.as_str()))
        ),
    }
}

/// A case before its `Opened` event.
pub fn blank_case(def: &Definition, actor: &Actor, now: Timestamp) -> CaseSnapshot {
    CaseSnapshot {
        id: 0,
        state: def.initial.clone(),
        version: 0,
        visit: 0,
        fields: BTreeMap::new(),
        evidence: BTreeMap::new(),
        approvals: Vec::new(),
        conflicts: Vec::new(),
        created_by: actor.id.clone(),
        created_at: now,
        entered_by: actor.id.clone(),
        entered_at: now,
        timers: Vec::new(),
        relied: Vec::new(),
        visited: Vec::new(),
    }
}
