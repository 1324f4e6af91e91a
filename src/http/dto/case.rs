//! A case as the API shows it: its fields, evidence, approvals, timers, related cases
//! and where each next step stands.

use super::*;

/// A case, and where each next step stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseDto {
    /// Its id.
    pub id: i64,
    /// Its workflow.
    pub workflow: String,
    /// The workflow version it is pinned to.
    pub workflow_version: u32,
    /// Its state.
    pub state: String,
    /// The state's title.
    pub state_title: String,
    /// Its version: send it back as `expected_version` to move the case only if nobody
    /// else changed it since.
    pub version: i64,
    /// Field values by id. Money is in pounds.
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// The current evidence of each type held.
    pub evidence: Vec<EvidenceDto>,
    /// Approvals and rejections given in the current visit to this state and before.
    pub approvals: Vec<ApprovalDto>,
    /// Fields a taken transition relied on, which only an amendment can change.
    pub locks: Vec<crate::http::amend::LockDto>,
    /// Armed timers.
    pub timers: Vec<TimerDto>,
    /// Each transition out of the current state: allowed, or every unmet gate.
    pub transitions: Vec<NextStep>,
    /// Who opened it and when (RFC 3339).
    pub created_by: String,
    /// The commissioner responsible for it (a user's email address): who opened it,
    /// until it is reassigned (`PUT /api/cases/{id}/owner`). Its letters name them.
    pub owner: String,
    /// When it was opened.
    pub created_at: String,
    /// When it entered its current state.
    pub entered_at: String,
    /// Its child cases (`children:` of its workflow: the applications of a grant round),
    /// each with the state it is in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildDto>,
    /// The case it was opened from, for a child case (an application's grant round).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentDto>,
}

/// The case a child case was opened from.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParentDto {
    /// Its id (`GET /api/cases/{id}`).
    pub id: i64,
    /// Its workflow.
    pub workflow: String,
    /// The state it is in.
    pub state: String,
}

/// A child case, as its parent lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChildDto {
    /// Its id (`GET /api/cases/{id}`).
    pub id: i64,
    /// Its kind (`children:` of the parent's workflow).
    pub group: String,
    /// Its number within the kind, from 1.
    pub number: u32,
    /// The state it is in.
    pub state: String,
}

/// Open a child case (`children:` of the parent's workflow), on the latest version of
/// the workflow the kind names.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChild {
    /// The kind of child case (`applications`).
    pub group: String,
    /// The child's field values by id.
    #[serde(default, deserialize_with = "unique_keys::deserialize")]
    #[schema(schema_with = field_values)]
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// A piece of evidence held.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceDto {
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who provided it.
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
    /// For a document: its name, size, media type and sha256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileDto>,
    /// For a checklist: the answers by item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answers: Option<BTreeMap<String, AnswerDto>>,
    /// For an acknowledgement: its note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A stored document.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileDto {
    /// The name as uploaded.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Media type.
    pub media_type: String,
    /// sha256 of the content, hex.
    pub sha256: String,
}

/// An answer to a checklist item.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AnswerDto {
    /// `yes`, `no` or `n/a`.
    pub answer: String,
    /// A note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An approval or rejection.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalDto {
    /// The role it was given as.
    pub role: String,
    /// `approve` or `reject`.
    pub decision: String,
    /// Who gave it.
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
    /// Which visit to the state it belongs to (only the current visit counts).
    pub visit: u32,
    /// The comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The meeting it was given at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meeting: Option<MeetingDto>,
    /// A digest (sha256, hex) of what it approved: each field and document it rests on,
    /// as they were. Absent on approvals recorded before approvals were bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Why it no longer counts, when what it approved has changed since ("approved on
    /// 2026-03-03, before Equality impact assessment was replaced on 2026-03-05").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale: Option<String>,
}

/// A meeting.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeetingDto {
    /// Its name ("PIG, March 2027").
    pub name: String,
    /// Its date, YYYY-MM-DD.
    #[schema(value_type = String, format = Date)]
    #[serde(with = "date_text")]
    pub date: jiff::civil::Date,
}

/// An armed timer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimerDto {
    /// Its id.
    pub timer: String,
    /// When it fires (RFC 3339).
    pub due_at: String,
    /// How many times it has fired before.
    pub occurrence: u32,
}

/// A transition out of the current state.
#[derive(Debug, Serialize, ToSchema)]
pub struct NextStep {
    /// Its id.
    pub id: String,
    /// Where it goes.
    pub to: String,
    /// Whether it may happen now (for someone allowed to request it).
    pub allowed: bool,
    /// Whether the caller may request it: its `by:` names a role they hold or, when it
    /// names none, they hold one of the workflow's roles.
    pub may_request: bool,
    /// Why it does not apply to this case, when its `when` is false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_applicable: Option<String>,
    /// Every gate that does not hold.
    pub unmet: Vec<UnmetGate>,
}

impl From<&TransitionView> for NextStep {
    fn from(t: &TransitionView) -> Self {
        NextStep {
            id: t.id.to_string(),
            to: t.to.clone(),
            allowed: t.allowed,
            may_request: t.may_request,
            not_applicable: t.not_applicable.clone(),
            unmet: t.unmet.iter().map(UnmetGate::from).collect(),
        }
    }
}

/// A field value as JSON: text as a string, money in pounds (a number, as it is sent),
/// dates as YYYY-MM-DD.
pub fn field_json(v: &FieldValue) -> serde_json::Value {
    match v {
        FieldValue::Text(s) => s.clone().into(),
        FieldValue::Pence(p) if p % 100 == 0 => (p / 100).into(),
        FieldValue::Pence(p) => serde_json::Number::from_f64(*p as f64 / 100.0).map(Into::into).unwrap_or_default(),
        FieldValue::Number(n) => serde_json::Number::from_f64(*n).map(Into::into).unwrap_or(serde_json::Value::Null),
        FieldValue::Integer(i) => (*i).into(),
        FieldValue::Bool(b) => (*b).into(),
        FieldValue::Date(d) => d.to_string().into(),
    }
}

/// The name of an answer on the wire.
pub fn answer_name(a: Answer) -> &'static str {
    match a {
        Answer::Yes => "yes",
        Answer::No => "no",
        Answer::NotApplicable => "n/a",
    }
}

/// An answer from the wire.
pub fn parse_answer(s: &str) -> Option<Answer> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" => Some(Answer::Yes),
        "no" | "n" | "false" => Some(Answer::No),
        "n/a" | "na" | "not_applicable" | "not applicable" => Some(Answer::NotApplicable),
        _ => None,
    }
}

impl From<&CaseView> for CaseDto {
    fn from(v: &CaseView) -> Self {
        let c = &v.case;
        let d = &v.definition;
        CaseDto {
            id: c.id,
            workflow: d.id.clone(),
            workflow_version: d.version,
            state: c.state.to_string(),
            state_title: d.states.get(&c.state).map(|s| s.title.clone()).unwrap_or_default(),
            version: c.version,
            fields: c.fields.iter().map(|(k, v)| (k.to_string(), field_json(v))).collect(),
            evidence: c
                .evidence
                .values()
                .map(|e| {
                    let mut dto = EvidenceDto {
                        kind: e.evidence.to_string(),
                        by: e.by.clone(),
                        at: e.at.to_string(),
                        file: None,
                        answers: None,
                        note: None,
                    };
                    match &e.content {
                        EvidenceContent::Document { sha256, name, size, media_type } => {
                            dto.file = Some(FileDto {
                                name: name.clone(),
                                size: *size,
                                media_type: media_type.clone(),
                                sha256: sha256.clone(),
                            })
                        }
                        EvidenceContent::Checklist(answers) => {
                            dto.answers = Some(
                                answers
                                    .iter()
                                    .map(|(k, (a, note))| {
                                        (k.clone(), AnswerDto { answer: answer_name(*a).into(), note: note.clone() })
                                    })
                                    .collect(),
                            )
                        }
                        EvidenceContent::Acknowledgement { note } => dto.note = note.clone(),
                    }
                    dto
                })
                .collect(),
            approvals: c
                .approvals
                .iter()
                .map(|a| ApprovalDto {
                    role: a.role.to_string(),
                    decision: match a.verdict {
                        Verdict::Approve => "approve",
                        Verdict::Reject => "reject",
                    }
                    .into(),
                    by: a.by.clone(),
                    at: a.at.to_string(),
                    visit: a.visit,
                    comment: a.comment.clone(),
                    meeting: a.meeting.as_ref().map(|m| MeetingDto { name: m.name.clone(), date: m.date }),
                    digest: a.basis.as_ref().map(gatehouse_engine::basis::digest),
                    stale: gatehouse_engine::basis::stale(d, c, a),
                })
                .collect(),
            locks: crate::http::amend::locks(d, c),
            timers: c
                .timers
                .iter()
                .map(|t| TimerDto {
                    timer: t.timer.to_string(),
                    due_at: t.due_at.to_string(),
                    occurrence: t.occurrence,
                })
                .collect(),
            transitions: v.transitions.iter().map(NextStep::from).collect(),
            created_by: c.created_by.clone(),
            owner: c.owner.clone(),
            created_at: c.created_at.to_string(),
            entered_at: c.entered_at.to_string(),
            children: c
                .children
                .iter()
                .map(|k| ChildDto { id: k.id, group: k.group.clone(), number: k.number, state: k.state.clone() })
                .collect(),
            parent: c.parent.as_ref().map(|p| ParentDto {
                id: p.id,
                workflow: p.workflow.clone(),
                state: p.state.to_string(),
            }),
        }
    }
}
