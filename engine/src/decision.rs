//! What a command becomes: a `Decision` (the events to record, timers to arm and cancel,
//! messages to send), or a `Refusal` saying why not. Plain data, made by `decide` and
//! applied by `CaseSnapshot::apply` and the store.

use crate::ids::{EvidenceId, FieldId, GateId, RoleId, StateId, TemplateName, TimerId, TransitionId};
use crate::values::{Actor, ArmedTimer, Basis, EvidenceContent, FieldValue, Input, Meeting, Verdict};
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
    /// Make `to` the commissioner responsible for the case (its owner).
    Reassign {
        /// The new owner, with the roles they hold.
        to: Actor,
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
        /// What it approved (`basis`).
        basis: Option<Basis>,
        /// The visit of the state it was given in: it counts only in that visit.
        visit: u32,
    },
    /// The case was given to another commissioner to be responsible for.
    OwnerChanged {
        /// The owner before.
        from: String,
        /// The owner now.
        to: String,
    },
    /// A child case was opened (`children:`): the first event of the child is its own
    /// `Opened`.
    ChildOpened {
        /// Its group.
        group: String,
        /// Its number within the group.
        number: u32,
        /// The state it starts in.
        state: StateId,
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
    /// The case moved to another version of its workflow (`gatehouse cases migrate`),
    /// into `to_state` (its own state, or the one a mapping names).
    Migrated {
        /// The version it was on.
        from_version: u32,
        /// The version it is on now.
        to_version: u32,
        /// The state it was in.
        from_state: StateId,
        /// The state it is in now.
        to_state: StateId,
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
            Event::OwnerChanged { .. } => "owner_changed",
            Event::ChildOpened { .. } => "child_opened",
            Event::Transitioned { .. } => "transitioned",
            Event::TimerFired { .. } => "timer_fired",
            Event::TimerStopped { .. } => "timer_stopped",
            Event::TransitionBlocked { .. } => "transition_blocked",
            Event::Migrated { .. } => "migrated",
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
    pub(crate) fn new(actor: &Actor, at: Timestamp) -> Decision {
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

impl std::fmt::Display for Problem {
    /// "field: message", or the message alone when no field is at fault.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl Problem {
    /// Problems as one line: each "field: message", separated by "; ".
    pub fn joined(problems: &[Problem]) -> String {
        problems.iter().map(Problem::to_string).collect::<Vec<_>>().join("; ")
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Invalid(problems) => write!(f, "invalid: {}", Problem::joined(problems)),
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

/// A gate that does not hold, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Unmet {
    /// The gate's id.
    pub gate: GateId,
    /// `evidence`, `checklist`, `approval`, `rule`, `any`.
    pub kind: &'static str,
    /// A sentence for people.
    pub message: String,
    /// The gate's citation.
    pub source: Option<String>,
}
