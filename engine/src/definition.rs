//! A checked workflow definition. Holding a `Definition` means every reference in it
//! resolves: gate evidence ids exist, transitions go between declared states, CEL
//! compiles and names only declared fields, templates exist.

use crate::calendar::Calendar;
use crate::duration::Duration;
use crate::expr::Expr;
use crate::ids::{EvidenceId, FieldId, GateId, RoleId, StateId, TemplateName, TimerId, TransitionId};
pub use crate::values::{FieldType, ParamValue};
use indexmap::IndexMap;
use std::sync::Arc;

/// A workflow, parsed and checked.
#[derive(Debug, Clone)]
pub struct Definition {
    /// Stable id (`lcc-decommissioning`).
    pub id: String,
    /// Bumped whenever the file changes.
    pub version: u32,
    /// Human title.
    pub title: String,
    /// The organisation that runs it and signs its letters (`organisation:`; the title
    /// when not given).
    pub organisation: String,
    /// Longer description for the policy document.
    pub description: Option<String>,
    /// The document the workflow implements.
    pub source: Option<String>,
    /// IANA name of the zone all dates and timers are in.
    pub timezone_name: String,
    /// The zone itself.
    pub timezone: jiff::tz::TimeZone,
    /// The working-day calendar, when the workflow names one.
    pub calendar: Option<Arc<Calendar>>,
    /// Values the workflow sets (thresholds), readable from CEL as `params.<id>`.
    pub params: IndexMap<String, ParamValue>,
    /// Where each param's value comes from: a cited paragraph, or a local choice.
    pub param_origins: IndexMap<String, Origin>,
    /// Roles, in file order.
    pub roles: IndexMap<RoleId, Role>,
    /// Typed case fields, in file order.
    pub fields: IndexMap<FieldId, Field>,
    /// Evidence kinds, in file order.
    pub evidence: IndexMap<EvidenceId, Evidence>,
    /// States, in file order.
    pub states: IndexMap<StateId, State>,
    /// The state a new case starts in.
    pub initial: StateId,
    /// Transitions, in file order.
    pub transitions: Vec<Transition>,
    /// Per-case timers.
    pub timers: Vec<Timer>,
    /// Workflow-wide schedules.
    pub schedules: Vec<Schedule>,
    /// Every template name a message of this workflow uses.
    pub templates: Vec<TemplateName>,
    /// The text of each template it uses that the library holds, for scenarios to
    /// render the letters they send.
    pub letters: std::collections::BTreeMap<TemplateName, crate::templates::TemplateSource>,
    /// Mutants declared equivalent (`mutants: equivalent:`): the change each describes,
    /// as `gatehouse test --mutants` prints it, and why no scenario can notice it.
    pub equivalent_mutants: Vec<(String, String)>,
    /// Who may amend a field a taken transition relied on, for fields that do not say
    /// (`amend:` at the top level); `None`: such fields cannot be amended.
    pub amend: Option<Amend>,
    /// Which fields hold the case's contract, and the notice it must be given
    /// (`contract:`), when the workflow is about a contract.
    pub contract: Option<crate::contract::Contract>,
    /// The kinds of child case a case of this workflow opens (`children:`): one per
    /// applicant of a grant round, one per bidder of a tender.
    pub children: IndexMap<String, ChildGroup>,
    /// The workflow whose cases open this one's (`parent:`): a case of it is opened only
    /// as a child of one of theirs, and its letters may read the parent's fields
    /// (`parent.fields.<id>`).
    pub parent: Option<String>,
    /// sha256 of the source text, hex.
    pub sha256: String,
}

/// Where a value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The paragraph of the source document that sets it.
    Cited(String),
    /// Not in the source documents: the installation's own choice, with its reason, for
    /// the governance group to confirm.
    LocalPolicy(String),
    /// Neither said (`gatehouse validate` warns; `--strict` refuses).
    Unstated,
}

/// A kind of child case (`children: <id>:`): cases of another workflow that a case of
/// this one opens and waits on, each numbered within its parent.
#[derive(Debug, Clone)]
pub struct ChildGroup {
    /// The group's id, as gates name it (`applications`).
    pub id: String,
    /// The workflow each child follows.
    pub workflow: String,
    /// What one child is called, in sentences ("application").
    pub one: String,
    /// The parent's states in which a child may be opened.
    pub open_in: Vec<StateId>,
    /// The parent's roles whose members may open one.
    pub by: Vec<RoleId>,
    /// Where the rule comes from.
    pub origin: Origin,
}

/// A role.
#[derive(Debug, Clone)]
pub struct Role {
    /// Human title.
    pub title: String,
    /// Description for the policy document.
    pub description: Option<String>,
    /// For external roles (providers): the case field holding their email address.
    /// `None` for internal roles, whose members are users with accounts.
    pub email_field: Option<FieldId>,
}

impl Role {
    /// Whether the role is an outside party reached by an emailed link.
    pub fn is_external(&self) -> bool {
        self.email_field.is_some()
    }
}

/// A typed field of case data.
#[derive(Debug, Clone)]
pub struct Field {
    /// Its type.
    pub kind: FieldType,
    /// Human title (defaults to the id).
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Whether a case cannot be opened without it.
    pub required: bool,
    /// Who may amend it once a taken transition relied on it (`amend:`), over the
    /// workflow's own `amend:`.
    pub amend: Option<Amend>,
}

/// How a locked field may be amended: a field a transition relied on cannot be changed
/// by a plain update once that transition has been taken.
#[derive(Debug, Clone)]
pub struct Amend {
    /// The roles whose members may amend it, giving a reason.
    pub by: Vec<RoleId>,
    /// Where the case goes when the new value would have failed a rule the case already
    /// passed; `None`: such an amendment is refused.
    pub back_to: Option<StateId>,
    /// Citation, or "Local policy: why".
    pub source: Option<String>,
}

/// A fact an approval rests on: a field's value, or the current version of a piece of
/// evidence.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fact {
    /// A case field.
    Field(FieldId),
    /// A piece of evidence.
    Evidence(EvidenceId),
}

/// What a piece of evidence is.
#[derive(Debug, Clone)]
pub enum EvidenceKind {
    /// An uploaded file.
    Document,
    /// Items that must each be answered yes (or not applicable, where allowed), in
    /// file order.
    Checklist(Vec<ChecklistItem>),
    /// A confirmation, usually from a provider.
    Acknowledgement,
}

impl EvidenceKind {
    /// The name used in workflow files.
    pub fn name(&self) -> &'static str {
        match self {
            EvidenceKind::Document => "document",
            EvidenceKind::Checklist(_) => "checklist",
            EvidenceKind::Acknowledgement => "acknowledgement",
        }
    }
}

/// One item of a checklist.
#[derive(Debug, Clone)]
pub struct ChecklistItem {
    /// Its id (`snake_case`), the key answers are given by.
    pub id: String,
    /// What it asks, for people.
    pub label: String,
    /// Whether "not applicable" satisfies it (`allow_na: true`); otherwise only "yes"
    /// does.
    pub allow_na: bool,
}

/// A kind of evidence a case can hold.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// Human title.
    pub title: String,
    /// Document, checklist or acknowledgement.
    pub kind: EvidenceKind,
    /// Description.
    pub description: Option<String>,
    /// Citation.
    pub source: Option<String>,
    /// How long it stays valid after it is attached.
    pub valid_for: Option<Duration>,
    /// Who provides it; `None` means any internal role.
    pub from: Option<RoleId>,
}

/// A state.
#[derive(Debug, Clone)]
pub struct State {
    /// Human title (defaults to the id).
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Whether cases end here.
    pub terminal: bool,
    /// The stage of the policy this state belongs to.
    pub stage: Option<String>,
}

/// A transition between states.
#[derive(Debug, Clone)]
pub struct Transition {
    /// Its id.
    pub id: TransitionId,
    /// Human title (defaults to the id).
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// The states it leaves from.
    pub from: Vec<StateId>,
    /// The state it goes to.
    pub to: StateId,
    /// Roles allowed to request it; empty means any internal role.
    pub by: Vec<RoleId>,
    /// Routing condition: when false the transition does not apply to the case.
    pub when: Option<Expr>,
    /// Citation.
    pub source: Option<String>,
    /// Gates that must all hold.
    pub gates: Vec<Gate>,
    /// Fields emptied when it is taken (`clears:`): details of one round that must not
    /// stand for the next (the reasons for one notice, say).
    pub clears: Vec<FieldId>,
}

/// A condition that must hold before a transition may happen.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The id unmet gates are reported by.
    pub id: GateId,
    /// What must hold.
    pub kind: GateKind,
    /// Citation.
    pub source: Option<String>,
    /// A human sentence that replaces the default one.
    pub explain: Option<String>,
}

/// The kinds of gate.
#[derive(Debug, Clone)]
pub enum GateKind {
    /// The evidence is held and has not expired.
    Evidence(EvidenceId),
    /// Every item of the checklist is answered yes, or not applicable where the item
    /// allows it.
    Checklist(EvidenceId),
    /// Enough members of a role approved, and none rejected.
    Approval(ApprovalGate),
    /// A CEL rule holds.
    Rule(Expr),
    /// Enough children of a group were opened, and every one is in one of some states
    /// ("every application decided").
    Children(ChildrenGate),
    /// Every gate holds.
    All(Vec<Gate>),
    /// At least one gate holds.
    Any(Vec<Gate>),
}

impl GateKind {
    /// The name used in workflow files.
    pub fn name(&self) -> &'static str {
        match self {
            GateKind::Evidence(_) => "evidence",
            GateKind::Checklist(_) => "checklist",
            GateKind::Approval(_) => "approval",
            GateKind::Rule(_) => "rule",
            GateKind::Children(_) => "children",
            GateKind::All(_) => "all",
            GateKind::Any(_) => "any",
        }
    }
}

/// A children gate: `children: <group>`, `in: [<child states>]`, `at_least: <n>`.
#[derive(Debug, Clone)]
pub struct ChildrenGate {
    /// The group (`children:` of the workflow).
    pub group: String,
    /// The states of the child workflow every child must be in.
    pub states: Vec<StateId>,
    /// How many children must have been opened (1 unless it says).
    pub at_least: u32,
}

/// An approval gate.
#[derive(Debug, Clone)]
pub struct ApprovalGate {
    /// The role whose members approve.
    pub role: RoleId,
    /// How many distinct members must approve.
    pub quorum: u32,
    /// Separation of duties.
    pub not_by: Vec<Separation>,
    /// The facts an approval rests on (`covers:`); `None`: every field and every piece of
    /// evidence of the case. An approval stops counting when one of them changes.
    pub covers: Option<Vec<Fact>>,
}

/// People whose approval does not count, for separation of duties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separation {
    /// The person who made the transition into the current state.
    Submitter,
    /// The person who opened the case.
    Creator,
}

/// A message to send: to whom, with which template.
#[derive(Debug, Clone)]
pub struct Send {
    /// Recipient roles.
    pub to: Vec<RoleId>,
    /// The template.
    pub template: TemplateName,
    /// Fields the letter must state (`must_state:`).
    pub must_state: Vec<FieldId>,
}

/// When a timer first fires.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// Once, as the case enters the state.
    OnEnter(StateId),
    /// A duration after the case entered the state.
    After {
        /// The state.
        state: StateId,
        /// How long after entry.
        after: Duration,
    },
    /// On the date held in a field (09:00 workflow time), shifted by an offset.
    At {
        /// The state.
        state: StateId,
        /// A date field.
        field: FieldId,
        /// Shift from that date (negative for "before").
        offset: Option<Duration>,
    },
}

/// A per-case timer.
#[derive(Debug, Clone)]
pub struct Timer {
    /// Its id.
    pub id: TimerId,
    /// Human title.
    pub title: Option<String>,
    /// Citation.
    pub source: Option<String>,
    /// When it first fires.
    pub trigger: Trigger,
    /// Repeat interval.
    pub every: Option<Duration>,
    /// Maximum number of firings.
    pub limit: Option<u32>,
    /// Stops the timer once it holds.
    pub until: Option<Gate>,
    /// While it holds, the timer keeps its schedule but a firing does nothing, and the
    /// count of its firings starts again: for what is asked again every period (a
    /// monitoring return, its evidence `valid_for` the period), which an `until` would
    /// stop asking for after the first.
    pub unless: Option<Gate>,
    /// The message sent each time it fires.
    pub send: Option<Send>,
    /// A transition requested each time it fires.
    pub fire: Option<TransitionId>,
}

impl Timer {
    /// The state this timer belongs to.
    pub fn state(&self) -> &StateId {
        match &self.trigger {
            Trigger::OnEnter(s) => s,
            Trigger::After { state, .. } | Trigger::At { state, .. } => state,
        }
    }
}

/// A workflow-wide schedule in cron syntax.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Its id.
    pub id: String,
    /// Human title.
    pub title: Option<String>,
    /// The cron expression as written.
    pub cron_text: String,
    /// The parsed schedule.
    pub cron: cron::Schedule,
    /// The workflow's zone, in which the schedule's times are read.
    pub zone: chrono_tz::Tz,
    /// The message.
    pub send: Send,
    /// Citation.
    pub source: Option<String>,
}

impl Definition {
    /// The service a case is about, for lists and headings: the value of the field the
    /// `contract:` block names as its `service`, when the workflow has one and it is set.
    pub fn service_of(
        &self,
        fields: &std::collections::BTreeMap<FieldId, crate::values::FieldValue>,
    ) -> Option<String> {
        let field = self.contract.as_ref()?.service.as_ref()?;
        fields.get(field).map(|v| v.display())
    }

    /// What a case is about, for headings: its contract's service, else its first
    /// required text field that is set (a grant round's name, an applicant).
    pub fn heading_of(
        &self,
        fields: &std::collections::BTreeMap<FieldId, crate::values::FieldValue>,
    ) -> Option<String> {
        self.service_of(fields).or_else(|| {
            self.fields
                .iter()
                .filter(|(_, f)| f.required && matches!(f.kind, FieldType::Text))
                .find_map(|(id, _)| fields.get(id).map(|v| v.display()))
        })
    }

    /// The day `at` falls on in the workflow's zone.
    pub fn day(&self, at: jiff::Timestamp) -> jiff::civil::Date {
        at.to_zoned(self.timezone.clone()).date()
    }

    /// The state with this id.
    pub fn state(&self, id: &str) -> Option<(&StateId, &State)> {
        self.states.get_key_value(id)
    }

    /// The transition with this id.
    pub fn transition(&self, id: &str) -> Option<&Transition> {
        self.transitions.iter().find(|t| t.id.as_str() == id)
    }

    /// The evidence kind with this id.
    pub fn evidence_kind(&self, id: &str) -> Option<(&EvidenceId, &Evidence)> {
        self.evidence.get_key_value(id)
    }

    /// The timer with this id.
    pub fn timer(&self, id: &str) -> Option<&Timer> {
        self.timers.iter().find(|t| t.id.as_str() == id)
    }

    /// The role with this id.
    pub fn role(&self, id: &str) -> Option<(&RoleId, &Role)> {
        self.roles.get_key_value(id)
    }

    /// How `field` may be amended once locked: its own `amend:`, else the workflow's.
    pub fn amend_rule(&self, field: &FieldId) -> Option<&Amend> {
        self.fields.get(field).and_then(|f| f.amend.as_ref()).or(self.amend.as_ref())
    }

    /// Transitions leaving `state`, in file order.
    pub fn outgoing<'a>(&'a self, state: &'a StateId) -> impl Iterator<Item = &'a Transition> + 'a {
        self.transitions.iter().filter(move |t| t.from.contains(state))
    }

    /// Timers that belong to `state`.
    pub fn timers_in<'a>(&'a self, state: &'a StateId) -> impl Iterator<Item = &'a Timer> + 'a {
        self.timers.iter().filter(move |t| t.state() == state)
    }

    /// The evidence an external `role` is asked for by a message from `timer` (all it
    /// provides when there is no timer). Of what the role provides (`from: <role>`):
    /// 1. what the timer waits for (`until:`), when that names any of it;
    /// 2. else what the gates out of the timer's state ask for, when they name any of it;
    /// 3. else what no gate out of another state asks for: a letter sent early in a case
    ///    does not ask for what only a later step needs (the early engagement letter asks
    ///    for the provider's response, not yet for its acknowledgement of notice).
    ///
    /// A provider link carries this list, so it is also all the link may provide.
    pub fn evidence_asked(&self, role: &str, timer: Option<&str>) -> Vec<EvidenceId> {
        let provided: Vec<&EvidenceId> = self
            .evidence
            .iter()
            .filter(|(_, e)| e.from.as_ref().is_some_and(|r| r.as_str() == role))
            .map(|(id, _)| id)
            .collect();
        let Some(timer) = timer.and_then(|t| self.timer(t)) else {
            return provided.into_iter().cloned().collect();
        };
        let pick = |wanted: &[&EvidenceId]| -> Vec<EvidenceId> {
            provided.iter().filter(|e| wanted.contains(e)).map(|e| (*e).clone()).collect()
        };
        let mut awaited = Vec::new();
        if let Some(until) = &timer.until {
            until.evidence_named(&mut awaited);
        }
        let asked = pick(&awaited);
        if !asked.is_empty() {
            return asked;
        }
        let (mut here, mut elsewhere) = (Vec::new(), Vec::new());
        for t in &self.transitions {
            let out = if t.from.contains(timer.state()) { &mut here } else { &mut elsewhere };
            t.gates.iter().for_each(|g| g.evidence_named(out));
        }
        let asked = pick(&here);
        if !asked.is_empty() {
            return asked;
        }
        provided.into_iter().filter(|e| !elsewhere.contains(e)).cloned().collect()
    }
}

/// Every gate, nested ones included.
pub fn flatten(gates: &[Gate]) -> Vec<&Gate> {
    let mut out = Vec::new();
    for g in gates {
        out.push(g);
        if let GateKind::All(inner) | GateKind::Any(inner) = &g.kind {
            out.extend(flatten(inner));
        }
    }
    out
}

impl Transition {
    /// The fields its `when` and rules read, which taking it locks: in `def`'s field order.
    pub fn fields_read(&self, def: &Definition) -> Vec<FieldId> {
        let mut reads = Vec::new();
        if let Some(w) = &self.when {
            reads.push(w.reads());
        }
        for g in &self.gates {
            let mut leaves = Vec::new();
            g.leaves(&mut leaves);
            reads.extend(leaves.into_iter().filter_map(|g| match &g.kind {
                GateKind::Rule(e) => Some(e.reads()),
                _ => None,
            }));
        }
        def.fields.keys().filter(|f| reads.iter().any(|r| r.includes(f.as_str()))).cloned().collect()
    }
}

impl Gate {
    /// Whether a rule in this gate reads `field`.
    pub fn reads_field(&self, field: &str) -> bool {
        let mut leaves = Vec::new();
        self.leaves(&mut leaves);
        leaves.iter().any(|g| matches!(&g.kind, GateKind::Rule(e) if e.reads().includes(field)))
    }

    /// The gates this one is made of, down to those that are not `all`/`any` groups (the
    /// gate itself, when it is not a group), in file order.
    pub fn leaves<'a>(&'a self, out: &mut Vec<&'a Gate>) {
        match &self.kind {
            GateKind::All(gates) | GateKind::Any(gates) => gates.iter().for_each(|g| g.leaves(out)),
            _ => out.push(self),
        }
    }

    /// Every evidence kind this gate (or a gate inside it) asks for.
    pub fn evidence_named<'a>(&'a self, out: &mut Vec<&'a EvidenceId>) {
        let mut leaves = Vec::new();
        self.leaves(&mut leaves);
        out.extend(leaves.into_iter().filter_map(|g| match &g.kind {
            GateKind::Evidence(e) | GateKind::Checklist(e) => Some(e),
            _ => None,
        }));
    }
}
