//! Drafts of workflows over the API, for governance members' scripts: the same service
//! calls as the drafts pages (`crate::app::drafts`).

use super::Http;
use super::auth::Staff;
use super::extract::{Json, Path, Query};
use super::problem::Problem;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_adapters::store::drafts::DraftRow;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// A draft, with what checking it found.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftDto {
    /// Its id.
    pub id: i64,
    /// The workflow it changes (or adds).
    pub workflow: String,
    /// `draft`, `proposed`, `published` or `discarded`.
    pub status: String,
    /// Bumped by every save; a save or step names the revision it was made on.
    pub revision: i64,
    /// Who started it.
    pub author: String,
    /// The published version it started from; none for a new workflow.
    pub based_on: Option<i32>,
    /// The version it was published as.
    pub published_version: Option<i32>,
    /// The version it would be published as now.
    pub version: u32,
    /// Its YAML.
    pub source: String,
    /// Every problem the loader found, each at its line and column.
    pub problems: Vec<DraftProblem>,
    /// Its scenarios' results, when it loads.
    pub scenarios: Vec<ScenarioResult>,
    /// What it changes from the version it started from, in words, when it loads.
    pub changes: Option<Vec<String>>,
    /// The letter templates it sends and those changed in it.
    pub templates: Vec<DraftTemplate>,
    /// The working-day calendar it counts with and any changed in it.
    pub calendars: Vec<DraftCalendar>,
    /// Who has approved it as it stands.
    pub approvals: Vec<String>,
    /// How many approvals it needs.
    pub quorum: usize,
}

/// A letter template of a draft.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftTemplate {
    /// Its name (`templates/<name>.txt` in a workflows folder).
    pub name: String,
    /// `Subject:` line, blank line, body (minijinja).
    pub text: String,
    /// The HTML version, when there is one.
    pub html: Option<String>,
    /// Whether the draft changed or added it.
    pub changed: bool,
}

/// A working-day calendar of a draft.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftCalendar {
    /// Its name (`calendars/<name>.yaml` in a workflows folder).
    pub name: String,
    /// Its YAML.
    pub text: String,
    /// Whether the draft changed or added it.
    pub changed: bool,
}

/// Save a letter template in a draft, made on `revision`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveTemplate {
    /// `Subject:` line, blank line, body.
    pub text: String,
    /// The HTML version (optional).
    pub html: Option<String>,
    /// The revision it was edited from.
    pub revision: i64,
}

/// Save a working-day calendar in a draft, made on `revision`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveCalendar {
    /// Its YAML: `title:`, `weekend:`, `holidays:`.
    pub text: String,
    /// The revision it was edited from.
    pub revision: i64,
}

/// A problem in a draft.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftProblem {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// `error` or `warning`.
    pub severity: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

/// One scenario's result.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScenarioResult {
    /// Its name.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Where and why it failed.
    pub failure: Option<String>,
}

/// Start a draft: from a published workflow's latest version, or from new YAML.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDraft {
    /// A published workflow to change.
    pub workflow: Option<String>,
    /// A new workflow's YAML (when `workflow` is absent).
    pub source: Option<String>,
}

/// Save a draft's text, made on `revision`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveDraft {
    /// The YAML.
    pub source: String,
    /// The revision it was edited from.
    pub revision: i64,
}

/// A step of a draft's review, made on `revision`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftStep {
    /// The revision the caller saw.
    pub revision: i64,
}

/// Draft `id` as `actor` now reads it, checked: what every change to a draft answers.
async fn answer(http: &Http, actor: &gatehouse_engine::snapshot::Actor, id: i64) -> Result<Response, Problem> {
    let row = http.app.draft(actor, id).await?;
    Ok(axum::Json(dto(http, row).await?).into_response())
}

async fn dto(http: &Http, row: DraftRow) -> Result<DraftDto, Problem> {
    let check = http.app.check_draft(&row).await?;
    let approvals = http.app.draft_approvals(&row).await?;
    let changes = match (&check.definition, http.app.draft_base(&row)) {
        (Some(def), Some(base)) => Some(gatehouse_engine::changes::changes(&base, def)),
        _ => None,
    };
    let files = http.app.draft_files(&row, check.definition.as_ref())?;
    Ok(DraftDto {
        id: row.id,
        workflow: row.workflow_id,
        status: row.status,
        revision: row.revision,
        author: row.author,
        based_on: row.based_on,
        published_version: row.published_version,
        version: check.version,
        source: row.source,
        problems: check
            .problems
            .iter()
            .map(|d| DraftProblem {
                line: d.line,
                column: d.column,
                severity: if d.is_error() { "error" } else { "warning" }.into(),
                message: d.message.clone(),
                hint: d.hint.clone(),
            })
            .collect(),
        scenarios: check
            .scenarios
            .iter()
            .map(|o| ScenarioResult {
                name: o.name.clone(),
                passed: o.failure.is_none(),
                failure: o.failure.as_ref().map(|(line, m)| format!("line {line}: {m}")),
            })
            .collect(),
        changes,
        templates: files
            .templates
            .into_iter()
            .map(|(name, t, changed)| DraftTemplate { name, text: t.text, html: t.html, changed })
            .collect(),
        calendars: files
            .calendars
            .into_iter()
            .map(|(name, c, changed)| DraftCalendar { name, text: c.source.clone(), changed })
            .collect(),
        approvals,
        quorum: http.app.governance().quorum,
    })
}

/// A draft in the list: what it is, not what checking it finds.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftSummary {
    /// Its id (`GET /api/drafts/{id}` for its checks).
    pub id: i64,
    /// The workflow it changes (or adds).
    pub workflow: String,
    /// `draft`, `proposed`, `published` or `discarded`.
    pub status: String,
    /// Its revision.
    pub revision: i64,
    /// Who started it.
    pub author: String,
    /// The published version it started from.
    pub based_on: Option<i32>,
    /// The version it was published as.
    pub published_version: Option<i32>,
}

/// Every draft, the most recently changed first, without their checks (which load and
/// run each one's scenarios: read one draft for them).
#[utoipa::path(get, path = "/api/drafts", tag = "drafts",
    responses((status = 200, body = Vec<DraftSummary>), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list(State(http): State<Arc<Http>>, Staff(caller): Staff) -> Result<Response, Problem> {
    let rows = http.app.drafts(&caller.actor).await?;
    let out: Vec<DraftSummary> = rows
        .into_iter()
        .map(|r| DraftSummary {
            id: r.id,
            workflow: r.workflow_id,
            status: r.status,
            revision: r.revision,
            author: r.author,
            based_on: r.based_on,
            published_version: r.published_version,
        })
        .collect();
    Ok(axum::Json(out).into_response())
}

/// Start a draft.
#[utoipa::path(post, path = "/api/drafts", tag = "drafts", request_body = NewDraft,
    responses((status = 201, body = DraftDto), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create(
    State(http): State<Arc<Http>>,
    Staff(caller): Staff,
    Json(body): Json<NewDraft>,
) -> Result<Response, Problem> {
    let id = match (&body.workflow, &body.source) {
        (Some(w), None) => http.app.start_draft(&caller.actor, w).await?,
        (None, Some(s)) => http.app.start_new_draft(&caller.actor, s).await?,
        _ => {
            return Err(Problem::field(
                super::problem::Kind::InvalidInput,
                "workflow",
                "give either `workflow` (a published workflow to change) or `source` (a new workflow's YAML)",
            ));
        }
    };
    let row = http.app.draft(&caller.actor, id).await?;
    let location = format!("/api/drafts/{id}");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(dto(&http, row).await?)).into_response())
}

/// A draft, checked: its problems at their lines, its scenarios, what it changes.
#[utoipa::path(get, path = "/api/drafts/{id}", tag = "drafts",
    params(("id" = i64, Path, description = "The draft id")),
    responses((status = 200, body = DraftDto), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get(
    State(http): State<Arc<Http>>,
    Staff(caller): Staff,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    answer(&http, &caller.actor, id).await
}

/// Save a draft's YAML, made on `revision`; a draft with errors is saved all the same.
#[utoipa::path(put, path = "/api/drafts/{id}", tag = "drafts", request_body = SaveDraft,
    params(("id" = i64, Path, description = "The draft id")),
    responses((status = 200, body = DraftDto),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Saved by someone else since `revision`: nothing was written"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn save(
    State(http): State<Arc<Http>>,
    Staff(caller): Staff,
    Path(id): Path<i64>,
    Json(body): Json<SaveDraft>,
) -> Result<Response, Problem> {
    http.app.save_draft(&caller.actor, id, body.revision, &body.source).await?;
    answer(&http, &caller.actor, id).await
}

/// A step of the review: `propose`, `approve`, `publish` or `discard`.
#[utoipa::path(post, path = "/api/drafts/{id}/{step}", tag = "drafts", request_body = DraftStep,
    params(("id" = i64, Path, description = "The draft id"), ("step" = String, Path, description = "`propose`, `approve`, `publish` or `discard`")),
    responses((status = 200, body = DraftDto),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "Not a governance member, or the author approving their own draft"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Not possible now (errors, too few approvals), or changed since `revision`")),
    security(("bearer" = [])))]
pub async fn step(
    State(http): State<Arc<Http>>,
    Staff(caller): Staff,
    Path((id, step)): Path<(i64, String)>,
    Json(body): Json<DraftStep>,
) -> Result<Response, Problem> {
    let (actor, revision) = (&caller.actor, body.revision);
    match step.as_str() {
        "propose" => http.app.propose_draft(actor, id, revision).await.map(|_| ())?,
        "approve" => http.app.approve_draft(actor, id, revision).await?,
        "publish" => http.app.publish_draft(actor, id, revision).await.map(|_| ())?,
        "discard" => http.app.discard_draft(actor, id, revision).await?,
        other => {
            return Err(Problem::new(
                super::problem::Kind::NotFound,
                format!("`{other}` is not a step of a draft's review"),
            ));
        }
    }
    answer(&http, &caller.actor, id).await
}

/// The revision the caller saw, for undoing a change.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Revision {
    /// The revision the caller saw.
    pub revision: i64,
}

/// Save a letter template in a draft (a changed one, or a new one its timers can send),
/// made on `revision`; saved with errors all the same, which the draft's check lists.
#[utoipa::path(put, path = "/api/drafts/{id}/templates/{name}", tag = "drafts", request_body = SaveTemplate,
    params(("id" = i64, Path, description = "The draft id"), ("name" = String, Path, description = "The template's name")),
    responses((status = 200, body = DraftDto),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Saved by someone else since `revision`: nothing was written"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn save_template(
    State(http): State<Arc<Http>>,
    Staff(caller): Staff,
    Path((id, name)): Path<(i64, String)>,
    Json(body): Json<SaveTemplate>,
) -> Result<Response, Problem> {
    http.app.save_draft_template(&caller.actor, id, body.revision, &name, Some((body.text, body.html))).await?;
    answer(&http, &caller.actor, id).await
}

/// Undo a draft's change to a letter template: back to the one it started with.
#[utoipa::path(delete, path = "/api/drafts/{id}/templates/{name}", tag = "drafts",
    params(("id" = i64, Path, description = "The draft id"), ("name" = String, Path, description = "The template's name"), Revision),
    responses((status = 200, body = DraftDto),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Saved by someone else since `revision`")),
    security(("bearer" = [])))]
pub async fn reset_template(
    State(http): State<Arc<Http>>,
    Staff(caller): Staff,
    Path((id, name)): Path<(i64, String)>,
    Query(q): Query<Revision>,
) -> Result<Response, Problem> {
    http.app.save_draft_template(&caller.actor, id, q.revision, &name, None).await?;
    answer(&http, &caller.actor, id).await
}

/// Save a working-day calendar in a draft, made on `revision`. One that does not parse
/// is refused (422, saying where), nothing saved.
#[utoipa::path(put, path = "/api/drafts/{id}/calendars/{name}", tag = "drafts", request_body = SaveCalendar,
    params(("id" = i64, Path, description = "The draft id"), ("name" = String, Path, description = "The calendar's name")),
    responses((status = 200, body = DraftDto),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Saved by someone else since `revision`: nothing was written"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "The calendar does not parse")),
    security(("bearer" = [])))]
pub async fn save_calendar(
    State(http): State<Arc<Http>>,
    Staff(caller): Staff,
    Path((id, name)): Path<(i64, String)>,
    Json(body): Json<SaveCalendar>,
) -> Result<Response, Problem> {
    http.app.save_draft_calendar(&caller.actor, id, body.revision, &name, Some(body.text)).await?;
    answer(&http, &caller.actor, id).await
}

/// Undo a draft's change to a calendar: back to the one it started with.
#[utoipa::path(delete, path = "/api/drafts/{id}/calendars/{name}", tag = "drafts",
    params(("id" = i64, Path, description = "The draft id"), ("name" = String, Path, description = "The calendar's name"), Revision),
    responses((status = 200, body = DraftDto),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "Saved by someone else since `revision`")),
    security(("bearer" = [])))]
pub async fn reset_calendar(
    State(http): State<Arc<Http>>,
    Staff(caller): Staff,
    Path((id, name)): Path<(i64, String)>,
    Query(q): Query<Revision>,
) -> Result<Response, Problem> {
    http.app.save_draft_calendar(&caller.actor, id, q.revision, &name, None).await?;
    answer(&http, &caller.actor, id).await
}
