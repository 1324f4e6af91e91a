//! The governance group's pages for changing workflows: the drafts list (start one from
//! a published workflow, or paste a new one), and a draft's page: its text in an editor,
//! every problem the loader finds listed and shown at its line, a preview (what it
//! changes in words, its scenarios, its diagram, its policy document), the open cases it
//! would affect, and the review: propose, approve, publish, with its history.

use super::pages::{app_error_page, base, error_item, forbidden_csrf};
use super::session::{Session, SignedForm};
use super::{render, workflows::diagram_svg};
use crate::app::AppError;
use crate::app::drafts::MAX_DRAFT_BYTES;
use crate::http::Http;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_adapters::store::drafts::{DraftRow, status};
use gatehouse_engine::templates;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const SAVED: &str = "The draft is saved.";

/// A notice after a redirect (`?done=saved`).
#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// `/drafts`: every draft, and the forms that start one.
pub async fn drafts(State(http): State<Arc<Http>>, session: Session) -> Response {
    list(&http, &session, StatusCode::OK, Vec::new(), "").await
}

async fn list(http: &Http, session: &Session, status: StatusCode, errors: Vec<Value>, pasted: &str) -> Response {
    let rows = match http.app.drafts(&session.actor).await {
        Ok(r) => r,
        Err(e) => return app_error_page(e),
    };
    let mut ctx = base(session, "drafts");
    ctx.insert(
        "drafts".into(),
        json!(
            rows.iter()
                .map(|d| json!({"id": d.id, "workflow": d.workflow_id, "status": d.status,
            "author": d.author, "revision": d.revision, "updated": d.updated_at.format("%-d %B %Y %H:%M").to_string(),
            "based_on": d.based_on, "published_version": d.published_version}))
                .collect::<Vec<_>>()
        ),
    );
    let workflows: Vec<Value> = http.app.workflows().iter().map(|d| json!({"id": d.id, "title": d.title})).collect();
    ctx.insert("workflows".into(), json!(workflows));
    ctx.insert("quorum".into(), json!(http.app.governance().quorum));
    ctx.insert("errors".into(), json!(errors));
    ctx.insert("pasted".into(), json!(pasted));
    render(status, "drafts.html", Value::Object(ctx))
}

/// `POST /drafts`: start a draft from a published workflow (`workflow`), or from pasted
/// text (`source`).
pub async fn start(State(http): State<Arc<Http>>, SignedForm { session, fields: form }: SignedForm) -> Response {
    let source = form.get("source").map(String::as_str).unwrap_or_default();
    let started = match form.get("workflow").filter(|w| !w.is_empty()) {
        Some(workflow) => http.app.start_draft(&session.actor, workflow).await,
        None => http.app.start_new_draft(&session.actor, source).await,
    };
    match started {
        Ok(id) => Redirect::to(&format!("/drafts/{id}?done=started")).into_response(),
        Err(AppError::Invalid(p)) => {
            let errors = p.into_iter().map(|p| error_item(p.message, Some("#source".into()))).collect();
            list(&http, &session, StatusCode::UNPROCESSABLE_ENTITY, errors, source).await
        }
        Err(e) => app_error_page(e),
    }
}

/// `/drafts/{id}`.
pub async fn draft(
    State(http): State<Arc<Http>>,
    session: Session,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
) -> Response {
    let notice = match done.done.as_deref() {
        Some("started") => "The draft is started. Edit it below; it is checked every time you save.",
        Some("saved") => SAVED,
        Some("proposed") => "The draft is proposed for approval.",
        Some("approved") => "Your approval is recorded.",
        Some("published") => "The draft is published: new cases open on the new version.",
        Some("discarded") => "The draft is discarded.",
        _ => "",
    };
    page(&http, &session, id, StatusCode::OK, Vec::new(), None, notice).await
}

/// The draft's page; `edited` is text the person sent that could not be saved, shown
/// in the editor so that nothing they typed is lost.
async fn page(
    http: &Http,
    session: &Session,
    id: i64,
    status: StatusCode,
    errors: Vec<Value>,
    edited: Option<(&str, i64)>,
    notice: &str,
) -> Response {
    page_with(http, session, id, status, errors, edited, notice, Value::Null).await
}

/// [`page`], with the mutants' verdict when it was asked for.
#[allow(clippy::too_many_arguments)]
async fn page_with(
    http: &Http,
    session: &Session,
    id: i64,
    status: StatusCode,
    mut errors: Vec<Value>,
    edited: Option<(&str, i64)>,
    notice: &str,
    mutants: Value,
) -> Response {
    let row = match http.app.draft(&session.actor, id).await {
        Ok(r) => r,
        Err(e) => return app_error_page(e),
    };
    let check = match http.app.check_draft(&row).await {
        Ok(c) => c,
        Err(e) => return app_error_page(e),
    };
    // Problems by line, shown in the error summary and beside their line.
    let mut at_line: BTreeMap<usize, Vec<Value>> = BTreeMap::new();
    for d in &check.problems {
        let label = if d.is_error() { "Error" } else { "Warning" };
        let text = format!("Line {}, column {}: {}", d.line, d.column, d.message);
        if d.is_error() {
            errors.push(error_item(text.clone(), Some(format!("#line-{}", d.line))));
        }
        at_line.entry(d.line).or_default().push(json!({"label": label, "message": d.message, "hint": d.hint,
            "error": d.is_error(), "column": d.column}));
    }
    let lines: Vec<Value> = row
        .source
        .lines()
        .enumerate()
        .map(|(i, text)| json!({"n": i + 1, "text": text, "problems": at_line.remove(&(i + 1)).unwrap_or_default()}))
        .collect();
    let scenarios: Vec<Value> = check
        .scenarios
        .iter()
        .map(|o| {
            json!({"name": o.name, "passed": o.failure.is_none(),
            "failure": o.failure.as_ref().map(|(line, m)| format!("line {line}: {m}"))})
        })
        .collect();
    let (changes, diagram, impact) = match &check.definition {
        Some(def) => {
            let base = http.app.draft_base(&row);
            let changes = base.map(|b| gatehouse_engine::changes::changes(&b, def));
            let title = format!("State diagram of draft {} of {}", row.id, def.title);
            let impact = match http.app.draft_impact(def).await {
                Ok(i) => i,
                Err(e) => return app_error_page(e),
            };
            let impact: Vec<Value> = impact
                .iter()
                .map(|a| json!({"case": a.case_id, "version": a.version, "state": a.state, "lines": a.lines, "movable": a.movable}))
                .collect();
            (changes, Some(diagram_svg(def, &title)), Some(impact))
        }
        None => (None, None, None),
    };
    let approvals = match http.app.draft_approvals(&row).await {
        Ok(a) => a,
        Err(e) => return app_error_page(e),
    };
    let history = match http.app.store().draft_events(row.id).await {
        Ok(h) => h,
        Err(e) => return app_error_page(e.into()),
    };
    let me = &session.actor.id;
    let quorum = http.app.governance().quorum;
    let mut ctx = base(session, "drafts");
    ctx.insert("d".into(), draft_json(&row));
    ctx.insert("source".into(), json!(edited.map_or(row.source.as_str(), |(s, _)| s)));
    ctx.insert("revision".into(), json!(edited.map_or(row.revision, |(_, r)| r)));
    ctx.insert("version".into(), json!(check.version));
    ctx.insert("lines".into(), json!(lines));
    ctx.insert("error_count".into(), json!(check.problems.iter().filter(|d| d.is_error()).count()));
    ctx.insert("warning_count".into(), json!(check.problems.iter().filter(|d| !d.is_error()).count()));
    ctx.insert("scenarios".into(), json!(scenarios));
    ctx.insert("changes".into(), json!(changes));
    ctx.insert("diagram".into(), json!(diagram));
    ctx.insert("impact".into(), json!(impact));
    ctx.insert("approvals".into(), json!(approvals));
    ctx.insert("quorum".into(), json!(quorum));
    ctx.insert("max_kib".into(), json!(MAX_DRAFT_BYTES / 1024));
    let open = row.status == status::DRAFT || row.status == status::PROPOSED;
    ctx.insert(
        "may".into(),
        json!({
            "edit": open,
            "propose": row.status == status::DRAFT,
            "approve": row.status == status::PROPOSED && row.author != *me && !approvals.contains(me),
            "publish": row.status == status::PROPOSED && approvals.len() >= quorum,
            "discard": open,
        }),
    );
    ctx.insert(
        "history".into(),
        json!(
            history
                .iter()
                .map(|e| json!({"at": e.at.format("%-d %B %Y %H:%M:%S").to_string(),
            "actor": e.actor, "kind": e.kind, "detail": e.detail}))
                .collect::<Vec<_>>()
        ),
    );
    let files = match http.app.draft_files(&row, check.definition.as_ref()) {
        Ok(f) => f,
        Err(e) => return app_error_page(e),
    };
    let files: Vec<Value> = files
        .templates
        .iter()
        .map(|(name, _, changed)| json!({"kind": "template", "name": name, "changed": changed}))
        .chain(
            files
                .calendars
                .iter()
                .map(|(name, _, changed)| json!({"kind": "calendar", "name": name, "changed": changed})),
        )
        .collect();
    ctx.insert("files".into(), json!(files));
    ctx.insert("errors".into(), json!(errors));
    ctx.insert("mutants".into(), mutants);
    let notice = if notice == SAVED && check.has_errors() {
        "The draft is saved with the errors listed: it can be proposed once they are fixed."
    } else {
        notice
    };
    if !notice.is_empty() {
        ctx.insert("notice".into(), json!(notice));
    }
    render(status, "draft.html", Value::Object(ctx))
}

fn draft_json(row: &DraftRow) -> Value {
    json!({"id": row.id, "workflow": row.workflow_id, "status": row.status, "revision": row.revision,
        "author": row.author, "based_on": row.based_on, "published_version": row.published_version})
}

/// `POST /drafts/{id}`: save the text.
pub async fn save(
    State(http): State<Arc<Http>>,
    Path(id): Path<i64>,
    SignedForm { session, fields: form }: SignedForm,
) -> Response {
    let source = form.get("source").map(|s| s.replace("\r\n", "\n")).unwrap_or_default();
    let revision = form.get("revision").and_then(|r| r.parse().ok()).unwrap_or(0);
    save_answer(&http, &session, id, revision, &source).await
}

/// Save `source` as draft `id`, made on `revision`, and answer: to the draft's page, or,
/// when it could not be saved, the page again with why and with what was sent in the
/// editor, so that nothing typed or uploaded is lost.
async fn save_answer(http: &Http, session: &Session, id: i64, revision: i64, source: &str) -> Response {
    match http.app.save_draft(&session.actor, id, revision, source).await.map_err(not_saved) {
        Ok(_) => Redirect::to(&format!("/drafts/{id}?done=saved")).into_response(),
        Err(Ok((status, message))) => {
            let errors = vec![error_item(message, Some("#source".into()))];
            page(http, session, id, status, errors, Some((source, revision)), "").await
        }
        Err(Err(e)) => app_error_page(e),
    }
}

/// Why a save was refused, when the page can say so beside what was sent (someone saved
/// since: 409; the text refused: 422); any other error as it is.
fn not_saved(e: AppError) -> Result<(StatusCode, String), AppError> {
    match e {
        AppError::Edited(m) => Ok((StatusCode::CONFLICT, m)),
        AppError::Invalid(p) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, p.into_iter().map(|p| p.message).collect::<Vec<_>>().join("; ")))
        }
        other => Err(other),
    }
}

/// `POST /drafts/{id}/{step}`: propose, approve, publish or discard, at the revision
/// the page showed.
pub async fn step(
    State(http): State<Arc<Http>>,
    Path((id, step)): Path<(i64, String)>,
    SignedForm { session, fields: form }: SignedForm,
) -> Response {
    let revision = form.get("revision").and_then(|r| r.parse().ok()).unwrap_or(0);
    let actor = &session.actor;
    let result = match step.as_str() {
        "propose" => http.app.propose_draft(actor, id, revision).await.map(|_| "proposed"),
        "approve" => http.app.approve_draft(actor, id, revision).await.map(|_| "approved"),
        "publish" => http.app.publish_draft(actor, id, revision).await.map(|_| "published"),
        "discard" => http.app.discard_draft(actor, id, revision).await.map(|_| "discarded"),
        _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    match result {
        Ok(done) => Redirect::to(&format!("/drafts/{id}?done={done}")).into_response(),
        Err(e @ (AppError::Edited(_) | AppError::NotAvailable(_) | AppError::NotAllowed(_))) => {
            let status = match e {
                AppError::NotAllowed(_) => StatusCode::FORBIDDEN,
                _ => StatusCode::CONFLICT,
            };
            let message = match &e {
                AppError::NotAllowed(m) | AppError::NotAvailable(m) | AppError::Edited(m) => m.clone(),
                other => other.to_string(),
            };
            page(&http, &session, id, status, vec![error_item(message, Some("#review".into()))], None, "").await
        }
        Err(e) => app_error_page(e),
    }
}

/// `POST /drafts/{id}/mutants`: judge the draft's mutants with its scenarios, and show
/// the draft's page with the verdict.
pub async fn mutants(
    State(http): State<Arc<Http>>,
    Path(id): Path<i64>,
    SignedForm { session, .. }: SignedForm,
) -> Response {
    match http.app.draft_mutants(&session.actor, id).await {
        Ok((killed, survivors)) => {
            let verdict = json!({"killed": killed, "survivors": survivors.iter()
                .map(|(line, column, what)| json!({"line": line, "column": column, "what": what})).collect::<Vec<_>>()});
            page_with(&http, &session, id, StatusCode::OK, Vec::new(), None, "", verdict).await
        }
        Err(AppError::NotAvailable(m)) => {
            page(&http, &session, id, StatusCode::CONFLICT, vec![error_item(m, Some("#mutants".into()))], None, "")
                .await
        }
        Err(e) => app_error_page(e),
    }
}

/// The fields of a form that sends a workflow file: `_csrf`, `revision` and the file's
/// text, which must be UTF-8 and at most [`MAX_DRAFT_BYTES`].
async fn file_form(mut multipart: axum::extract::Multipart) -> Result<(HashMap<String, String>, String), String> {
    let mut fields = HashMap::new();
    let mut text = None;
    while let Some(mut field) = multipart.next_field().await.map_err(|e| format!("the form could not be read: {e}"))? {
        let name = field.name().unwrap_or_default().to_string();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| format!("the form could not be read: {e}"))? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_DRAFT_BYTES {
                return Err(format!("the file is larger than {} KiB, the most a draft may be", MAX_DRAFT_BYTES / 1024));
            }
        }
        let value = String::from_utf8(bytes).map_err(|_| "the file is not text (UTF-8)".to_string())?;
        if name == "file" {
            text = Some(value.replace("\r\n", "\n"));
        } else {
            fields.insert(name, value);
        }
    }
    match text {
        Some(t) if !t.trim().is_empty() => Ok((fields, t)),
        _ => Err("choose a workflow file (.yaml) to upload".into()),
    }
}

/// `POST /drafts/file`: start a draft of a new workflow from an uploaded file.
pub async fn start_from_file(
    State(http): State<Arc<Http>>,
    session: Session,
    multipart: axum::extract::Multipart,
) -> Response {
    let (fields, text) = match file_form(multipart).await {
        Ok(f) => f,
        Err(m) => {
            return list(
                &http,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![error_item(m, Some("#file".into()))],
                "",
            )
            .await;
        }
    };
    if !session.csrf_ok(fields.get("_csrf").map(String::as_str)) {
        return forbidden_csrf();
    }
    match http.app.start_new_draft(&session.actor, &text).await {
        Ok(id) => Redirect::to(&format!("/drafts/{id}?done=started")).into_response(),
        Err(AppError::Invalid(p)) => {
            let errors = p.into_iter().map(|p| error_item(p.message, Some("#file".into()))).collect();
            list(&http, &session, StatusCode::UNPROCESSABLE_ENTITY, errors, "").await
        }
        Err(e) => app_error_page(e),
    }
}

/// `POST /drafts/{id}/file`: replace a draft's text with an uploaded file, saved as a
/// save from the editor is.
pub async fn save_file(
    State(http): State<Arc<Http>>,
    session: Session,
    Path(id): Path<i64>,
    multipart: axum::extract::Multipart,
) -> Response {
    let (fields, text) = match file_form(multipart).await {
        Ok(f) => f,
        Err(m) => {
            return page(
                &http,
                &session,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![error_item(m, Some("#file".into()))],
                None,
                "",
            )
            .await;
        }
    };
    if !session.csrf_ok(fields.get("_csrf").map(String::as_str)) {
        return forbidden_csrf();
    }
    let revision = fields.get("revision").and_then(|r| r.parse().ok()).unwrap_or(0);
    save_answer(&http, &session, id, revision, &text).await
}

/// `/drafts/{id}/policy`: the draft as a policy document, when it loads.
pub async fn policy(State(http): State<Arc<Http>>, session: Session, Path(id): Path<i64>) -> Response {
    let row = match http.app.draft(&session.actor, id).await {
        Ok(r) => r,
        Err(e) => return app_error_page(e),
    };
    match http.app.check_draft(&row).await {
        Ok(check) => match check.definition {
            Some(def) => super::workflows::policy_response(&def),
            None => app_error_page(AppError::NotAvailable("the draft does not load yet: fix its errors first".into())),
        },
        Err(e) => app_error_page(e),
    }
}

/// A letter template or a working-day calendar of a draft.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Template,
    Calendar,
}

impl FileKind {
    fn name(self) -> &'static str {
        match self {
            FileKind::Template => "template",
            FileKind::Calendar => "calendar",
        }
    }
}

/// The name asked for in a form that adds a template or calendar.
#[derive(Deserialize)]
pub struct NewFile {
    name: Option<String>,
}

/// `/drafts/{id}/template?name=…`: the page that writes a new letter template.
pub async fn new_template(Path(id): Path<i64>, Query(q): Query<NewFile>) -> Response {
    new_file(id, FileKind::Template, q)
}

/// `/drafts/{id}/calendar?name=…`: the page that writes a new calendar.
pub async fn new_calendar(Path(id): Path<i64>, Query(q): Query<NewFile>) -> Response {
    new_file(id, FileKind::Calendar, q)
}

fn new_file(id: i64, kind: FileKind, q: NewFile) -> Response {
    let name = q.name.unwrap_or_default();
    let name = name.trim();
    if name.is_empty() {
        return Redirect::to(&format!("/drafts/{id}#files")).into_response();
    }
    Redirect::to(&format!("/drafts/{id}/{}s/{}", kind.name(), super::session::url_escape(name))).into_response()
}

/// `/drafts/{id}/templates/{name}`: a letter template of a draft, to read and edit.
pub async fn template_page(
    State(http): State<Arc<Http>>,
    session: Session,
    Path((id, name)): Path<(i64, String)>,
) -> Response {
    file_page(&http, &session, FileKind::Template, id, &name, StatusCode::OK, Vec::new(), None).await
}

/// `/drafts/{id}/calendars/{name}`: a working-day calendar of a draft, to read and edit.
pub async fn calendar_page(
    State(http): State<Arc<Http>>,
    session: Session,
    Path((id, name)): Path<(i64, String)>,
) -> Response {
    file_page(&http, &session, FileKind::Calendar, id, &name, StatusCode::OK, Vec::new(), None).await
}

/// What a person sent that could not be saved: the text, the HTML, the revision.
type Edited<'a> = (&'a str, &'a str, i64);

/// The page of a draft's template or calendar; `edited` is what the person sent that
/// could not be saved, shown again so that nothing they typed is lost.
#[allow(clippy::too_many_arguments)]
async fn file_page(
    http: &Http,
    session: &Session,
    kind: FileKind,
    id: i64,
    name: &str,
    status: StatusCode,
    errors: Vec<Value>,
    edited: Option<Edited<'_>>,
) -> Response {
    let row = match http.app.draft(&session.actor, id).await {
        Ok(r) => r,
        Err(e) => return app_error_page(e),
    };
    let changes = match http.app.draft_changes(&row) {
        Ok(c) => c,
        Err(e) => return app_error_page(e),
    };
    let library = http.app.library_with(&row, &changes);
    let mut ctx = base(session, "drafts");
    let (exists, changed, text, html, problems) = match kind {
        FileKind::Template => {
            let source = library.templates.get(name);
            // Checked against the draft's fields, as the workflow's check does.
            let check = match http.app.check_draft(&row).await {
                Ok(c) => c,
                Err(e) => return app_error_page(e),
            };
            let base = http.app.draft_base(&row);
            let def = check.definition.as_ref().or(base.as_deref());
            let fields: Vec<&str> = def.map(|d| d.fields.keys().map(|f| f.as_str()).collect()).unwrap_or_default();
            let problems = source
                .map(|s| templates::check(s, &fields, def.is_some_and(|d| d.parent.is_some())))
                .unwrap_or_default();
            let text = source.map_or("Subject: \n\n", |s| s.text.as_str());
            let html = source.and_then(|s| s.html.as_deref()).unwrap_or_default();
            (source.is_some(), changes.templates.contains_key(name), text.to_string(), html.to_string(), problems)
        }
        FileKind::Calendar => {
            let calendar = library.calendars.get(name);
            let text = calendar.map_or("title: \nholidays:\n", |c| c.source.as_str());
            (calendar.is_some(), changes.calendars.contains_key(name), text.to_string(), String::new(), Vec::new())
        }
    };
    ctx.insert("d".into(), draft_json(&row));
    ctx.insert("kind".into(), json!(kind.name()));
    ctx.insert("name".into(), json!(name));
    ctx.insert("exists".into(), json!(exists));
    ctx.insert("changed".into(), json!(changed));
    ctx.insert("problems".into(), json!(problems));
    ctx.insert("text".into(), json!(edited.map_or(text.as_str(), |(t, _, _)| t)));
    ctx.insert("html".into(), json!(edited.map_or(html.as_str(), |(_, h, _)| h)));
    ctx.insert("revision".into(), json!(edited.map_or(row.revision, |(_, _, r)| r)));
    ctx.insert("variables".into(), json!(templates::VARIABLES));
    ctx.insert("may_edit".into(), json!(row.status == status::DRAFT || row.status == status::PROPOSED));
    ctx.insert("errors".into(), json!(errors));
    render(status, "draft_file.html", Value::Object(ctx))
}

/// `POST /drafts/{id}/templates/{name}`: save a letter template in the draft, or
/// (`reset`) undo the draft's change to it.
pub async fn save_template(
    State(http): State<Arc<Http>>,
    Path((id, name)): Path<(i64, String)>,
    SignedForm { session, fields: form }: SignedForm,
) -> Response {
    save_library_file(&http, session, FileKind::Template, id, &name, form).await
}

/// `POST /drafts/{id}/calendars/{name}`: save a calendar in the draft, or (`reset`)
/// undo the draft's change to it.
pub async fn save_calendar(
    State(http): State<Arc<Http>>,
    Path((id, name)): Path<(i64, String)>,
    SignedForm { session, fields: form }: SignedForm,
) -> Response {
    save_library_file(&http, session, FileKind::Calendar, id, &name, form).await
}

async fn save_library_file(
    http: &Http,
    session: Session,
    kind: FileKind,
    id: i64,
    name: &str,
    form: HashMap<String, String>,
) -> Response {
    let text = form.get("text").map(|s| s.replace("\r\n", "\n")).unwrap_or_default();
    let html = form.get("html").map(|s| s.replace("\r\n", "\n")).unwrap_or_default();
    let revision = form.get("revision").and_then(|r| r.parse().ok()).unwrap_or(0);
    let reset = form.contains_key("reset");
    let saved = match kind {
        FileKind::Template => {
            let template = (!reset).then(|| (text.clone(), Some(html.clone())));
            http.app.save_draft_template(&session.actor, id, revision, name, template).await
        }
        FileKind::Calendar => {
            http.app.save_draft_calendar(&session.actor, id, revision, name, (!reset).then(|| text.clone())).await
        }
    };
    match saved.map_err(not_saved) {
        Ok(_) => Redirect::to(&format!("/drafts/{id}?done=saved")).into_response(),
        Err(Ok((status, message))) => {
            let errors = vec![error_item(message, Some("#text".into()))];
            file_page(http, &session, kind, id, name, status, errors, Some((&text, &html, revision))).await
        }
        Err(Err(e)) => app_error_page(e),
    }
}
