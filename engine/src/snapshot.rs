//! What the engine knows about one case when it decides: its state, data, evidence,
//! approvals and armed timers. The store loads it; the scenario runner keeps one in
//! memory. `apply` is the only place that says how a decision changes a case.

use crate::decision::{Decision, Event};
use crate::ids::{EvidenceId, FieldId, RoleId, StateId, TransitionId};
use jiff::Timestamp;
use std::collections::BTreeMap;

pub use crate::values::{Actor, ActorKind, Answer, ArmedTimer, Basis, EvidenceContent, FieldValue, Meeting, Verdict};

/// A piece of evidence a case holds (the current one of its type).
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceRecord {
    /// Which evidence kind.
    pub evidence: EvidenceId,
    /// Content.
    pub content: EvidenceContent,
    /// Who attached it.
    pub by: String,
    /// When.
    pub at: Timestamp,
}

/// A recorded approval or rejection.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRecord {
    /// The role it was given for.
    pub role: RoleId,
    /// Approve or reject.
    pub verdict: Verdict,
    /// Who.
    pub by: String,
    /// When.
    pub at: Timestamp,
    /// The visit of the state it was given in: approvals count only in that visit.
    pub visit: u32,
    /// A comment.
    pub comment: Option<String>,
    /// The meeting it was given at.
    pub meeting: Option<Meeting>,
    /// A conflict of interest declared with it (the approval then does not count).
    pub conflict: Option<String>,
    /// What it approved: each fact it rests on, as it was (`basis`). `None` for
    /// approvals recorded before approvals were bound to what they saw.
    pub basis: Option<Basis>,
}

/// A taken transition that relied on fields: they are locked until the case returns to
/// a state it had been in before the transition was taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Reliance {
    /// The transition.
    pub transition: TransitionId,
    /// The state it was taken from.
    pub from: StateId,
    /// The visit of that state.
    pub visit: u32,
    /// The fields its `when` and rules read.
    pub fields: Vec<FieldId>,
    /// When it was taken.
    pub at: Timestamp,
    /// The states the case had been in when it was taken (`from` among them): entering
    /// one of them again releases it.
    pub visited: Vec<StateId>,
}

/// A declared conflict of interest: the member does not count toward that role's quorum
/// on this case.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictRecord {
    /// The role.
    pub role: RoleId,
    /// The member.
    pub by: String,
    /// Why.
    pub reason: String,
    /// When.
    pub at: Timestamp,
}

/// A child case as its parent sees it (`children:`): loaded with the parent, never
/// written with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildCase {
    /// Its id in the store (0 until it is stored).
    pub id: i64,
    /// The group it belongs to.
    pub group: String,
    /// Its number within the group, from 1.
    pub number: u32,
    /// The state it is in, in its own workflow.
    pub state: String,
}

/// The case a child case was opened from (`parent:`), as the child's letters read it:
/// loaded with the child each time, so they read the parent's fields as they stand.
#[derive(Debug, Clone, PartialEq)]
pub struct ParentCase {
    /// Its id in the store.
    pub id: i64,
    /// Its workflow's id.
    pub workflow: String,
    /// The state it is in.
    pub state: StateId,
    /// That state's title in its workflow.
    pub state_title: String,
    /// Its fields that are set, as people see them in a letter (dates in words).
    pub fields: BTreeMap<String, String>,
}

/// One case as the engine sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseSnapshot {
    /// The case's id in the store (0 before it is stored).
    pub id: i64,
    /// Current state.
    pub state: StateId,
    /// Compare-and-set version; bumped by every applied decision.
    pub version: i64,
    /// Number of transitions so far; approvals belong to a visit.
    pub visit: u32,
    /// Field values that are set.
    pub fields: BTreeMap<FieldId, FieldValue>,
    /// Current evidence, one per evidence kind.
    pub evidence: BTreeMap<EvidenceId, EvidenceRecord>,
    /// Approvals and rejections, all visits.
    pub approvals: Vec<ApprovalRecord>,
    /// Declared conflicts of interest.
    pub conflicts: Vec<ConflictRecord>,
    /// Who opened the case.
    pub created_by: String,
    /// When.
    pub created_at: Timestamp,
    /// The commissioner responsible for the case, whom its letters name: who opened it,
    /// until it is reassigned.
    pub owner: String,
    /// Who made the transition into the current state (the creator, initially).
    pub entered_by: String,
    /// When the case entered the current state.
    pub entered_at: Timestamp,
    /// Armed timers, in the order they fall due ([`CaseSnapshot::order_timers`]).
    pub timers: Vec<ArmedTimer>,
    /// Taken transitions that relied on fields, oldest first: what locks fields.
    pub relied: Vec<Reliance>,
    /// Every state the case has been in, in the order first entered.
    pub visited: Vec<StateId>,
    /// Its child cases (`children:`), by group and number: read with the case from the
    /// children's own rows, as the gates on them need.
    pub children: Vec<ChildCase>,
    /// The case it was opened from, for a child case (`parent:`): read with the case.
    pub parent: Option<ParentCase>,
}

impl CaseSnapshot {
    /// A case in `state` before its `Opened` event, opened by `actor` at `now`.
    pub fn blank(state: StateId, actor: &Actor, now: Timestamp) -> CaseSnapshot {
        CaseSnapshot {
            id: 0,
            state,
            version: 0,
            visit: 0,
            fields: BTreeMap::new(),
            evidence: BTreeMap::new(),
            approvals: Vec::new(),
            conflicts: Vec::new(),
            created_by: actor.id.clone(),
            created_at: now,
            owner: actor.id.clone(),
            entered_by: actor.id.clone(),
            entered_at: now,
            timers: Vec::new(),
            relied: Vec::new(),
            visited: Vec::new(),
            children: Vec::new(),
            parent: None,
        }
    }

    /// The snapshot after `decision`: the single definition of how events change a case.
    pub fn apply(&mut self, decision: &Decision) {
        for event in &decision.events {
            self.apply_event(event, &decision.actor, decision.at);
        }
        self.timers.retain(|t| !decision.cancel.contains(&t.timer));
        for arm in &decision.arm {
            self.timers.retain(|t| t.timer != arm.timer);
            self.timers.push(arm.clone());
        }
        self.order_timers();
        self.version += 1;
    }

    /// The next number of a child in `group`.
    pub fn next_child(&self, group: &str) -> u32 {
        self.children.iter().filter(|c| c.group == group).map(|c| c.number).max().unwrap_or(0) + 1
    }

    /// The reliance that locks `field`, the earliest when several do.
    pub fn locked_by(&self, field: &FieldId) -> Option<&Reliance> {
        self.relied.iter().find(|r| r.fields.contains(field))
    }

    /// The case enters `state`. When it had been there before, what was relied on since
    /// it was is released: that part of the case is being done again, and the transitions
    /// that relied on it will be checked again when they are taken again.
    fn enter(&mut self, state: &StateId, actor: &str, at: Timestamp) {
        self.relied.retain(|r| !r.visited.contains(state));
        if !self.visited.contains(state) {
            self.visited.push(state.clone());
        }
        self.state = state.clone();
        self.visit += 1;
        self.entered_by = actor.to_string();
        self.entered_at = at;
    }

    /// Put the armed timers in the order they fall due (then by id): the one order of
    /// a case's timers, however they were armed or read back.
    pub fn order_timers(&mut self) {
        self.timers.sort_by(|a, b| (a.due_at, &a.timer).cmp(&(b.due_at, &b.timer)));
    }

    fn apply_event(&mut self, event: &Event, actor: &str, at: Timestamp) {
        match event {
            Event::Opened { state, fields } => {
                self.visited = vec![state.clone()];
                self.state = state.clone();
                self.fields = fields.clone();
                self.created_by = actor.to_string();
                self.created_at = at;
                self.owner = actor.to_string();
                self.entered_by = actor.to_string();
                self.entered_at = at;
            }
            Event::FieldsSet { set, cleared } => self.set_fields(set, cleared),
            Event::Amended { set, cleared, back_to, .. } => {
                self.set_fields(set, cleared);
                if let Some(state) = back_to {
                    self.enter(state, actor, at);
                }
            }
            Event::EvidenceAttached { evidence, content } => {
                let record =
                    EvidenceRecord { evidence: evidence.clone(), content: content.clone(), by: actor.to_string(), at };
                self.evidence.insert(evidence.clone(), record);
            }
            Event::ApprovalRecorded { role, verdict, comment, meeting, conflict, basis, visit } => {
                self.approvals.push(ApprovalRecord {
                    role: role.clone(),
                    verdict: *verdict,
                    by: actor.to_string(),
                    at,
                    visit: *visit,
                    comment: comment.clone(),
                    meeting: meeting.clone(),
                    conflict: conflict.clone(),
                    basis: basis.clone(),
                });
            }
            Event::OwnerChanged { to, .. } => self.owner = to.clone(),
            Event::ChildOpened { group, number, state } => {
                self.children.push(ChildCase { id: 0, group: group.clone(), number: *number, state: state.to_string() })
            }
            Event::ConflictDeclared { role, reason } => {
                self.conflicts.push(ConflictRecord {
                    role: role.clone(),
                    by: actor.to_string(),
                    reason: reason.clone(),
                    at,
                });
            }
            Event::Transitioned { transition, from, to, relied_on } => {
                if !relied_on.is_empty() {
                    self.relied.push(Reliance {
                        transition: transition.clone(),
                        from: from.clone(),
                        visit: self.visit,
                        fields: relied_on.clone(),
                        at,
                        visited: self.visited.clone(),
                    });
                }
                // A transition back to a state the case had been in releases what it relied
                // on too: it closes a round (a funding change applied, a breach resolved).
                self.enter(to, actor, at);
            }
            // Into another state: a new visit, as a transition makes one, so approvals
            // given in the old state do not count in the new. In the same state, what
            // was given stands and the new version's gates judge it.
            Event::Migrated { from_state, to_state, .. } if from_state != to_state => self.enter(to_state, actor, at),
            Event::Migrated { .. } => {}
            Event::TimerFired { .. } | Event::TimerStopped { .. } | Event::TransitionBlocked { .. } => {}
        }
    }

    fn set_fields(&mut self, set: &BTreeMap<FieldId, FieldValue>, cleared: &[FieldId]) {
        for (k, v) in set {
            self.fields.insert(k.clone(), v.clone());
        }
        for k in cleared {
            self.fields.remove(k);
        }
    }
}
