//! Executable scenarios (`tests:` in a workflow), run on a virtual clock by
//! `gatehouse test`. The runner drives the same `open`/`decide` the server uses, and
//! applies decisions to an in-memory case with the same `CaseSnapshot::apply`.

mod references;
pub(crate) use references::check_references;

use crate::decide::{Command, Decided, Message, Refusal, decide};
use crate::definition::{Definition, EvidenceKind};
use crate::duration::Duration;
use crate::fields::Input;
use crate::gates::Evaluator;
use crate::ids::{GateId, TimerId};
use crate::raw::*;
use crate::snapshot::{Actor, Answer, CaseSnapshot, EvidenceContent, Meeting, Verdict};
use indexmap::IndexMap;
use jiff::{Timestamp, Zoned};
use std::collections::{BTreeMap, BTreeSet};

/// A named scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// The line it starts on.
    pub line: usize,
    path: String,
    start: Option<String>,
    users: IndexMap<String, Vec<String>>,
    steps: Vec<Step>,
}

#[derive(Debug, Clone)]
struct Step {
    line: usize,
    action: Action,
}

#[derive(Debug, Clone)]
enum Action {
    Create {
        fields: Vec<(String, Input)>,
        actor: Option<String>,
        /// The parent case's fields, for a child workflow.
        parent: BTreeMap<String, String>,
    },
    Set(Vec<(String, Input)>),
    Attach {
        evidence: String,
        actor: Option<String>,
    },
    Answer {
        checklist: String,
        items: Option<Vec<(String, Answer)>>,
        actor: Option<String>,
        refused: bool,
    },
    Approve {
        role: String,
        verdict: Verdict,
        actor: Option<String>,
        comment: Option<String>,
        meeting: Option<(String, String)>,
        conflict: Option<String>,
        refused: bool,
    },
    DeclareConflict {
        role: String,
        actor: Option<String>,
        reason: String,
    },
    Transition {
        transition: String,
        actor: Option<String>,
    },
    Advance(String),
    ExpectState(String),
    ExpectAllowed(String),
    ExpectBlocked {
        transition: String,
        missing: Vec<String>,
    },
    ExpectRefused {
        transition: String,
        actor: Option<String>,
    },
    Amend {
        fields: Vec<(String, Input)>,
        reason: String,
        actor: Option<String>,
    },
    /// A change of fields, plain (`reason: None`) or an amendment, that must be refused,
    /// its refusal saying `saying` when given.
    ExpectChangeRefused {
        fields: Vec<(String, Input)>,
        reason: Option<String>,
        actor: Option<String>,
        saying: Option<String>,
    },
    ExpectSent {
        template: String,
        to: Option<String>,
        count: Option<u32>,
    },
    ExpectNotSent(String),
    /// The case's child cases in a group are in these states (numbered from 1): what
    /// the store would read from the children's rows.
    Children(Vec<(String, Vec<String>)>),
}

/// How one scenario went.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The scenario's name.
    pub name: String,
    /// Its first line.
    pub line: usize,
    /// `Some((line, message))` for the step that failed.
    pub failure: Option<(usize, String)>,
    /// Gates seen blocking, as (transition, gate).
    pub gates_blocked: BTreeSet<(String, GateId)>,
    /// Timers that fired.
    pub timers_fired: BTreeSet<TimerId>,
}

fn input(v: &serde_yaml::Value) -> Input {
    match v {
        serde_yaml::Value::Bool(b) => Input::Bool(*b),
        serde_yaml::Value::Number(n) => match n.as_i64() {
            Some(i) => Input::Int(i),
            None => Input::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_yaml::Value::String(s) => Input::Text(s.clone()),
        serde_yaml::Value::Null => Input::Null,
        other => Input::Text(serde_yaml::to_string(other).unwrap_or_default().trim().to_string()),
    }
}

fn inputs(m: &IndexMap<String, serde_yaml::Value>) -> Vec<(String, Input)> {
    m.iter().map(|(k, v)| (k.clone(), input(v))).collect()
}

impl Scenario {
    pub(crate) fn from_raw(
        raw: &RawScenario,
        line: usize,
        step_line: impl Fn(usize) -> usize,
        path: String,
    ) -> Scenario {
        let steps = raw
            .steps
            .iter()
            .enumerate()
            .map(|(j, s)| {
                let action = match s {
                    RawStep::Create(c) => Action::Create {
                        fields: inputs(&c.fields),
                        actor: c.actor.clone(),
                        parent: c.parent.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    },
                    RawStep::Set(m) => Action::Set(inputs(m)),
                    RawStep::Attach(RawAttach::Id(e)) => Action::Attach { evidence: e.clone(), actor: None },
                    RawStep::Attach(RawAttach::Full(f)) => {
                        Action::Attach { evidence: f.evidence.clone(), actor: f.actor.clone() }
                    }
                    RawStep::Answer(RawAnswer::Id(c)) => {
                        Action::Answer { checklist: c.clone(), items: None, actor: None, refused: false }
                    }
                    RawStep::Answer(RawAnswer::Full(f)) => Action::Answer {
                        checklist: f.checklist.clone(),
                        items: (!f.items.is_empty()).then(|| f.items.iter().map(|(k, v)| (k.clone(), v.0)).collect()),
                        actor: f.actor.clone(),
                        refused: f.refused,
                    },
                    RawStep::Approve(a) | RawStep::Reject(a) => Action::Approve {
                        role: a.role.clone(),
                        verdict: if matches!(s, RawStep::Approve(_)) { Verdict::Approve } else { Verdict::Reject },
                        actor: a.actor.clone(),
                        comment: a.comment.clone(),
                        meeting: a.meeting.as_ref().map(|m| (m.name.clone(), m.date.clone())),
                        conflict: a.conflict.clone(),
                        refused: a.refused,
                    },
                    RawStep::DeclareConflict(c) => Action::DeclareConflict {
                        role: c.role.clone(),
                        actor: c.actor.clone(),
                        reason: c.reason.clone(),
                    },
                    RawStep::Transition(t) | RawStep::ExpectRefused(RawRefused::Transition(t)) => {
                        let (transition, actor) = match t {
                            RawTransitionStep::Id(id) => (id.clone(), None),
                            RawTransitionStep::Full(f) => (f.transition.clone(), f.actor.clone()),
                        };
                        if matches!(s, RawStep::Transition(_)) {
                            Action::Transition { transition, actor }
                        } else {
                            Action::ExpectRefused { transition, actor }
                        }
                    }
                    RawStep::ExpectRefused(RawRefused::Change(c)) => match (&c.set, &c.amend) {
                        (Some(set), None) => Action::ExpectChangeRefused {
                            fields: inputs(set),
                            reason: None,
                            actor: None,
                            saying: c.saying.clone(),
                        },
                        (None, Some(a)) => Action::ExpectChangeRefused {
                            fields: inputs(&a.fields),
                            reason: Some(a.reason.clone().unwrap_or_default()),
                            actor: a.actor.clone(),
                            saying: c.saying.clone(),
                        },
                        // Checked when the workflow loads (`check_references`).
                        _ => {
                            Action::ExpectChangeRefused { fields: Vec::new(), reason: None, actor: None, saying: None }
                        }
                    },
                    RawStep::Amend(a) => Action::Amend {
                        fields: inputs(&a.fields),
                        reason: a.reason.clone().unwrap_or_default(),
                        actor: a.actor.clone(),
                    },
                    RawStep::Advance(d) => Action::Advance(d.clone()),
                    RawStep::ExpectState(st) => Action::ExpectState(st.clone()),
                    RawStep::ExpectAllowed(t) => Action::ExpectAllowed(t.clone()),
                    RawStep::ExpectBlocked(b) => {
                        Action::ExpectBlocked { transition: b.transition.clone(), missing: b.missing.clone() }
                    }
                    RawStep::ExpectSent(e) => {
                        Action::ExpectSent { template: e.template.clone(), to: e.to.clone(), count: e.count }
                    }
                    RawStep::ExpectNotSent(t) => Action::ExpectNotSent(t.clone()),
                    RawStep::Children(groups) => {
                        Action::Children(groups.iter().map(|(g, states)| (g.clone(), states.clone())).collect())
                    }
                };
                Step { line: step_line(j), action }
            })
            .collect();
        Scenario { name: raw.name.clone(), line, path, start: raw.start.clone(), users: raw.users.clone(), steps }
    }
}

fn parse_start(s: &str, def: &Definition) -> Result<Zoned, String> {
    let dt: jiff::civil::DateTime = match s.parse::<jiff::civil::Date>() {
        Ok(d) => d.at(9, 0, 0, 0),
        Err(_) => s.parse().map_err(|e: jiff::Error| e.to_string())?,
    };
    dt.to_zoned(def.timezone.clone()).map_err(|e| e.to_string())
}

/// Run every scenario of `def`.
pub fn run_all(def: &Definition, scenarios: &[Scenario]) -> Vec<Outcome> {
    scenarios.iter().map(|s| run(def, s)).collect()
}

/// Run one scenario.
pub fn run(def: &Definition, scenario: &Scenario) -> Outcome {
    let start = match &scenario.start {
        Some(s) => parse_start(s, def),
        None => parse_start("2026-01-05T09:00", def),
    };
    let mut runner = Runner {
        def,
        scenario,
        clock: start.map(|z| z.timestamp()).unwrap_or(Timestamp::UNIX_EPOCH),
        case: None,
        sent: Vec::new(),
        attached: 0,
        gates_blocked: BTreeSet::new(),
        timers_fired: BTreeSet::new(),
    };
    let mut failure = None;
    for step in &scenario.steps {
        if let Err(message) = runner.step(&step.action) {
            failure = Some((step.line, message));
            break;
        }
    }
    Outcome {
        name: scenario.name.clone(),
        line: scenario.line,
        failure,
        gates_blocked: runner.gates_blocked,
        timers_fired: runner.timers_fired,
    }
}

struct Runner<'a> {
    def: &'a Definition,
    scenario: &'a Scenario,
    clock: Timestamp,
    case: Option<CaseSnapshot>,
    sent: Vec<Message>,
    /// Documents attached so far, to tell one attachment's content from another's.
    attached: u32,
    gates_blocked: BTreeSet<(String, GateId)>,
    timers_fired: BTreeSet<TimerId>,
}

impl Runner<'_> {
    fn actor(&self, name: &Option<String>, default: Actor) -> Actor {
        let Some(name) = name else { return default };
        if let Some(roles) = self.scenario.users.get(name) {
            return Actor::user(name.clone(), roles.clone());
        }
        if let Some((id, role)) = self.def.role(name) {
            return if role.is_external() {
                Actor::link(id.as_str())
            } else {
                Actor::user(name.clone(), [id.as_str()])
            };
        }
        self.author()
    }

    fn author(&self) -> Actor {
        let roles: Vec<&str> =
            self.def.roles.iter().filter(|(_, r)| !r.is_external()).map(|(k, _)| k.as_str()).collect();
        Actor::user("author", roles)
    }

    fn case(&self) -> Result<&CaseSnapshot, String> {
        self.case.as_ref().ok_or_else(|| "no case yet: start the scenario with `create`".to_string())
    }

    fn command(&mut self, command: Command, actor: Actor) -> Result<(), String> {
        let case = self.case()?;
        let Decided { decision, after } =
            decide(self.def, case, &command, &actor, self.clock).map_err(|r| refusal(&r))?;
        self.case = Some(after);
        self.record(&decision)?;
        self.fire_due(self.clock)
    }

    /// Note what `decision`, just applied to the case, sent and fired. Each letter that
    /// must state fields (`must_state:`) is rendered as the case now stands, and must
    /// state each of them.
    fn record(&mut self, decision: &crate::decide::Decision) -> Result<(), String> {
        self.sent.extend(decision.messages.iter().cloned());
        for e in &decision.events {
            if let crate::decide::Event::TimerFired { timer, .. } = e {
                self.timers_fired.insert(timer.clone());
            }
        }
        let case = self.case()?;
        for m in &decision.messages {
            let Some(send) = m.timer.as_ref().and_then(|t| self.def.timer(t.as_str())).and_then(|t| t.send.as_ref())
            else {
                continue;
            };
            if send.must_state.is_empty() {
                continue;
            }
            let Some(source) = self.def.letters.get(&m.template) else { continue };
            let mut data = crate::templates::TemplateData::for_case(self.def, Some(case), "");
            data.deadline = m.deadline.map(crate::letters::date_in_words).unwrap_or_default();
            let letter = crate::templates::render(source, &data)
                .map_err(|e| format!("letter `{}` cannot be rendered: {e}", m.template))?;
            for f in &send.must_state {
                let title = &self.def.fields[f].title;
                let Some(value) = case.fields.get(f) else {
                    return Err(format!("letter `{}` was sent without {title}, which it must state", m.template));
                };
                let value = crate::letters::in_letter(value);
                if !letter.text.contains(&value) && !letter.subject.contains(&value) {
                    return Err(format!(
                        "letter `{}` does not state {title} (\"{value}\"), which it must (`must_state`)",
                        m.template
                    ));
                }
            }
        }
        Ok(())
    }

    /// Fire, in due order, every timer due at or before `until`.
    fn fire_due(&mut self, until: Timestamp) -> Result<(), String> {
        for _ in 0..10_000 {
            let Some(case) = &self.case else { return Ok(()) };
            let Some(next) =
                case.timers.iter().filter(|t| t.due_at <= until).min_by_key(|t| (t.due_at, t.timer.clone())).cloned()
            else {
                return Ok(());
            };
            self.clock = self.clock.max(next.due_at);
            let command = Command::FireTimer { timer: next.timer.to_string() };
            let Decided { decision, after } = decide(self.def, case, &command, &Actor::system(), self.clock)
                .map_err(|r| format!("timer `{}` could not fire: {}", next.timer, refusal(&r)))?;
            self.case = Some(after);
            self.record(&decision)?;
        }
        Err("more than 10000 timer firings in one step: does a timer repeat without end?".into())
    }

    fn step(&mut self, action: &Action) -> Result<(), String> {
        match action {
            Action::Create { fields, actor, parent } => {
                if self.case.is_some() {
                    return Err("a scenario has one case: `create` only once".into());
                }
                let actor = self.actor(actor, self.author());
                // A child workflow's case is opened by its parent, which the scenario
                // stands in for with the fields it gives.
                let Decided { decision, mut after } =
                    crate::decide::open_case(self.def, fields, &actor, self.clock).map_err(|r| refusal(&r))?;
                after.parent = self.def.parent.as_ref().map(|workflow| crate::snapshot::ParentCase {
                    id: 0,
                    workflow: workflow.clone(),
                    state: crate::ids::StateId::new("open"),
                    state_title: String::new(),
                    fields: parent.clone(),
                });
                self.case = Some(after);
                self.record(&decision)?;
                self.fire_due(self.clock)
            }
            Action::Set(values) => self.command(Command::SetFields(values.clone()), self.author()),
            Action::Attach { evidence, actor } => {
                let (id, ev) = self.def.evidence_kind(evidence).ok_or(format!("unknown evidence `{evidence}`"))?;
                let content = match &ev.kind {
                    EvidenceKind::Document => EvidenceContent::Document {
                        // A new document each time: attaching it again replaces it.
                        sha256: {
                            self.attached += 1;
                            format!("{:0>64}", hex_of(&format!("{}{}", self.attached, id)))
                        },
                        name: format!("{id}.pdf"),
                        size: 1,
                        media_type: "application/pdf".into(),
                    },
                    EvidenceKind::Acknowledgement => EvidenceContent::Acknowledgement { note: None },
                    EvidenceKind::Checklist(items) => {
                        EvidenceContent::Checklist(items.iter().map(|i| (i.id.clone(), (Answer::Yes, None))).collect())
                    }
                };
                let default = match &ev.from {
                    Some(role) if self.def.roles[role].is_external() => Actor::link(role.as_str()),
                    _ => self.author(),
                };
                let actor = self.actor(actor, default);
                self.command(Command::Attach { evidence: evidence.clone(), content }, actor)
            }
            Action::Answer { checklist, items, actor, refused } => {
                let (_, ev) = self.def.evidence_kind(checklist).ok_or(format!("unknown checklist `{checklist}`"))?;
                let EvidenceKind::Checklist(declared) = &ev.kind else {
                    return Err(format!("`{checklist}` is not a checklist"));
                };
                let answers: BTreeMap<String, (Answer, Option<String>)> = match items {
                    None => declared.iter().map(|i| (i.id.clone(), (Answer::Yes, None))).collect(),
                    Some(items) => items.iter().map(|(i, a)| (i.clone(), (*a, None))).collect(),
                };
                let actor = self.actor(actor, self.author());
                let command =
                    Command::Attach { evidence: checklist.clone(), content: EvidenceContent::Checklist(answers) };
                if !refused {
                    return self.command(command, actor);
                }
                match decide(self.def, self.case()?, &command, &actor, self.clock) {
                    Err(Refusal::Invalid(_)) => Ok(()),
                    Err(other) => Err(format!(
                        "expected the answers to `{checklist}` to be refused, but it was {}",
                        refusal(&other)
                    )),
                    Ok(_) => {
                        Err(format!("expected the answers to `{checklist}` to be refused, but they were recorded"))
                    }
                }
            }
            Action::Approve { role, verdict, actor, comment, meeting, conflict, refused } => {
                let actor = self.actor(actor, Actor::user(format!("{role}-1"), [role.as_str()]));
                let meeting = match meeting {
                    Some((name, date)) => Some(Meeting { name: name.clone(), date: crate::fields::date(date)? }),
                    None => None,
                };
                let command = Command::Approve {
                    role: role.clone(),
                    verdict: *verdict,
                    comment: comment.clone(),
                    meeting,
                    conflict: conflict.clone(),
                };
                if !refused {
                    return self.command(command, actor);
                }
                match decide(self.def, self.case()?, &command, &actor, self.clock) {
                    Err(Refusal::NotAllowed(_)) => Ok(()),
                    Err(other) => Err(format!(
                        "expected {}'s approval as `{role}` to be refused, but it was {}",
                        actor.id,
                        refusal(&other)
                    )),
                    Ok(_) => {
                        Err(format!("expected {}'s approval as `{role}` to be refused, but it was recorded", actor.id))
                    }
                }
            }
            Action::DeclareConflict { role, actor, reason } => {
                let actor = self.actor(actor, Actor::user(format!("{role}-1"), [role.as_str()]));
                self.command(Command::DeclareConflict { role: role.clone(), reason: reason.clone() }, actor)
            }
            Action::Transition { transition, actor } => {
                let actor = self.actor(actor, self.author());
                self.command(Command::Transition { transition: transition.clone(), expected_version: None }, actor)
            }
            Action::Advance(d) => {
                let d = Duration::parse(d)?;
                let target = d
                    .add_to(&self.clock.to_zoned(self.def.timezone.clone()), self.def.calendar.as_deref())?
                    .timestamp();
                self.fire_due(target)?;
                self.clock = target;
                Ok(())
            }
            Action::Children(groups) => {
                let Some(case) = self.case.as_mut() else { return Err("no case yet: `create` one first".into()) };
                for (group, states) in groups {
                    case.children.retain(|c| &c.group != group);
                    for (i, state) in states.iter().enumerate() {
                        let number = i as u32 + 1;
                        case.children.push(crate::snapshot::ChildCase {
                            id: i64::from(number),
                            group: group.clone(),
                            number,
                            state: state.clone(),
                        });
                    }
                }
                Ok(())
            }
            Action::ExpectState(s) => {
                let case = self.case()?;
                if case.state.as_str() != s {
                    return Err(format!("expected the case in `{s}`, but it is in `{}`", case.state));
                }
                Ok(())
            }
            Action::ExpectAllowed(t) => {
                let status = self.status(t)?;
                if let Err(reason) = status.0 {
                    return Err(format!("expected `{t}` to be allowed, but it {reason}"));
                }
                if !status.1.is_empty() {
                    let ids: Vec<String> = status.1.iter().map(|(g, m)| format!("{g} ({m})")).collect();
                    return Err(format!("expected `{t}` to be allowed, but it is blocked by: {}", ids.join("; ")));
                }
                Ok(())
            }
            Action::ExpectBlocked { transition, missing } => {
                let (applies, unmet) = self.status(transition)?;
                if let Err(reason) = applies {
                    return Err(format!("expected `{transition}` to be blocked, but it {reason}"));
                }
                let got: BTreeSet<&str> = unmet.iter().map(|(g, _)| g.as_str()).collect();
                let want: BTreeSet<&str> = missing.iter().map(String::as_str).collect();
                for (g, _) in &unmet {
                    self.gates_blocked.insert((transition.clone(), g.clone()));
                }
                if unmet.is_empty() {
                    return Err(format!("expected `{transition}` to be blocked, but it is allowed"));
                }
                if !missing.is_empty() && got != want {
                    let got: Vec<&str> = got.into_iter().collect();
                    let want: Vec<&str> = want.into_iter().collect();
                    return Err(format!(
                        "expected `{transition}` blocked by [{}], but it is blocked by [{}]",
                        want.join(", "),
                        got.join(", ")
                    ));
                }
                Ok(())
            }
            Action::ExpectRefused { transition, actor } => {
                let actor = self.actor(actor, self.author());
                let case = self.case()?;
                let command = Command::Transition { transition: transition.clone(), expected_version: None };
                match decide(self.def, case, &command, &actor, self.clock) {
                    Err(Refusal::NotAllowed(_)) | Err(Refusal::NotAvailable(_)) => Ok(()),
                    Err(other) => Err(format!(
                        "expected `{transition}` to be refused to {}, but it was {}",
                        actor.id,
                        refusal(&other)
                    )),
                    Ok(_) => Err(format!("expected `{transition}` to be refused to {}, but it was allowed", actor.id)),
                }
            }
            Action::Amend { fields, reason, actor } => {
                let actor = self.actor(actor, self.author());
                self.command(Command::Amend { fields: fields.clone(), reason: reason.clone() }, actor)
            }
            Action::ExpectChangeRefused { fields, reason, actor, saying } => {
                let actor = self.actor(actor, self.author());
                let (what, command) = match reason {
                    None => ("the change", Command::SetFields(fields.clone())),
                    Some(r) => ("the amendment", Command::Amend { fields: fields.clone(), reason: r.clone() }),
                };
                match decide(self.def, self.case()?, &command, &actor, self.clock) {
                    Ok(_) => Err(format!("expected {what} to be refused to {}, but it was made", actor.id)),
                    Err(r) => match saying {
                        Some(text) if !r.to_string().contains(text.as_str()) => {
                            Err(format!("expected {what} to be refused saying \"{text}\", but it was {}", refusal(&r)))
                        }
                        _ => Ok(()),
                    },
                }
            }
            Action::ExpectSent { template, to, count } => {
                let n = self
                    .sent
                    .iter()
                    .filter(|m| {
                        m.template.as_str() == template
                            && to.as_ref().is_none_or(|r| m.to.iter().any(|t| t.as_str() == r))
                    })
                    .count() as u32;
                match count {
                    Some(c) if n != *c => {
                        Err(format!("expected {c} `{template}` message(s) sent so far, but {n} were"))
                    }
                    None if n == 0 => Err(format!("expected a `{template}` message, but none was sent")),
                    _ => Ok(()),
                }
            }
            Action::ExpectNotSent(template) => {
                let n = self.sent.iter().filter(|m| m.template.as_str() == template).count();
                if n > 0 {
                    return Err(format!("expected no `{template}` message, but {n} were sent"));
                }
                Ok(())
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn status(&self, transition: &str) -> Result<(Result<(), String>, Vec<(GateId, String)>), String> {
        let case = self.case()?;
        let t = self.def.transition(transition).ok_or(format!("unknown transition `{transition}`"))?;
        if !t.from.contains(&case.state) {
            return Err(format!("`{transition}` does not leave from `{}`, where the case is", case.state));
        }
        let s = Evaluator::new(self.def, case, self.clock).transition(t);
        Ok((s.applies, s.unmet.into_iter().map(|u| (u.gate, u.message)).collect()))
    }
}

fn refusal(r: &Refusal) -> String {
    format!("refused: {r}")
}

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect::<String>().chars().take(64).collect()
}
