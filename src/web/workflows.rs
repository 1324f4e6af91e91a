//! The workflows pages: the catalogue, one workflow with its published versions, and
//! its policy document.

use super::pages::*;
use super::render;
use super::session::{Session, SignedForm};
use crate::http::Http;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

pub async fn workflows(State(http): State<Arc<Http>>, session: Session) -> Response {
    let mut ctx = base(&session, "workflows");
    ctx.insert("workflows".into(), workflows_json(&http));
    render(StatusCode::OK, "workflows.html", Value::Object(ctx))
}

pub async fn workflow(State(http): State<Arc<Http>>, session: Session, Path(id): Path<String>) -> Response {
    workflow_page(&http, &session, &id, StatusCode::OK, None, Vec::new(), Value::Null).await
}

/// The workflow page, with the report of a migration of its open cases when there is
/// one, and `errors` for the migration form.
async fn workflow_page(
    http: &Http,
    session: &Session,
    id: &str,
    status: StatusCode,
    report: Option<Value>,
    errors: Vec<Value>,
    entered: Value,
) -> Response {
    let id = id.to_string();
    let def = match http.app.workflow(&id) {
        Ok(d) => d,
        Err(e) => return app_error_page(e),
    };
    let detail = crate::http::dto::WorkflowDetail::from(def.as_ref());
    let mut ctx = base(session, "workflows");
    ctx.insert(
        "w".into(),
        json!({"id": def.id, "title": def.title, "version": def.version, "description": def.description}),
    );
    ctx.insert("transitions".into(), serde_json::to_value(&detail.transitions).unwrap_or_default());
    ctx.insert("mermaid".into(), json!(gatehouse_engine::graph::mermaid(&def)));
    let title = crate::http::workflows::diagram_title(&def);
    ctx.insert("diagram".into(), json!(diagram_svg(&def, &title)));
    let versions = match http.app.published_versions(&def.id).await {
        Ok(v) => v,
        Err(e) => return app_error_page(e),
    };
    let at = |t: jiff::Timestamp| t.to_zoned(def.timezone.clone()).strftime("%-d %B %Y %H:%M").to_string();
    ctx.insert(
        "versions".into(),
        json!(
            versions
                .iter()
                .rev()
                .map(|v| json!({"version": v.version, "sha256": v.sha256.get(..12).unwrap_or(&v.sha256),
                    "published_at": at(v.published_at), "cases": v.cases, "latest": v.version as u32 == def.version,
                    "changes": changes_from_previous(http, &def.id, &versions, v.version as u32)}))
                .collect::<Vec<_>>()
        ),
    );
    ctx.insert("governs".into(), json!(http.app.governs(&session.actor)));
    // The workflow's changes made in the product: every draft's steps, newest first.
    let history = match http.app.store().draft_history(&def.id).await {
        Ok(h) => h,
        Err(e) => return app_error_page(e.into()),
    };
    ctx.insert(
        "draft_history".into(),
        json!(
            history
                .iter()
                .rev()
                .take(50)
                .map(|e| json!({"at": e.at.format("%-d %B %Y %H:%M").to_string(),
            "actor": e.actor, "draft": e.draft_id, "detail": e.detail}))
                .collect::<Vec<_>>()
        ),
    );
    ctx.insert(
        "older_cases".into(),
        json!(versions.iter().filter(|v| v.version as u32 != def.version).map(|v| v.cases).sum::<i64>()),
    );
    ctx.insert("report".into(), json!(report));
    ctx.insert("entered".into(), entered);
    ctx.insert("errors".into(), json!(errors));
    render(status, "workflow.html", Value::Object(ctx))
}

/// `POST /workflows/{id}/migrate`: move its open cases to its latest version (or, with
/// `action=preview`, say what would happen), for a governance member.
pub async fn migrate(
    State(http): State<Arc<Http>>,
    Path(id): Path<String>,
    SignedForm { session, fields: form }: SignedForm,
) -> Response {
    let map = form
        .get("map")
        .map(|m| m.split([',', '\n']).map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    let states = form
        .get("states")
        .map(|m| m.split([',', ' ', '\n']).map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect())
        .unwrap_or_default();
    let dry_run = form.get("action").map(String::as_str) != Some("move");
    // What was entered stays in the form, to move the cases once the preview is right.
    let entered = json!({"map": form.get("map"), "states": form.get("states")});
    let req =
        crate::app::migration::MigrateRequest { workflow: id.clone(), map, states, dry_run, ..Default::default() };
    match http.app.migrate_cases(&session.actor, &req).await {
        Ok(report) => {
            let (moved, refused) = report.counts();
            let report = json!({
                "dry_run": report.dry_run, "to": report.to_version, "moved": moved, "refused": refused,
                "moves": report.moves.iter().map(|m| match &m.outcome {
                    Ok((state, impact)) => json!({"case": m.case_id, "from": m.from_version, "state": state, "lines": impact, "ok": true}),
                    Err(why) => json!({"case": m.case_id, "from": m.from_version, "lines": [why], "ok": false}),
                }).collect::<Vec<_>>(),
            });
            workflow_page(&http, &session, &id, StatusCode::OK, Some(report), Vec::new(), entered).await
        }
        Err(crate::app::AppError::Invalid(p)) => {
            let errors = p.into_iter().map(|p| error_item(p.message, Some("#map".into()))).collect();
            workflow_page(&http, &session, &id, StatusCode::UNPROCESSABLE_ENTITY, None, errors, entered).await
        }
        Err(e) => app_error_page(e),
    }
}

/// What changed in version `version` from the published version before it, in words,
/// for the versions table: `{"first": true}` for the first version, `{"changes": […]}`,
/// or `{"unavailable": true}` when either is not loaded on this server (it no longer
/// loads, or was published elsewhere seconds ago and is not read yet).
fn changes_from_previous(
    http: &Http,
    id: &str,
    versions: &[gatehouse_adapters::store::PublishedVersion],
    version: u32,
) -> Value {
    let Some(previous) = versions.iter().map(|v| v.version as u32).filter(|v| *v < version).max() else {
        return json!({"first": true});
    };
    match http.app.changes(id, previous, version) {
        Ok(changes) => json!({"changes": changes}),
        Err(_) => json!({"unavailable": true}),
    }
}

/// A workflow's diagram, marking nothing, called `title`.
pub(super) fn diagram_svg(def: &gatehouse_engine::Definition, title: &str) -> String {
    gatehouse_engine::graph::svg(def, &Default::default(), title)
}

/// The workflow as a standalone policy document (the same as `gatehouse explain`).
pub async fn policy(State(http): State<Arc<Http>>, session: Session, Path(id): Path<String>) -> Response {
    let _ = &session;
    match http.app.workflow(&id) {
        Ok(def) => policy_response(&def),
        Err(e) => app_error_page(e),
    }
}

/// `def` as a policy document page, which carries its own inline stylesheet.
pub(super) fn policy_response(def: &gatehouse_engine::Definition) -> Response {
    let html = gatehouse_engine::explain::html(def);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; img-src data:"),
        ],
        html,
    )
        .into_response()
}
