//! The workflow catalogue.

use super::Http;
use super::auth::Staff;
use super::dto::{ChangesQuery, DiagramQuery, WorkflowChanges, WorkflowDetail, WorkflowSummary};
use super::extract::{Path, Query};
use super::problem::{Kind, Problem};
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::sync::Arc;

/// Every workflow new cases can be opened on.
#[utoipa::path(get, path = "/api/workflows", tag = "workflows",
    responses((status = 200, body = Vec<WorkflowSummary>), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list(State(http): State<Arc<Http>>, _: Staff) -> Result<Json<Vec<WorkflowSummary>>, Problem> {
    Ok(Json(http.app.workflows().iter().map(|d| WorkflowSummary::from(d.as_ref())).collect()))
}

/// A workflow: its roles, fields, evidence, states, transitions and gates.
#[utoipa::path(get, path = "/api/workflows/{id}", tag = "workflows",
    params(("id" = String, Path, description = "The workflow id")),
    responses((status = 200, body = WorkflowDetail), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get(
    State(http): State<Arc<Http>>,
    _: Staff,
    Path(id): Path<String>,
) -> Result<Json<WorkflowDetail>, Problem> {
    let def = http.app.workflow(&id)?;
    Ok(Json(WorkflowDetail::from(def.as_ref())))
}

/// What changed between two published versions of a workflow, in words.
#[utoipa::path(get, path = "/api/workflows/{id}/changes", tag = "workflows",
    params(("id" = String, Path, description = "The workflow id"), ChangesQuery),
    responses((status = 200, body = WorkflowChanges),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such workflow or version")),
    security(("bearer" = [])))]
pub async fn changes(
    State(http): State<Arc<Http>>,
    _: Staff,
    Path(id): Path<String>,
    Query(q): Query<ChangesQuery>,
) -> Result<Json<WorkflowChanges>, Problem> {
    let to = match q.to {
        Some(v) => v,
        None => http.app.workflow(&id)?.version,
    };
    let from = q.from.unwrap_or(to.saturating_sub(1));
    let changes = http.app.changes(&id, from, to)?;
    Ok(Json(WorkflowChanges { workflow: id, from, to, changes }))
}

/// The state diagram, as Mermaid or Graphviz dot text, or as SVG.
#[utoipa::path(get, path = "/api/workflows/{id}/diagram", tag = "workflows",
    params(("id" = String, Path, description = "The workflow id"), DiagramQuery),
    responses((status = 200, body = String, content_type = "text/plain"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn diagram(
    State(http): State<Arc<Http>>,
    _: Staff,
    Path(id): Path<String>,
    Query(q): Query<DiagramQuery>,
) -> Result<impl IntoResponse, Problem> {
    let def = http.app.workflow(&id)?;
    let (text, content_type) = match q.format.as_deref().unwrap_or("mermaid") {
        "mermaid" => (gatehouse_engine::graph::mermaid(&def), "text/plain; charset=utf-8"),
        "dot" => (gatehouse_engine::graph::dot(&def), "text/plain; charset=utf-8"),
        "svg" => (gatehouse_engine::graph::svg(&def, &Default::default(), &diagram_title(&def)), "image/svg+xml"),
        other => {
            return Err(Problem::field(
                Kind::InvalidInput,
                "format",
                format!("`{other}` is not a diagram format; use `mermaid`, `dot` or `svg`"),
            ));
        }
    };
    Ok(([(header::CONTENT_TYPE, content_type)], text))
}

/// What a workflow's state diagram is called, for people using a screen reader.
pub fn diagram_title(def: &gatehouse_engine::Definition) -> String {
    format!("State diagram of {} (version {})", def.title, def.version)
}
