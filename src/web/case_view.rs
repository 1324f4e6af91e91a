//! What the case page shows, as typed rows: each struct is one thing on the page, its
//! fields the names `case.html` reads. Built from the app's `CaseView`, the audit trail
//! and the case's emails; nothing here decides anything.

use super::session::Session;
use crate::app::CaseView;
use gatehouse_adapters::store::entities::event;
use gatehouse_adapters::store::{BrokenLink, Delivery, OutboxMessage};
use gatehouse_engine::Definition;
use gatehouse_engine::definition::{EvidenceKind, GateKind, Transition};
use gatehouse_engine::snapshot::{ApprovalRecord, CaseSnapshot, EvidenceContent, Verdict};
use serde::Serialize;

/// The case page, less what every page has (`base`) and the form's errors and notice.
#[derive(Serialize)]
pub(super) struct CasePage {
    case: CaseHead,
    steps: Vec<Step>,
    evidence: Vec<EvidenceLine>,
    documents: Vec<Choice>,
    checklists: Vec<EvidenceLine>,
    states: Vec<StateLine>,
    fields: Vec<super::amend::FieldLine>,
    timers: Vec<TimerLine>,
    messages: Vec<MessageLine>,
    approvals: Vec<ApprovalLine>,
    approvals_asked: Vec<Choice>,
    amendable: Vec<super::amend::AmendChoice>,
    events: Vec<EventLine>,
    chain_intact: bool,
    broken_at: Option<i64>,
    mermaid: String,
    /// The state diagram (SVG), marked with where the case is, has been, and can go.
    diagram: String,
    /// Its kinds of child case, each with its children and whether one may be opened now.
    children: Vec<ChildGroupLine>,
}

/// A kind of child case (`children:`) on its parent's page.
#[derive(Serialize)]
struct ChildGroupLine {
    id: String,
    /// "Applications".
    title: String,
    /// "application".
    one: String,
    workflow: String,
    /// Whether the case is in a state that opens one.
    open: bool,
    children: Vec<ChildLine>,
}

#[derive(Serialize)]
struct ChildLine {
    id: i64,
    number: u32,
    state: String,
}

#[derive(Serialize)]
struct CaseHead {
    id: i64,
    workflow: String,
    service: String,
    state: Option<String>,
    version: i64,
    entered_at: String,
    /// The responsible commissioner's user id (their email address).
    owner: String,
}

/// A transition out of the case's state.
#[derive(Serialize)]
struct Step {
    id: String,
    title: String,
    to: Option<String>,
    allowed: bool,
    not_applicable: Option<String>,
    gates: Vec<GateLine>,
    may_request: bool,
    by: Vec<String>,
}

#[derive(Serialize)]
struct GateLine {
    id: String,
    met: bool,
    text: String,
    message: Option<String>,
    source: Option<String>,
}

#[derive(Serialize, Clone)]
struct EvidenceLine {
    id: String,
    title: String,
    kind: &'static str,
    held: bool,
    by: Option<String>,
    at: Option<String>,
    file: Option<String>,
    note: Option<String>,
    items: Vec<ItemLine>,
    external: bool,
    from: Option<String>,
}

#[derive(Serialize, Clone)]
struct ItemLine {
    id: String,
    label: String,
    allow_na: bool,
    answer: Option<&'static str>,
    note: Option<String>,
}

/// Something to choose in a form: a document type, a role to decide as.
#[derive(Serialize)]
struct Choice {
    id: String,
    title: Option<String>,
}

#[derive(Serialize)]
struct StateLine {
    title: String,
    current: bool,
}

#[derive(Serialize)]
struct TimerLine {
    title: String,
    due_at: String,
}

#[derive(Serialize)]
struct MessageLine {
    what: String,
    to: String,
    status: &'static str,
    when: String,
    detail: Option<String>,
}

#[derive(Serialize)]
struct ApprovalLine {
    decision: &'static str,
    role: Option<String>,
    by: String,
    at: String,
    comment: Option<String>,
    stale: Option<String>,
}

#[derive(Serialize)]
struct EventLine {
    seq: i64,
    at: String,
    actor: String,
    kind: String,
}

/// "application" as a heading: "Applications".
fn capitalised_plural(one: &str) -> String {
    let mut chars = one.chars();
    match chars.next() {
        Some(first) => format!("{}{}s", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// A time as the pages show it, in the workflow's zone: "5 January 2026 09:00".
pub(super) fn shown(def: &Definition, t: &jiff::Timestamp) -> String {
    t.to_zoned(def.timezone.clone()).strftime("%-d %B %Y %H:%M").to_string()
}

impl CasePage {
    pub(super) fn new(
        view: &CaseView,
        session: &Session,
        events: &[event::Model],
        broken: Option<&BrokenLink>,
        messages: &[(OutboxMessage, Delivery)],
    ) -> CasePage {
        let def = &view.definition;
        let case = &view.case;
        let at = |t: &jiff::Timestamp| shown(def, t);
        let evidence = evidence_lines(def, case);
        let internal = |e: &gatehouse_engine::definition::Evidence| {
            e.from.as_ref().and_then(|r| def.roles.get(r)).is_none_or(|r| !r.is_external())
        };
        CasePage {
            case: CaseHead {
                id: case.id,
                workflow: def.title.clone(),
                service: def.heading_of(&case.fields).unwrap_or_else(|| format!("Case {}", case.id)),
                state: def.states.get(&case.state).map(|s| s.title.clone()),
                version: case.version,
                entered_at: at(&case.entered_at),
                owner: case.owner.clone(),
            },
            children: def
                .children
                .values()
                .map(|g| ChildGroupLine {
                    id: g.id.clone(),
                    title: capitalised_plural(&g.one),
                    one: g.one.clone(),
                    workflow: g.workflow.clone(),
                    open: g.open_in.contains(&case.state),
                    children: case
                        .children
                        .iter()
                        .filter(|c| c.group == g.id)
                        .map(|c| ChildLine { id: c.id, number: c.number, state: c.state.replace('_', " ") })
                        .collect(),
                })
                .collect(),
            steps: steps(view),
            documents: def
                .evidence
                .iter()
                .filter(|(_, e)| matches!(e.kind, EvidenceKind::Document) && internal(e))
                .map(|(eid, e)| Choice { id: eid.to_string(), title: Some(e.title.clone()) })
                .collect(),
            checklists: evidence.iter().filter(|e| e.kind == "checklist" && !e.external).cloned().collect(),
            evidence,
            states: def
                .states
                .iter()
                .map(|(sid, s)| StateLine { title: s.title.clone(), current: *sid == case.state })
                .collect(),
            fields: super::amend::details(def, case, at),
            timers: case
                .timers
                .iter()
                .map(|t| TimerLine {
                    title: def.timer(t.timer.as_str()).and_then(|d| d.title.clone()).unwrap_or(t.timer.to_string()),
                    due_at: at(&t.due_at),
                })
                .collect(),
            messages: messages.iter().map(|(m, d)| message_line(def, m, d)).collect(),
            approvals: case
                .approvals
                .iter()
                .filter(|a| a.visit == case.visit)
                .map(|a| approval_line(def, case, a))
                .collect(),
            approvals_asked: approval_roles(view, session)
                .into_iter()
                .map(|r| Choice { title: def.roles.get(r.as_str()).map(|x| x.title.clone()), id: r })
                .collect(),
            amendable: super::amend::amendable(def, case, &session.actor),
            events: events
                .iter()
                .map(|e| EventLine {
                    seq: e.seq,
                    at: e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    actor: e.actor.clone(),
                    kind: e.kind.replace('_', " "),
                })
                .collect(),
            chain_intact: broken.is_none(),
            broken_at: broken.map(|b| b.seq),
            mermaid: gatehouse_engine::graph::mermaid_highlight(def, &case.state),
            diagram: diagram(view, events),
        }
    }
}

/// The case's state diagram: its current state, the states its audit trail shows it
/// entered before, and each next step that applies, may be taken now or is blocked.
fn diagram(view: &CaseView, events: &[event::Model]) -> String {
    let def = &view.definition;
    let case = &view.case;
    let entered = |e: &event::Model| -> Option<String> {
        let payload: serde_json::Value = serde_json::from_str(&e.payload).ok()?;
        let key = match e.kind.as_str() {
            "opened" => "state",
            "transitioned" => "to",
            "amended" => "back_to",
            "migrated" => "to_state",
            _ => return None,
        };
        payload.get(key)?.as_str().map(str::to_string)
    };
    let marks = gatehouse_engine::graph::Marks {
        current: Some(case.state.clone()),
        visited: events
            .iter()
            .filter_map(entered)
            .filter_map(|s| def.states.get_key_value(s.as_str()).map(|(id, _)| id.clone()))
            .filter(|s| *s != case.state)
            .collect(),
        next: view
            .transitions
            .iter()
            .filter(|t| t.not_applicable.is_none())
            .map(|t| (t.id.clone(), t.allowed))
            .collect(),
    };
    let title = format!(
        "State diagram of case {}, now in {}",
        case.id,
        def.states.get(&case.state).map_or(case.state.as_str(), |s| s.title.as_str())
    );
    gatehouse_engine::graph::svg(def, &marks, &title)
}

fn steps(view: &CaseView) -> Vec<Step> {
    let def = &view.definition;
    view.transitions
        .iter()
        .filter_map(|t| def.transition(t.id.as_str()).map(|d| (t, d)))
        .map(|(t, d)| Step {
            id: t.id.to_string(),
            title: d.title.clone(),
            to: def.states.get(&d.to).map(|s| s.title.clone()),
            allowed: t.allowed,
            not_applicable: t.not_applicable.clone(),
            gates: d
                .gates
                .iter()
                .map(|g| {
                    let unmet = t.unmet.iter().find(|u| u.gate == g.id);
                    GateLine {
                        id: g.id.to_string(),
                        met: unmet.is_none(),
                        text: gatehouse_engine::explain::gate_text(def, g),
                        message: unmet.map(|u| u.message.clone()),
                        source: g.source.clone(),
                    }
                })
                .collect(),
            may_request: t.may_request,
            by: requested_by(def, d),
        })
        .collect()
}

fn evidence_lines(def: &Definition, case: &CaseSnapshot) -> Vec<EvidenceLine> {
    def.evidence
        .iter()
        .map(|(eid, e)| {
            let held = case.evidence.get(eid);
            let (file, note, answers) = match held.map(|h| &h.content) {
                Some(EvidenceContent::Document { name, .. }) => (Some(name.clone()), None, None),
                Some(EvidenceContent::Acknowledgement { note }) => (None, note.clone(), None),
                Some(EvidenceContent::Checklist(a)) => (None, None, Some(a)),
                None => (None, None, None),
            };
            let items = match &e.kind {
                EvidenceKind::Checklist(items) => items
                    .iter()
                    .map(|i| {
                        let given = answers.and_then(|a| a.get(&i.id));
                        ItemLine {
                            id: i.id.clone(),
                            label: i.label.clone(),
                            allow_na: i.allow_na,
                            answer: given.map(|(a, _)| crate::http::dto::answer_name(*a)),
                            note: given.and_then(|(_, n)| n.clone()),
                        }
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let from = e.from.as_ref().and_then(|r| def.roles.get(r));
            EvidenceLine {
                id: eid.to_string(),
                title: e.title.clone(),
                kind: e.kind.name(),
                held: held.is_some(),
                by: held.map(|h| h.by.clone()),
                at: held.map(|h| shown(def, &h.at)),
                file,
                note,
                items,
                external: from.is_some_and(|r| r.is_external()),
                from: from.map(|r| r.title.clone()),
            }
        })
        .collect()
}

fn message_line(def: &Definition, m: &OutboxMessage, delivery: &Delivery) -> MessageLine {
    let at = |t: &jiff::Timestamp| shown(def, t);
    let m = &m.message;
    let what = m
        .timer_id
        .as_deref()
        .and_then(|t| def.timer(t))
        .map(|t| t.title.clone().unwrap_or_else(|| t.id.to_string().replace('_', " ")))
        .unwrap_or_else(|| m.template.replace(['-', '_'], " "));
    let to: Vec<String> = m
        .recipients
        .iter()
        .map(|r| match def.roles.get(r.as_str()) {
            Some(role) => role.title.clone(),
            None if r == gatehouse_engine::escalation::OWNER || r == gatehouse_engine::escalation::CREATOR => {
                "the commissioner responsible for the case".to_string()
            }
            None => r.clone(),
        })
        .collect();
    let (status, when, detail) = match delivery {
        Delivery::Sent { at: t, note } => ("sent", at(t), note.clone()),
        Delivery::Pending { attempts: 0, next_attempt_at, .. } => ("due", at(next_attempt_at), None),
        Delivery::Pending { attempts, next_attempt_at, last_error } => (
            "retrying",
            at(next_attempt_at),
            Some(format!("{attempts} attempt(s) failed: {}", last_error.as_deref().unwrap_or("no reason given"))),
        ),
        Delivery::Failed { at: t, error } => ("failed", at(t), Some(error.clone())),
    };
    MessageLine { what, to: to.join(", "), status, when, detail }
}

fn approval_line(def: &Definition, case: &CaseSnapshot, a: &ApprovalRecord) -> ApprovalLine {
    ApprovalLine {
        decision: match a.verdict {
            Verdict::Approve => "Approved",
            Verdict::Reject => "Rejected",
        },
        role: def.roles.get(&a.role).map(|r| r.title.clone()),
        by: a.by.clone(),
        at: shown(def, &a.at),
        comment: a.comment.clone(),
        stale: super::amend::stale(def, case, a),
    }
}

fn requested_by(def: &Definition, t: &Transition) -> Vec<String> {
    if t.by.is_empty() {
        return vec!["members of this workflow's roles".into()];
    }
    t.by.iter().map(|r| def.roles.get(r).map(|x| x.title.clone()).unwrap_or_default()).collect()
}

/// The roles the user holds that a gate of the current state asks to approve.
pub(super) fn approval_roles(view: &CaseView, session: &Session) -> Vec<String> {
    let mut gates = Vec::new();
    for t in view.definition.outgoing(&view.case.state) {
        t.gates.iter().for_each(|g| g.leaves(&mut gates));
    }
    let mut roles: Vec<String> = gates
        .into_iter()
        .filter_map(|g| match &g.kind {
            GateKind::Approval(a) => Some(a.role.to_string()),
            _ => None,
        })
        .collect();
    roles.sort();
    roles.dedup();
    roles.retain(|r| session.actor.has_role(r));
    roles
}
