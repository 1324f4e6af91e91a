//! The workflows pages: the catalogue, one workflow with its published versions, and
//! its policy document.

use super::pages::*;
use super::render;
use super::session::Session;
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
    let def = match http.app.workflow(&id) {
        Ok(d) => d,
        Err(e) => return app_error_page(e),
    };
    let detail = crate::http::dto::WorkflowDetail::from(def.as_ref());
    let mut ctx = base(&session, "workflows");
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
                    "changes": changes_from_previous(&http, &def.id, &versions, v.version as u32)}))
                .collect::<Vec<_>>()
        ),
    );
    render(StatusCode::OK, "workflow.html", Value::Object(ctx))
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
