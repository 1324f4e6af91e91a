//! The case page's part in locked facts and bound approvals: which details are locked
//! (and by what), which decisions no longer count (and why), and the form that amends a
//! locked detail with a reason.

use super::pages::{after, forbidden_csrf};
use super::session::Session;
use crate::http::Http;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use gatehouse_engine::Definition;
use gatehouse_engine::fields::Input;
use gatehouse_engine::snapshot::{Actor, ApprovalRecord, CaseSnapshot};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A field on the "Details" list.
#[derive(Serialize)]
pub(super) struct FieldLine {
    title: String,
    value: String,
    /// What locked it, when something did.
    locked: Option<String>,
}

/// A locked field the reader may amend.
#[derive(Serialize)]
pub(super) struct AmendChoice {
    id: String,
    title: String,
    kind: &'static str,
    value: String,
}

/// For the "Details" list: each field set, and what locked it.
pub(super) fn details(
    def: &Definition,
    case: &CaseSnapshot,
    at: impl Fn(&jiff::Timestamp) -> String,
) -> Vec<FieldLine> {
    def.fields
        .iter()
        .filter_map(|(fid, f)| {
            let value = case.fields.get(fid)?;
            let locked = case.locked_by(fid).map(|r| {
                let by = def.transition(r.transition.as_str()).map_or(r.transition.to_string(), |t| t.title.clone());
                format!("Locked: “{by}” relied on it, {}", at(&r.at))
            });
            Some(FieldLine { title: f.title.clone(), value: value.display(), locked })
        })
        .collect()
}

/// Why `approval` no longer counts, for the "Decisions" list.
pub(super) fn stale(def: &Definition, case: &CaseSnapshot, approval: &ApprovalRecord) -> Option<String> {
    gatehouse_engine::basis::stale(def, case, approval)
}

/// The locked fields `actor` may amend, for the amendment form.
pub(super) fn amendable(def: &Definition, case: &CaseSnapshot, actor: &Actor) -> Vec<AmendChoice> {
    if def.states.get(&case.state).is_some_and(|s| s.terminal) {
        return Vec::new();
    }
    def.fields
        .iter()
        .filter(|(fid, _)| case.locked_by(fid).is_some())
        .filter(|(fid, _)| gatehouse_engine::locks::may_amend(def, case, fid, actor).is_ok())
        .map(|(fid, f)| AmendChoice {
            id: fid.to_string(),
            title: f.title.clone(),
            kind: f.kind.name(),
            value: case.fields.get(fid).map(|v| v.display()).unwrap_or_default(),
        })
        .collect()
}

#[derive(Deserialize)]
pub struct AmendForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    field: String,
    value: Option<String>,
    reason: Option<String>,
}

/// Amend one locked detail, with a reason: the engine decides whether it may, and where
/// the case goes when the new value breaks a rule it passed.
pub async fn amend(
    State(http): State<Arc<Http>>,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<AmendForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return forbidden_csrf();
    }
    let value = form.value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let input = value.map_or(Input::Null, Input::Text);
    let reason = form.reason.unwrap_or_default();
    let result = http.app.amend(&session.actor, id, vec![(form.field, input)], reason).await;
    after(&http, &session, id, result, "amended").await
}
