//! What a provider's emailed link asks for. A provider sees the case's title, state and
//! the evidence the link asks for (and whether each is in), not the rest of the case:
//! internal comments and approvals are not theirs to read.

use super::Http;
use super::auth::Caller;
use super::problem::{Kind, Problem};
use crate::app::CaseView;
use axum::Json;
use axum::extract::State;
use gatehouse_adapters::links::LinkClaims;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// What a link asks for.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkView {
    /// The case.
    pub case_id: i64,
    /// The workflow's title.
    pub workflow: String,
    /// The state the case is in.
    pub state: String,
    /// The role the holder acts as.
    pub role: String,
    /// When the link stops working (RFC 3339).
    pub expires_at: String,
    /// The evidence asked for.
    pub asked: Vec<Asked>,
}

/// One thing asked for.
#[derive(Debug, Serialize, ToSchema)]
pub struct Asked {
    /// The evidence type (the `type` to send).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its title.
    pub title: String,
    /// `document`, `checklist` or `acknowledgement`.
    pub evidence_kind: String,
    /// What it is, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When it was provided, if it has been.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provided_at: Option<String>,
}

/// For a provider's link token: the case and what is asked of them.
#[utoipa::path(get, path = "/api/link", tag = "links",
    responses((status = 200, body = LinkView),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "Altered or expired link"),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "A user's token, not a link")),
    security(("bearer" = [])))]
pub async fn asked(State(http): State<Arc<Http>>, caller: Caller) -> Result<Json<LinkView>, Problem> {
    let Some(claims) = caller.link else {
        return Err(Problem::new(Kind::Forbidden, "this route is for a provider's link token"));
    };
    let view = http.app.case(claims.case_id).await?;
    Ok(Json(link_view(&claims, &view)))
}

/// What a link holder may see of a case: what the link asks for, and whether each is in.
/// Every answer to a link holder is this, so that none carries the rest of the case.
pub fn link_view(claims: &LinkClaims, view: &CaseView) -> LinkView {
    let def = &view.definition;
    let asked = claims
        .evidence
        .iter()
        .filter_map(|id| def.evidence_kind(id))
        .map(|(id, e)| Asked {
            kind: id.to_string(),
            title: e.title.clone(),
            evidence_kind: e.kind.name().into(),
            description: e.description.clone(),
            provided_at: view.case.evidence.get(id).map(|r| r.at.to_string()),
        })
        .collect();
    LinkView {
        case_id: claims.case_id,
        workflow: def.title.clone(),
        state: def.states.get(&view.case.state).map(|s| s.title.clone()).unwrap_or_default(),
        role: claims.role.clone(),
        expires_at: claims.expires_at.to_string(),
        asked,
    }
}
