//! The JSON shapes of the API. They are written out here rather than derived from the
//! engine's types so that the API stays the same when the engine's insides change.

use super::problem::UnmetGate;
use crate::app::{CaseView, TransitionView};
use gatehouse_adapters::store::CaseRow;
use gatehouse_engine::fields::Input;
use gatehouse_engine::snapshot::{Answer, EvidenceContent, FieldValue, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

mod case;
mod workflow;
pub use case::*;
pub use workflow::*;

// ---------------------------------------------------------------------------------------
// Cases

/// Open a case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCase {
    /// The workflow (its latest version).
    pub workflow: String,
    /// Field values by id.
    #[serde(default, deserialize_with = "unique_keys::deserialize")]
    #[schema(schema_with = field_values)]
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// Change fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldsChange {
    /// Field values by id; `null` clears an optional field.
    #[serde(deserialize_with = "unique_keys::deserialize")]
    #[schema(schema_with = field_values)]
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// Field values by id: each a string, number, boolean or null (a field takes one value;
/// which type each field takes is in the workflow, `GET /api/workflows/{id}`).
fn field_values() -> utoipa::openapi::Object {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type};
    let scalar = |t: Type| ObjectBuilder::new().schema_type(t).build();
    let one = OneOfBuilder::new()
        .item(scalar(Type::String))
        .item(scalar(Type::Number))
        .item(scalar(Type::Boolean))
        .item(scalar(Type::Null))
        .build();
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(Schema::OneOf(one)))))
        .build()
}

/// JSON field values as the engine takes them. Arrays and objects are not field values.
pub fn inputs(fields: BTreeMap<String, serde_json::Value>) -> Result<Vec<(String, Input)>, (String, String)> {
    fields
        .into_iter()
        .map(|(k, v)| {
            let input = match v {
                serde_json::Value::Null => Input::Null,
                serde_json::Value::Bool(b) => Input::Bool(b),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) => Input::Int(i),
                    None => Input::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
                serde_json::Value::String(s) => Input::Text(s),
                other => {
                    let what = if other.is_array() { "a list" } else { "an object" };
                    return Err((format!("fields.{k}"), format!("is {what}; a field takes one value")));
                }
            };
            Ok((k, input))
        })
        .collect()
}

/// The list filter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CaseQuery {
    /// Only cases of this workflow.
    pub workflow: Option<String>,
    /// Only cases in this state.
    pub state: Option<String>,
    /// Only cases with an id above this (the `next_after` of the previous page).
    pub after: Option<i64>,
    /// At most this many (1 to 500; 100 when not given).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

/// A page of cases.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseList {
    /// The cases, by id.
    pub cases: Vec<CaseSummary>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<i64>,
}

/// A case in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseSummary {
    /// Its id.
    pub id: i64,
    /// Its workflow.
    pub workflow: String,
    /// The workflow version it is pinned to.
    pub workflow_version: i32,
    /// Its state.
    pub state: String,
    /// Its version (bumped by every change).
    pub version: i64,
    /// Who opened it.
    pub created_by: String,
    /// The commissioner responsible for it (a user's email address).
    pub owner: String,
    /// When (RFC 3339).
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

impl From<&CaseRow> for CaseSummary {
    fn from(r: &CaseRow) -> Self {
        CaseSummary {
            id: r.id,
            workflow: r.workflow_id.clone(),
            workflow_version: r.workflow_version,
            state: r.state.clone(),
            version: r.version,
            created_by: r.created_by.clone(),
            owner: r.owner.clone(),
            created_at: r.created_at.to_rfc3339(),
            updated_at: r.updated_at.to_rfc3339(),
        }
    }
}

/// Checklist answers or an acknowledgement, sent as JSON.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceJson {
    /// The evidence type.
    #[serde(rename = "type")]
    pub kind: String,
    /// For a checklist: answers by item id, each `"yes"`, `"no"`, `"n/a"` or
    /// `{"answer": …, "note": …}`. They add to earlier answers.
    #[serde(default, deserialize_with = "unique_keys::optional")]
    #[schema(value_type = Option<Object>)]
    pub answers: Option<BTreeMap<String, serde_json::Value>>,
    /// For an acknowledgement: an optional note.
    #[serde(default)]
    pub note: Option<String>,
}

/// Record an approval or rejection.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// The role it is given as; the caller must hold it.
    pub role: String,
    /// `approve` or `reject`.
    pub decision: ApprovalDecision,
    /// A comment (a rejection should say why).
    #[serde(default)]
    pub comment: Option<String>,
    /// The meeting where it was decided.
    #[serde(default)]
    pub meeting: Option<MeetingDto>,
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalDecision {
    /// In favour.
    Approve,
    /// Against; blocks the gate.
    Reject,
}

/// Give a case to another commissioner to be responsible for.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerRequest {
    /// The email address of a user who holds one of the workflow's roles.
    pub owner: String,
}

/// Declare a conflict of interest.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConflictRequest {
    /// The role the caller holds and will not count toward on this case.
    pub role: String,
    /// Why.
    pub reason: String,
}

/// Move a case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// The transition's id.
    pub transition: String,
    /// The case version the requester saw; a case changed since is a 409.
    #[serde(default, deserialize_with = "whole_number::deserialize")]
    #[schema(minimum = 1)]
    pub expected_version: Option<i64>,
}

/// The audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditTrail {
    /// Every event, oldest first.
    pub events: Vec<EventDto>,
    /// Whether each event's hash matches its content and the event before it.
    pub chain_intact: bool,
    /// The first broken link, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken: Option<BrokenDto>,
}

/// One event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventDto {
    /// Its number within the case, from 1.
    pub seq: i64,
    /// What happened.
    pub kind: String,
    /// Who did it.
    pub actor: String,
    /// When (RFC 3339).
    pub at: String,
    /// The details.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Hash of this event chained to the previous one.
    pub hash: String,
}

/// Where the chain breaks.
#[derive(Debug, Serialize, ToSchema)]
pub struct BrokenDto {
    /// The first bad event.
    pub seq: i64,
    /// What is wrong.
    pub reason: String,
}

/// Who the caller is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// Email, or `link:<role>` for a provider link.
    pub id: String,
    /// Roles held.
    pub roles: Vec<String>,
    /// For a provider link: the case it reaches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<i64>,
}

/// The health check.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: String,
}

/// A whole number, also when written `7.0` (JSON Schema counts that as an integer, and
/// some clients write every number that way).
mod whole_number {
    use serde::{Deserialize, Deserializer, de::Error};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<serde_json::Number>::deserialize(d)? {
            None => Ok(None),
            Some(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("`{n}` is not a whole number"))),
        }
    }
}

/// A JSON object whose keys each appear once. serde_json keeps the last of a repeated
/// key, so `{"annual_value": 5, "annual_value": 700000}` would quietly mean the second:
/// a repeated key is refused instead, with its path (`fields.annual_value`) as the field
/// at fault.
pub(crate) mod unique_keys {
    use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, Visitor};
    use serde::{Deserialize, de::DeserializeOwned};
    use std::collections::BTreeMap;
    use std::marker::PhantomData;

    pub fn deserialize<'de, D: Deserializer<'de>, V: DeserializeOwned>(d: D) -> Result<BTreeMap<String, V>, D::Error> {
        d.deserialize_map(Unique(PhantomData))
    }

    pub fn optional<'de, D: Deserializer<'de>, V: DeserializeOwned>(
        d: D,
    ) -> Result<Option<BTreeMap<String, V>>, D::Error> {
        Ok(Option::<Map<V>>::deserialize(d)?.map(|m| m.0))
    }

    struct Map<V>(BTreeMap<String, V>);

    impl<'de, V: DeserializeOwned> Deserialize<'de> for Map<V> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            deserialize(d).map(Map)
        }
    }

    struct Unique<V>(PhantomData<V>);

    impl<'de, V: DeserializeOwned> Visitor<'de> for Unique<V> {
        type Value = BTreeMap<String, V>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<String>()? {
                if out.contains_key(&key) {
                    // Refused while reading the repeated key's value, so that the error
                    // carries the key in its path.
                    let Err(e) = map.next_value_seed(Repeated);
                    return Err(e);
                }
                let value = map.next_value()?;
                out.insert(key, value);
            }
            Ok(out)
        }
    }

    struct Repeated;

    impl<'de> DeserializeSeed<'de> for Repeated {
        type Value = std::convert::Infallible;

        fn deserialize<D: Deserializer<'de>>(self, _: D) -> Result<Self::Value, D::Error> {
            Err(D::Error::custom("is given more than once; send each key once"))
        }
    }
}

/// A date as YYYY-MM-DD.
mod date_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(d: &jiff::civil::Date, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(d)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<jiff::civil::Date, D::Error> {
        let text = String::deserialize(d)?;
        text.trim().parse().map_err(|_| D::Error::custom(format!("`{text}` is not a date (YYYY-MM-DD)")))
    }
}
