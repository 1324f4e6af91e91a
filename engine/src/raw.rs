//! The serde mirror of a workflow file. Everything here is as written; `load` turns it
//! into a checked `Definition` or a list of diagnostics.

use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefinition {
    pub id: String,
    pub version: u32,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub calendar: Option<String>,
    #[serde(default)]
    pub params: IndexMap<String, serde_yaml::Value>,
    #[serde(default)]
    pub roles: IndexMap<String, RawRole>,
    #[serde(default)]
    pub fields: IndexMap<String, RawField>,
    #[serde(default)]
    pub evidence: IndexMap<String, RawEvidence>,
    pub states: IndexMap<String, RawState>,
    #[serde(default)]
    pub transitions: Vec<RawTransition>,
    #[serde(default)]
    pub timers: Vec<RawTimer>,
    #[serde(default)]
    pub schedules: Vec<RawSchedule>,
    #[serde(default)]
    pub tests: Vec<RawScenario>,
    #[serde(default)]
    pub contract: Option<RawContract>,
}

/// `contract:`: which fields hold a case's contract, and the notice it must be given.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawContract {
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub ends: Option<String>,
    #[serde(default)]
    pub directorate: Option<String>,
    #[serde(default)]
    pub notice: Option<RawNotice>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotice {
    pub state: String,
    #[serde(default)]
    pub until: Option<String>,
    pub months: serde_yaml::Value,
    #[serde(default)]
    pub when: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRole {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub external: bool,
    #[serde(default)]
    pub email_field: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawFieldType {
    Text,
    Email,
    Money,
    Number,
    Integer,
    Boolean,
    Date,
    Choice,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawField {
    #[serde(rename = "type")]
    pub kind: RawFieldType,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub choices: Vec<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawEvidenceKind {
    Document,
    Checklist,
    Acknowledgement,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEvidence {
    pub title: String,
    pub kind: RawEvidenceKind,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub valid_for: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub items: IndexMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawState {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub initial: bool,
    #[serde(default)]
    pub terminal: bool,
    #[serde(default)]
    pub stage: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTransition {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub from: OneOrMany,
    pub to: String,
    #[serde(default)]
    pub by: Option<OneOrMany>,
    #[serde(default)]
    pub when: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub gates: Vec<RawGate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGate {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub explain: Option<String>,
    #[serde(default)]
    pub evidence: Option<String>,
    #[serde(default)]
    pub checklist: Option<String>,
    #[serde(default)]
    pub approval: Option<RawApproval>,
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub all: Option<Vec<RawGate>>,
    #[serde(default)]
    pub any: Option<Vec<RawGate>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApproval {
    pub role: String,
    #[serde(default)]
    pub quorum: Option<u32>,
    #[serde(default)]
    pub not_by: Option<OneOrMany>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSend {
    pub to: OneOrMany,
    pub template: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimer {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub on_enter: Option<String>,
    #[serde(default, rename = "in")]
    pub in_state: Option<String>,
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub offset: Option<String>,
    #[serde(default)]
    pub every: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
    #[serde(default)]
    pub until: Option<RawGate>,
    #[serde(default)]
    pub send: Option<RawSend>,
    #[serde(default)]
    pub fire: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSchedule {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    pub cron: String,
    pub send: RawSend,
    #[serde(default)]
    pub source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub name: String,
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub users: IndexMap<String, Vec<String>>,
    // Steps are written `- create: {…}`: a one-key map, not a YAML tag.
    #[serde(with = "serde_yaml::with::singleton_map_recursive")]
    pub steps: Vec<RawStep>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum RawStep {
    Create(RawCreate),
    Set(IndexMap<String, serde_yaml::Value>),
    Attach(RawAttach),
    Answer(RawAnswer),
    Approve(RawApprove),
    Reject(RawApprove),
    DeclareConflict(RawConflict),
    Transition(RawTransitionStep),
    Advance(String),
    ExpectState(String),
    ExpectAllowed(String),
    ExpectBlocked(RawExpectBlocked),
    ExpectRefused(RawTransitionStep),
    ExpectSent(RawExpectSent),
    ExpectNotSent(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCreate {
    #[serde(default)]
    pub fields: IndexMap<String, serde_yaml::Value>,
    #[serde(default, rename = "as")]
    pub actor: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum RawAttach {
    Id(String),
    Full(RawAttachFull),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAttachFull {
    pub evidence: String,
    #[serde(default, rename = "as")]
    pub actor: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum RawAnswer {
    Id(String),
    Full(RawAnswerFull),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAnswerFull {
    pub checklist: String,
    #[serde(default)]
    pub items: IndexMap<String, bool>,
    #[serde(default, rename = "as")]
    pub actor: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApprove {
    pub role: String,
    #[serde(default, rename = "as")]
    pub actor: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub meeting: Option<RawMeeting>,
    #[serde(default)]
    pub conflict: Option<String>,
    /// The approval is expected to be refused (separation of duties, say).
    #[serde(default)]
    pub refused: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMeeting {
    pub name: String,
    pub date: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConflict {
    pub role: String,
    #[serde(rename = "as")]
    pub actor: Option<String>,
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum RawTransitionStep {
    Id(String),
    Full(RawTransitionFull),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTransitionFull {
    pub transition: String,
    #[serde(default, rename = "as")]
    pub actor: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpectBlocked {
    pub transition: String,
    #[serde(default)]
    pub missing: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpectSent {
    pub template: String,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub count: Option<u32>,
}
