//! Gate evaluation: for a case, which transitions are allowed and, for the others, every
//! unmet gate with a sentence a person can act on.

use crate::definition::{ApprovalGate, ChildrenGate, Definition, EvidenceKind, Gate, GateKind, Separation, Transition};
use crate::expr::{Bindings, CelField, evaluate_bool};
use crate::ids::EvidenceId;
use crate::snapshot::{Actor, Answer, ApprovalRecord, CaseSnapshot, EvidenceContent, FieldValue, Verdict};
use jiff::{Timestamp, Zoned};
use std::cell::OnceCell;
use std::collections::BTreeMap;

pub use crate::decision::Unmet;

/// Where one outgoing transition stands.
#[derive(Debug, Clone)]
pub struct TransitionStatus<'d> {
    /// The transition.
    pub transition: &'d Transition,
    /// `Err(reason)` when its `when` is false (or cannot be decided): it does not apply.
    pub applies: Result<(), String>,
    /// Unmet gates (empty when every gate holds).
    pub unmet: Vec<Unmet>,
}

impl TransitionStatus<'_> {
    /// Whether the transition may happen now (for someone allowed to request it).
    pub fn allowed(&self) -> bool {
        self.applies.is_ok() && self.unmet.is_empty()
    }
}

/// Where one outgoing transition stands for one person: its gates, and whether that
/// person may ask for it.
#[derive(Debug, Clone)]
pub struct Standing<'d> {
    /// Its gates and whether it applies.
    pub status: TransitionStatus<'d>,
    /// `Err(why)` when the person may not request it: its `by:` names roles they do not
    /// hold or, when it names none, they hold none of the workflow's roles (as `decide`
    /// rules, through [`crate::access::may_request`]).
    pub may_request: Result<(), String>,
}

impl Standing<'_> {
    /// Whether `actor`, as evaluated, may take the transition now.
    pub fn open_to_them(&self) -> bool {
        self.may_request.is_ok() && self.status.allowed()
    }
}

/// Every transition leaving the case's state, with its status and whether `actor` may
/// request it.
pub fn evaluate<'d>(def: &'d Definition, case: &'d CaseSnapshot, actor: &Actor, now: Timestamp) -> Vec<Standing<'d>> {
    let ev = Evaluator::new(def, case, now);
    def.outgoing(&case.state)
        .map(|t| Standing { status: ev.transition(t), may_request: crate::access::may_request(def, t, actor) })
        .collect()
}

/// Evaluates gates for one case at one instant. Builds the CEL bindings once, and only
/// when a rule or `when` needs them.
pub struct Evaluator<'a> {
    def: &'a Definition,
    case: &'a CaseSnapshot,
    now: Zoned,
    bindings: OnceCell<Bindings<'a>>,
}

impl<'a> Evaluator<'a> {
    /// An evaluator for `case` at `now`.
    pub fn new(def: &'a Definition, case: &'a CaseSnapshot, now: Timestamp) -> Self {
        Evaluator { def, case, now: now.to_zoned(def.timezone.clone()), bindings: OnceCell::new() }
    }

    /// The status of one transition.
    pub fn transition<'d>(&self, t: &'d Transition) -> TransitionStatus<'d> {
        let applies = match &t.when {
            None => Ok(()),
            Some(expr) => match evaluate_bool(expr, self.bindings()) {
                Ok(true) => Ok(()),
                Ok(false) => Err(format!("does not apply to this case (`{}` is false)", expr.text())),
                Err(e) => Err(format!("cannot tell whether it applies: {e}")),
            },
        };
        let mut unmet = Vec::new();
        for g in &t.gates {
            self.collect_unmet(g, &mut unmet);
        }
        TransitionStatus { transition: t, applies, unmet }
    }

    /// Whether `gate` holds.
    pub fn holds(&self, gate: &Gate) -> bool {
        self.unmet(gate).is_empty()
    }

    /// The unmet parts of `gate` (none when it holds).
    pub fn unmet(&self, gate: &Gate) -> Vec<Unmet> {
        let mut unmet = Vec::new();
        self.collect_unmet(gate, &mut unmet);
        unmet
    }

    /// Push the unmet parts of `gate`: `all` reports each unmet child, the others report
    /// themselves.
    fn collect_unmet(&self, gate: &Gate, out: &mut Vec<Unmet>) {
        let unmet = |message: String| Unmet {
            gate: gate.id.clone(),
            kind: gate.kind.name(),
            message: gate.explain.clone().unwrap_or(message),
            source: gate.source.clone(),
        };
        match &gate.kind {
            GateKind::Evidence(id) => {
                if let Err(m) = self.evidence_held(id) {
                    out.push(unmet(m));
                }
            }
            GateKind::Checklist(id) => {
                if let Err(m) = self.checklist_complete(id) {
                    out.push(unmet(m));
                }
            }
            GateKind::Approval(a) => {
                if let Err(m) = self.approved(a) {
                    out.push(unmet(m));
                }
            }
            GateKind::Rule(expr) => match evaluate_bool(expr, self.bindings()) {
                Ok(true) => {}
                Ok(false) => out.push(unmet(format!("rule `{}` does not hold", expr.text()))),
                Err(e) => {
                    let mut u = unmet(format!("rule `{}` cannot be checked", expr.text()));
                    u.message = format!("{} (cannot be checked yet: {e})", u.message);
                    out.push(u);
                }
            },
            GateKind::Children(c) => {
                if let Err((m, waiting)) = self.children_in(c) {
                    let mut u = unmet(m);
                    // A gate's own sentence still says which children it waits for.
                    if let (Some(_), Some(waiting)) = (&gate.explain, waiting) {
                        u.message = format!("{} (still waiting: {waiting})", u.message.trim_end_matches('.'));
                    }
                    out.push(u);
                }
            }
            GateKind::All(gates) => gates.iter().for_each(|g| self.collect_unmet(g, out)),
            GateKind::Any(gates) => {
                let mut reasons = Vec::new();
                for g in gates {
                    let mut inner = Vec::new();
                    self.collect_unmet(g, &mut inner);
                    if inner.is_empty() {
                        return;
                    }
                    reasons.push(inner.iter().map(|u| u.message.as_str()).collect::<Vec<_>>().join("; "));
                }
                out.push(unmet(format!("one of these is needed: {}", reasons.join(" — or — "))));
            }
        }
    }

    /// Enough children of the group opened, and each in one of the gate's states. The
    /// error is the sentence, and which children are not there yet, when some are not.
    fn children_in(&self, gate: &ChildrenGate) -> Result<(), (String, Option<String>)> {
        let one = self.def.children.get(&gate.group).map_or(gate.group.as_str(), |g| g.one.as_str());
        let ours: Vec<_> = self.case.children.iter().filter(|c| c.group == gate.group).collect();
        let states: Vec<String> = gate.states.iter().map(|s| format!("`{s}`")).collect();
        let states = or_list(&states);
        if (ours.len() as u32) < gate.at_least {
            let have = match ours.len() {
                0 => "none has".to_string(),
                1 => "1 has".to_string(),
                n => format!("{n} have"),
            };
            let m = format!(
                "at least {} {one}{} must be opened and {states}; {have} been opened",
                gate.at_least,
                if gate.at_least == 1 { "" } else { "s" }
            );
            return Err((m, None));
        }
        let waiting: Vec<String> = ours
            .iter()
            .filter(|c| !gate.states.iter().any(|s| s.as_str() == c.state))
            .map(|c| format!("{one} {} is in `{}`", c.number, c.state))
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        let waiting = waiting.join(", ");
        Err((format!("every {one} must be {states}: {waiting}"), Some(waiting)))
    }

    fn evidence_held(&self, id: &EvidenceId) -> Result<(), String> {
        let ev = &self.def.evidence[id];
        let Some(record) = self.case.evidence.get(id) else {
            return Err(match &ev.from {
                Some(role) => format!("{} has not been received from {}", ev.title, self.def.roles[role].title),
                None => format!("{} has not been attached", ev.title),
            });
        };
        if let Some(valid_for) = &ev.valid_for {
            let attached = record.at.to_zoned(self.def.timezone.clone());
            if let Ok(expires) = valid_for.add_to(&attached, self.def.calendar.as_deref())
                && expires <= self.now
            {
                return Err(format!(
                    "{} expired on {} (it is valid for {}); attach a current one",
                    ev.title,
                    expires.date(),
                    valid_for.human()
                ));
            }
        }
        Ok(())
    }

    fn checklist_complete(&self, id: &EvidenceId) -> Result<(), String> {
        let ev = &self.def.evidence[id];
        let EvidenceKind::Checklist(items) = &ev.kind else { return self.evidence_held(id) };
        let answers = match self.case.evidence.get(id).map(|r| &r.content) {
            Some(EvidenceContent::Checklist(a)) => a,
            _ => return Err(format!("{} has not been completed", ev.title)),
        };
        // Only a yes passes, or an n/a where the item allows it. The workflow's rule is
        // applied here as well as when answers are given, so that answers recorded
        // under another rule (a hand-edited row, say) cannot pass a gate this one would
        // not.
        let (mut no, mut na, mut missing) = (Vec::new(), Vec::new(), Vec::new());
        for item in items {
            match answers.get(&item.id).map(|(a, _)| a) {
                Some(Answer::Yes) => {}
                Some(Answer::NotApplicable) if item.allow_na => {}
                Some(Answer::NotApplicable) => na.push(item.label.as_str()),
                Some(Answer::No) => no.push(item.label.as_str()),
                None => missing.push(item.label.as_str()),
            }
        }
        let parts: Vec<String> = [
            ("answered no", no),
            ("answered n/a, which the workflow does not allow", na),
            ("not yet answered", missing),
        ]
        .into_iter()
        .filter(|(_, labels)| !labels.is_empty())
        .map(|(what, labels)| format!("{what}: {}", labels.join(", ")))
        .collect();
        if parts.is_empty() { Ok(()) } else { Err(format!("{}: {}", ev.title, parts.join("; "))) }
    }

    fn approved(&self, gate: &ApprovalGate) -> Result<(), String> {
        let role = &self.def.roles[&gate.role];
        let excluded = |who: &str| {
            gate.not_by.iter().any(|s| match s {
                Separation::Submitter => self.case.entered_by == who,
                Separation::Creator => self.case.created_by == who,
            })
        };
        let conflicted = |who: &str| self.case.conflicts.iter().any(|c| c.role == gate.role && c.by == who);
        // The latest verdict of each member in this visit of the state.
        let mut latest: BTreeMap<&str, &ApprovalRecord> = BTreeMap::new();
        for a in self.case.approvals.iter().filter(|a| a.role == gate.role && a.visit == self.case.visit) {
            latest.insert(a.by.as_str(), a);
        }
        let counting = latest.iter().filter(|(who, a)| a.conflict.is_none() && !conflicted(who) && !excluded(who));
        let mut approvals = 0;
        let mut rejections = Vec::new();
        let mut stale = Vec::new();
        for (who, a) in counting {
            // An approval given before what it approved changed no longer counts.
            if let Some(why) = crate::basis::stale(self.def, self.case, a) {
                stale.push(format!("{who} {why}"));
                continue;
            }
            match a.verdict {
                Verdict::Approve => approvals += 1,
                Verdict::Reject => rejections.push(match &a.comment {
                    Some(c) => format!("{who} (\"{c}\")"),
                    None => who.to_string(),
                }),
            }
        }
        if !rejections.is_empty() {
            return Err(format!("{} rejected: {}", role.title, rejections.join(", ")));
        }
        if approvals < gate.quorum {
            let needs = if gate.quorum == 1 {
                format!("needs approval from {}", role.title)
            } else {
                format!("needs approval from {} members of {}", gate.quorum, role.title)
            };
            let separation = if gate.not_by.is_empty() {
                String::new()
            } else {
                let who: Vec<&str> = gate
                    .not_by
                    .iter()
                    .map(|s| match s {
                        Separation::Submitter => "whoever submitted it",
                        Separation::Creator => "whoever opened the case",
                    })
                    .collect();
                format!(", not {}", who.join(" or "))
            };
            let stale = if stale.is_empty() {
                String::new()
            } else {
                format!("; no longer counting, as what was approved has changed: {}", stale.join("; "))
            };
            return Err(format!("{needs}{separation} ({approvals} of {} so far{stale})", gate.quorum));
        }
        Ok(())
    }

    pub(crate) fn bindings(&self) -> &Bindings<'a> {
        self.bindings.get_or_init(|| {
            let fields = self.case.fields.iter().map(|(k, v)| {
                let f = match v {
                    FieldValue::Text(s) => CelField::Text(s),
                    FieldValue::Pence(p) => CelField::Number(*p as f64 / 100.0),
                    FieldValue::Number(n) => CelField::Number(*n),
                    FieldValue::Integer(n) => CelField::Integer(*n),
                    FieldValue::Bool(b) => CelField::Bool(*b),
                    FieldValue::Date(d) => CelField::Date(*d),
                };
                (k.as_str(), f)
            });
            let params: Vec<(&str, &crate::definition::ParamValue)> =
                self.def.params.iter().map(|(k, v)| (k.as_str(), v)).collect();
            Bindings::new(self.case.state.as_str(), fields, &params, &self.now, self.def.calendar.clone())
        })
    }
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}
