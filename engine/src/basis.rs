//! Approvals bound to what they approved.
//!
//! An approval (or rejection) records its *basis*: each fact its step depends on, as it
//! was — the value of every field set and the current version of every piece of
//! evidence held when it was given, or only those the approval gate `covers:`. When one of them changes before the step is
//! taken the approval is *stale*: it stops counting, the case says why ("approved on
//! 2026-03-03, before Equality impact assessment was replaced on 2026-03-05"), and the
//! role's members are emailed to look again. Stale approvals stay in the history.

use crate::decision::{Decision, Message};
use crate::definition::{Definition, Fact, GateKind};
use crate::ids::{RoleId, StateId, TemplateName};
use crate::snapshot::{ApprovalRecord, Basis, CaseSnapshot, EvidenceContent, Verdict};
use sha2::{Digest, Sha256};

pub use crate::templates::STALE_TEMPLATE;

/// The facts an approval for `role` in `state` rests on: what its gates `cover`, or,
/// when any of them does not narrow it, every field and every piece of evidence.
pub fn facts(def: &Definition, state: &StateId, role: &RoleId) -> Vec<Fact> {
    let mut covers: Vec<Fact> = Vec::new();
    for t in def.outgoing(state) {
        let mut leaves = Vec::new();
        t.gates.iter().for_each(|g| g.leaves(&mut leaves));
        for leaf in leaves {
            if let GateKind::Approval(a) = &leaf.kind
                && &a.role == role
            {
                match &a.covers {
                    Some(c) => covers.extend(c.iter().cloned()),
                    None => return every_fact(def),
                }
            }
        }
    }
    covers.sort();
    covers.dedup();
    covers
}

fn every_fact(def: &Definition) -> Vec<Fact> {
    def.fields
        .keys()
        .map(|f| Fact::Field(f.clone()))
        .chain(def.evidence.keys().map(|e| Fact::Evidence(e.clone())))
        .collect()
}

/// The basis of an approval for `role` given now on `case`: each fact it rests on that
/// the case holds now (a field not yet set, or evidence not yet attached, is not part of
/// what was approved; the gates still ask for it).
pub fn of(def: &Definition, case: &CaseSnapshot, role: &RoleId) -> Basis {
    facts(def, &case.state, role)
        .iter()
        .map(|f| (key(f), fingerprint(case, f)))
        .filter(|(_, print)| !print.is_empty())
        .collect()
}

/// A short digest of `basis` (sha256, hex): what the approval saw, in one value.
pub fn digest(basis: &Basis) -> String {
    let mut h = Sha256::new();
    for (k, v) in basis {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

fn key(fact: &Fact) -> String {
    match fact {
        Fact::Field(f) => format!("field:{f}"),
        Fact::Evidence(e) => format!("evidence:{e}"),
    }
}

fn parse_key(key: &str) -> Option<(&str, &str)> {
    key.split_once(':')
}

/// A fact as it is on `case`: a field as shown to people, a document by its content's
/// sha256, checklist answers, an acknowledgement by when it was given. Empty when the
/// field is not set or the evidence is not held.
fn fingerprint(case: &CaseSnapshot, fact: &Fact) -> String {
    match fact {
        Fact::Field(f) => case.fields.get(f).map(|v| v.display()).unwrap_or_default(),
        Fact::Evidence(e) => evidence_fingerprint(case, e.as_str()),
    }
}

fn evidence_fingerprint(case: &CaseSnapshot, id: &str) -> String {
    let Some(record) = case.evidence.iter().find(|(k, _)| k.as_str() == id).map(|(_, r)| r) else {
        return String::new();
    };
    match &record.content {
        EvidenceContent::Document { sha256, .. } => format!("document {sha256}"),
        EvidenceContent::Checklist(answers) => {
            let parts: Vec<String> =
                answers.iter().map(|(k, (a, note))| format!("{k}={a:?}:{}", note.as_deref().unwrap_or(""))).collect();
            format!("checklist {}", parts.join(","))
        }
        EvidenceContent::Acknowledgement { .. } => format!("acknowledged {}", record.at),
    }
}

/// Why `approval` no longer counts on `case`, when it does not: what changed since it
/// was given. `None` when it still stands (or was recorded without a basis).
pub fn stale(def: &Definition, case: &CaseSnapshot, approval: &ApprovalRecord) -> Option<String> {
    let basis = approval.basis.as_ref()?;
    let mut changes = Vec::new();
    for (key, was) in basis {
        let Some((kind, id)) = parse_key(key) else { continue };
        match kind {
            "field" => {
                let Some((fid, field)) = def.fields.get_key_value(id) else { continue };
                let now = case.fields.get(fid).map(|v| v.display()).unwrap_or_default();
                if &now != was {
                    let shown = |v: &str| if v.is_empty() { "nothing".to_string() } else { v.to_string() };
                    changes.push(format!("{} changed from {} to {}", field.title, shown(was), shown(&now)));
                }
            }
            "evidence" => {
                let Some((eid, ev)) = def.evidence.get_key_value(id) else { continue };
                if &evidence_fingerprint(case, id) != was {
                    let on = case.evidence.get(eid).map(|r| r.at.to_zoned(def.timezone.clone()).date());
                    changes.push(match (on, was.is_empty()) {
                        (Some(on), true) => format!("{} was attached on {on}", ev.title),
                        (Some(on), false) => format!("{} was replaced on {on}", ev.title),
                        (None, _) => format!("{} was removed", ev.title),
                    });
                }
            }
            _ => {}
        }
    }
    if changes.is_empty() {
        return None;
    }
    let verb = match approval.verdict {
        Verdict::Approve => "approved",
        Verdict::Reject => "rejected",
    };
    Some(format!("{verb} on {}, before {}", def.day(approval.at), changes.join(" and ")))
}

/// Add to `decision` an email to each role whose approval in this visit it makes stale;
/// `after` is the case with the decision applied (its timers aside, which no approval
/// rests on).
pub(crate) fn tell_stale(
    def: &Definition,
    case: &CaseSnapshot,
    after: &CaseSnapshot,
    mut decision: Decision,
) -> Decision {
    if after.visit != case.visit {
        return decision; // the case moved on: approvals of the visit it left no longer matter
    }
    let mut roles: Vec<&RoleId> = Vec::new();
    for approval in case.approvals.iter().filter(|a| a.visit == case.visit) {
        if stale(def, case, approval).is_none()
            && stale(def, after, approval).is_some()
            && !roles.contains(&&approval.role)
        {
            roles.push(&approval.role);
        }
    }
    for role in roles {
        decision.messages.push(Message {
            to: vec![role.clone()],
            template: TemplateName::new(STALE_TEMPLATE),
            timer: None,
            key: format!("{}/stale/{role}/{}", case.visit, after.version),
            deadline: None,
        });
    }
    decision
}
