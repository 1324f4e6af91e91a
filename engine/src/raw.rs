//! The serde mirror of a workflow file. Everything here is as written; `load` turns it
//! into a checked `Definition` or a list of diagnostics.

use crate::values::Answer;
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::fmt;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefinition {
    pub id: String,
    pub version: u32,
    pub title: String,
    #[serde(default)]
    pub organisation: Option<String>,
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
    #[serde(default)]
    pub amend: Option<RawAmend>,
    #[serde(default)]
    pub mutants: Option<RawMutants>,
    #[serde(default)]
    pub children: IndexMap<String, RawChildGroup>,
    #[serde(default)]
    pub parent: Option<String>,
}

/// `children: <id>:`: a kind of child case this workflow's cases open.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChildGroup {
    pub workflow: String,
    /// What one is called ("application").
    pub one: String,
    pub open_in: OneOrMany,
    pub by: OneOrMany,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub local_policy: Option<String>,
}

/// `mutants:`: what `gatehouse test --mutants` should know about this workflow.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMutants {
    #[serde(default)]
    pub equivalent: Vec<RawEquivalent>,
}

/// A mutant no scenario can tell apart from the workflow, and why.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEquivalent {
    pub mutant: String,
    pub why: String,
}

/// `amend:` on the workflow or a field: who may change a locked field, and where an
/// amendment that breaks a rule the case already passed sends it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAmend {
    pub by: OneOrMany,
    #[serde(default)]
    pub back_to: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub local_policy: Option<String>,
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
    #[serde(default)]
    pub amend: Option<RawAmend>,
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
    pub items: IndexMap<String, RawItem>,
}

/// A checklist item: `id: Label`, or `id: { label: Label, allow_na: true }`.
pub(crate) struct RawItem {
    pub label: String,
    pub allow_na: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItemFull {
    label: String,
    #[serde(default)]
    allow_na: bool,
}

impl<'de> Deserialize<'de> for RawItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a label, or a map with `label` and `allow_na`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawItem, E> {
                Ok(RawItem { label: s.to_string(), allow_na: false })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawItem, A::Error> {
                // Through the derived struct, so an unknown key is named as serde names it.
                let full = RawItemFull::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawItem { label: full.label, allow_na: full.allow_na })
            }
        }
        d.deserialize_any(V)
    }
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
    /// Not in the source documents: why it is our own choice (instead of `source`).
    #[serde(default)]
    pub local_policy: Option<String>,
    #[serde(default)]
    pub gates: Vec<RawGate>,
    /// Fields emptied when the transition is taken.
    #[serde(default)]
    pub clears: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGate {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    /// Not in the source documents: why it is our own choice (instead of `source`).
    #[serde(default)]
    pub local_policy: Option<String>,
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
    pub children: Option<String>,
    /// For `children:`: the child states every child must be in.
    #[serde(default, rename = "in")]
    pub in_states: Option<OneOrMany>,
    /// For `children:`: how many must have been opened (1 when absent).
    #[serde(default)]
    pub at_least: Option<u32>,
    #[serde(default)]
    pub all: Option<Vec<RawGate>>,
    #[serde(default)]
    pub any: Option<Vec<RawGate>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApproval {
    pub role: String,
    /// A whole number, or `params.<id>` naming one (so that a local choice of quorum is
    /// a param that says so).
    #[serde(default)]
    pub quorum: Option<serde_yaml::Value>,
    #[serde(default)]
    pub not_by: Option<OneOrMany>,
    /// The fields and evidence the approval rests on; all of the case's when absent.
    #[serde(default)]
    pub covers: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSend {
    pub to: OneOrMany,
    pub template: String,
    /// Fields the letter must state (the reasons for a decision, say): checked against
    /// the template when the workflow loads, and in every letter a scenario sends.
    #[serde(default)]
    pub must_state: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimer {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    /// Not in the source documents: why it is our own choice (instead of `source`).
    #[serde(default)]
    pub local_policy: Option<String>,
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
    pub unless: Option<RawGate>,
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
    ExpectRefused(RawRefused),
    Amend(RawAmendStep),
    ExpectSent(RawExpectSent),
    ExpectNotSent(String),
    /// The case's child cases, by group: the state of each, numbered from 1.
    Children(IndexMap<String, Vec<String>>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCreate {
    #[serde(default)]
    pub fields: IndexMap<String, serde_yaml::Value>,
    /// For a child workflow (`parent:`): the parent case's fields, as its letters show
    /// them.
    #[serde(default)]
    pub parent: IndexMap<String, String>,
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

/// `answer: dims` (every item yes) or `answer: { checklist: dims, items: {…} }`.
pub(crate) enum RawAnswer {
    Id(String),
    Full(RawAnswerFull),
}

impl<'de> Deserialize<'de> for RawAnswer {
    // Not `untagged`: that would report any mistake inside the map as "did not match
    // any variant", without saying which key or answer is wrong.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawAnswer;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a checklist id, or a map with `checklist` and `items`")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawAnswer, E> {
                Ok(RawAnswer::Id(s.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawAnswer, A::Error> {
                RawAnswerFull::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawAnswer::Full)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAnswerFull {
    pub checklist: String,
    #[serde(default)]
    pub items: IndexMap<String, RawItemAnswer>,
    #[serde(default, rename = "as")]
    pub actor: Option<String>,
    /// The answers are expected to be refused (an n/a the workflow does not allow).
    #[serde(default)]
    pub refused: bool,
}

/// One item's answer in a scenario: `yes`, `no`, `n/a`, or `true`/`false` for yes/no.
#[derive(Clone, Copy)]
pub(crate) struct RawItemAnswer(pub Answer);

impl<'de> Deserialize<'de> for RawItemAnswer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawItemAnswer;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("yes, no or n/a")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<RawItemAnswer, E> {
                Ok(RawItemAnswer(if b { Answer::Yes } else { Answer::No }))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawItemAnswer, E> {
                match s {
                    "yes" => Ok(RawItemAnswer(Answer::Yes)),
                    "no" => Ok(RawItemAnswer(Answer::No)),
                    "n/a" => Ok(RawItemAnswer(Answer::NotApplicable)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(s), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
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

/// `expect_refused:` a transition (`id`, or `{ transition, as }`), or a change of fields:
/// `{ set: {…} }` or `{ amend: {…} }`, optionally `saying:` text the refusal must contain.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum RawRefused {
    Transition(RawTransitionStep),
    Change(RawRefusedChange),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRefusedChange {
    #[serde(default)]
    pub set: Option<IndexMap<String, serde_yaml::Value>>,
    #[serde(default)]
    pub amend: Option<RawAmendStep>,
    #[serde(default)]
    pub saying: Option<String>,
}

/// `amend: { fields: {…}, reason: …, as: … }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAmendStep {
    pub fields: IndexMap<String, serde_yaml::Value>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default, rename = "as")]
    pub actor: Option<String>,
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
