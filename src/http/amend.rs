//! Amendments: changing a field a taken transition relied on (a locked field), as the
//! workflow's `amend:` allows, with a reason kept in the audit trail. Whether it may
//! happen, and where the case goes when the new value breaks a rule it already passed,
//! is the engine's call (`gatehouse_engine::locks`).

use super::Http;
use super::auth::Staff;
use super::dto::{CaseDto, inputs};
use super::extract::{Json, Path};
use super::problem::{Kind, Problem};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use gatehouse_engine::Definition;
use gatehouse_engine::snapshot::CaseSnapshot;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::ToSchema;

/// An amendment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Amendment {
    /// New values by field id; `null` clears an optional field.
    #[serde(deserialize_with = "super::dto::unique_keys::deserialize")]
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Why the amendment is made: required, kept in the audit trail with the old and new
    /// values.
    #[serde(default)]
    pub reason: Option<String>,
}

/// A locked field: a taken transition relied on it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LockDto {
    /// The field.
    pub field: String,
    /// The transition that relied on it.
    pub transition: String,
    /// When that transition was taken (RFC 3339).
    pub since: String,
    /// The roles that may amend it; empty when the workflow lets no one.
    pub amend_by: Vec<String>,
}

/// Each locked field of `case`, with what locked it and who may amend it.
pub fn locks(def: &Definition, case: &CaseSnapshot) -> Vec<LockDto> {
    def.fields
        .keys()
        .filter_map(|f| {
            let reliance = case.locked_by(f)?;
            Some(LockDto {
                field: f.to_string(),
                transition: reliance.transition.to_string(),
                since: reliance.at.to_string(),
                amend_by: def.amend_rule(f).map(|a| a.by.iter().map(|r| r.to_string()).collect()).unwrap_or_default(),
            })
        })
        .collect()
}

/// Amend fields, with a reason. A field a taken transition relied on can be changed
/// only this way, by a role the workflow's `amend:` names; when the new value would have
/// failed a rule the case already passed, the case goes where the workflow says
/// (`back_to`), or the amendment is refused naming the rule.
#[utoipa::path(post, path = "/api/cases/{id}/amendments", tag = "cases", request_body = Amendment,
    params(("id" = i64, Path, description = "The case id")),
    responses((status = 200, body = CaseDto, description = "Amended; the case as it is now (sent back, when the amendment broke a rule it had passed)"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "No reason, or a wrong value"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "The caller may not amend that field"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The amendment would break a rule the case passed, and the workflow says nowhere to send it; or nothing would change")),
    security(("bearer" = [])))]
pub async fn amend(
    State(http): State<Arc<Http>>,
    Staff(caller): Staff,
    Path(id): Path<i64>,
    Json(body): Json<Amendment>,
) -> Result<Response, Problem> {
    let fields = inputs(body.fields).map_err(|(field, message)| Problem::field(Kind::InvalidInput, field, message))?;
    let view = http.app.amend(&caller.actor, id, fields, body.reason.unwrap_or_default()).await?;
    Ok(axum::Json(CaseDto::from(&view)).into_response())
}
