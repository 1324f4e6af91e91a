//! The JSON shapes of the workflow catalogue: a workflow's roles, fields, evidence,
//! states and transitions in words.

use gatehouse_engine::definition::{Definition, EvidenceKind, FieldType};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A workflow in the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowSummary {
    /// Its id.
    pub id: String,
    /// The version new cases open on.
    pub version: u32,
    /// Its title.
    pub title: String,
    /// The document it follows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// sha256 of the published file.
    pub sha256: String,
}

impl From<&Definition> for WorkflowSummary {
    fn from(d: &Definition) -> Self {
        WorkflowSummary {
            id: d.id.clone(),
            version: d.version,
            title: d.title.clone(),
            source: d.source.clone(),
            sha256: d.sha256.clone(),
        }
    }
}

/// A workflow in full: what a case holds and how it moves.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowDetail {
    /// Id, version, title, source.
    #[serde(flatten)]
    pub summary: WorkflowSummary,
    /// Its description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The state a new case starts in.
    pub initial: String,
    /// Roles.
    pub roles: Vec<RoleDto>,
    /// Case fields.
    pub fields: Vec<FieldDto>,
    /// Evidence types.
    pub evidence: Vec<EvidenceTypeDto>,
    /// States.
    pub states: Vec<StateDto>,
    /// Transitions with their gates.
    pub transitions: Vec<TransitionDto>,
}

/// A role.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleDto {
    /// Its id (users hold roles by id).
    pub id: String,
    /// Its title.
    pub title: String,
    /// Reached by signed email link, without an account.
    pub external: bool,
}

/// A case field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldDto {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// `text`, `email`, `money` (pounds: a number, or text such as "£1,234.50"), `number`, `integer`,
    /// `boolean`, `date` (YYYY-MM-DD) or `choice`.
    #[serde(rename = "type")]
    pub kind: String,
    /// For a choice: the values allowed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// Whether a case must have it.
    pub required: bool,
}

/// An evidence type.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceTypeDto {
    /// Its id (the `type` of an upload).
    pub id: String,
    /// Its title.
    pub title: String,
    /// `document`, `checklist` or `acknowledgement`.
    pub kind: String,
    /// A checklist's items, by id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ChecklistItemDto>,
    /// The role that must provide it, if only one may.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// How long it stays valid (ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_for: Option<String>,
}

/// A checklist item.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChecklistItemDto {
    /// Its id.
    pub id: String,
    /// Its label.
    pub label: String,
    /// Whether `"n/a"` is an answer that satisfies it; otherwise only `"yes"` does, and
    /// an `"n/a"` is refused.
    pub allow_na: bool,
}

/// A state.
#[derive(Debug, Serialize, ToSchema)]
pub struct StateDto {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// No transition leaves it.
    pub terminal: bool,
}

/// A transition and what it asks.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransitionDto {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The states it leaves.
    pub from: Vec<String>,
    /// The state it enters.
    pub to: String,
    /// The roles that may request it.
    pub by: Vec<String>,
    /// Its gates.
    pub gates: Vec<GateDto>,
}

/// A gate.
#[derive(Debug, Serialize, ToSchema)]
pub struct GateDto {
    /// Its id.
    pub id: String,
    /// `evidence`, `checklist`, `approval`, `rule`, `all` or `any`.
    pub kind: String,
    /// What it asks, in words.
    pub description: String,
    /// Where in the source document it comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl From<&Definition> for WorkflowDetail {
    fn from(d: &Definition) -> Self {
        WorkflowDetail {
            summary: d.into(),
            description: d.description.clone(),
            initial: d.initial.to_string(),
            roles: d
                .roles
                .iter()
                .map(|(id, r)| RoleDto { id: id.to_string(), title: r.title.clone(), external: r.is_external() })
                .collect(),
            fields: d
                .fields
                .iter()
                .map(|(id, f)| FieldDto {
                    id: id.to_string(),
                    title: f.title.clone(),
                    kind: f.kind.name().into(),
                    choices: match &f.kind {
                        FieldType::Choice(c) => c.clone(),
                        _ => Vec::new(),
                    },
                    required: f.required,
                })
                .collect(),
            evidence: d
                .evidence
                .iter()
                .map(|(id, e)| EvidenceTypeDto {
                    id: id.to_string(),
                    title: e.title.clone(),
                    kind: e.kind.name().into(),
                    items: match &e.kind {
                        EvidenceKind::Checklist(items) => items
                            .iter()
                            .map(|i| ChecklistItemDto {
                                id: i.id.clone(),
                                label: i.label.clone(),
                                allow_na: i.allow_na,
                            })
                            .collect(),
                        _ => Vec::new(),
                    },
                    from: e.from.as_ref().map(|r| r.to_string()),
                    valid_for: e.valid_for.as_ref().map(|v| v.to_string()),
                })
                .collect(),
            states: d
                .states
                .iter()
                .map(|(id, s)| StateDto { id: id.to_string(), title: s.title.clone(), terminal: s.terminal })
                .collect(),
            transitions: d
                .transitions
                .iter()
                .map(|t| TransitionDto {
                    id: t.id.to_string(),
                    title: t.title.clone(),
                    from: t.from.iter().map(|s| s.to_string()).collect(),
                    to: t.to.to_string(),
                    by: t.by.iter().map(|r| r.to_string()).collect(),
                    gates: t
                        .gates
                        .iter()
                        .map(|g| GateDto {
                            id: g.id.to_string(),
                            kind: g.kind.name().into(),
                            description: gatehouse_engine::explain::gate_text(d, g),
                            source: g.source.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// A diagram.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DiagramQuery {
    /// `mermaid` (the default), `dot`, or `svg` (drawn by Gatehouse, as the web pages show it).
    #[param(schema_with = diagram_format)]
    pub format: Option<String>,
}

fn diagram_format() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["mermaid", "dot", "svg"]))
        .default(Some(serde_json::json!("mermaid")))
        .build()
}

/// Which two versions to compare.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ChangesQuery {
    /// The earlier version; the one before `to` when absent.
    pub from: Option<u32>,
    /// The later version; the latest when absent.
    pub to: Option<u32>,
}

/// What changed between two versions of a workflow.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowChanges {
    /// The workflow.
    pub workflow: String,
    /// The earlier version.
    pub from: u32,
    /// The later version.
    pub to: u32,
    /// Each change in words ("param `notice_months` 3 → 4", "gate `eia` added to
    /// `submit`", "state `referred` removed"); empty when the rules are the same.
    pub changes: Vec<String>,
}
