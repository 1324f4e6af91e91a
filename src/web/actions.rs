//! The case page's forms: upload a document, answer a checklist, approve or reject,
//! move the case; and downloading a document. Each checks its CSRF token, calls one app
//! service, and redirects to the case page, or shows it again with what is wrong.

use super::pages::{after, case_response, error_item, error_page, forbidden_csrf};
use super::session::Session;
use crate::http::Http;
use crate::http::problem::Problem;
use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_engine::definition::EvidenceKind;
use gatehouse_engine::snapshot::Verdict;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A problem from reading a form (too large, no file) shown on the case page.
async fn form_problem(http: &Http, session: &Session, id: i64, p: Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    let errors: Vec<Value> = if p.errors.is_empty() {
        vec![error_item(p.detail.clone(), None)]
    } else {
        p.errors
            .iter()
            .map(|e| {
                let message = match e.field.as_deref() {
                    Some("file") => format!("The document {}", e.message),
                    Some(f) => format!("{f}: {}", e.message),
                    None => e.message.clone(),
                };
                error_item(message, Some("#upload-file".into()))
            })
            .collect()
    };
    case_response(http, session, id, status, errors, None).await
}

pub async fn upload(
    State(http): State<Arc<Http>>,
    session: Session,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> Response {
    let form = crate::http::upload::receive_form(
        multipart,
        http.app.files(),
        http.app.max_upload_bytes(),
        |_| Ok(()),
        &["_csrf"],
    )
    .await;
    let form = match form {
        Ok(f) => f,
        Err(p) => return form_problem(&http, &session, id, p).await,
    };
    if !session.csrf_ok(form.text.get("_csrf").map(String::as_str)) {
        return forbidden_csrf();
    }
    let upload = match form.upload() {
        Ok(u) => u,
        Err(p) => return form_problem(&http, &session, id, p).await,
    };
    let result = http
        .app
        .attach_incoming(&session.actor, id, &upload.evidence, &upload.name, &upload.media_type, upload.file)
        .await;
    after(&http, &session, id, result, "uploaded").await
}

pub async fn download(
    State(http): State<Arc<Http>>,
    session: Session,
    Path((id, kind)): Path<(i64, String)>,
) -> Response {
    match crate::http::cases::document(&http, &session.actor, id, &kind).await {
        Ok(r) => r,
        Err(p) => error_page(&p),
    }
}

pub async fn checklist(
    State(http): State<Arc<Http>>,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let mut values: BTreeMap<String, String> = form.into_iter().collect();
    if !session.csrf_ok(values.remove("_csrf").as_deref()) {
        return forbidden_csrf();
    }
    let kind = values.remove("type").unwrap_or_default();
    // Each item is a radio group named by its id, with an optional `note-<id>` beside
    // it (`-` is not allowed in an id, so the two cannot meet).
    let mut notes: BTreeMap<String, String> = BTreeMap::new();
    values.retain(|key, value| match key.strip_prefix("note-") {
        Some(item) => {
            if !value.trim().is_empty() {
                notes.insert(item.to_string(), value.trim().to_string());
            }
            false
        }
        None => true,
    });
    let mut answers = BTreeMap::new();
    let mut wrong = Vec::new();
    for (item, value) in values {
        match crate::http::dto::parse_answer(&value) {
            Some(a) => {
                let note = notes.remove(&item);
                answers.insert(item, (a, note));
            }
            None => wrong.push((item, false)),
        }
    }
    wrong.extend(notes.into_keys().map(|item| (item, true)));
    if answers.is_empty() && wrong.is_empty() {
        let errors = vec![error_item("Answer at least one item", None)];
        return case_response(&http, &session, id, StatusCode::UNPROCESSABLE_ENTITY, errors, None).await;
    }
    if !wrong.is_empty() {
        // A form the page did not offer (a value or a note it has no place for) is
        // refused whole, naming each item, rather than saved in part.
        let items = checklist_items(&http, &session, id, &kind).await;
        let errors = wrong
            .into_iter()
            .map(|(item, note_only)| {
                let (label, allow_na) = items.get(&item).cloned().unwrap_or_else(|| (item.clone(), false));
                let message = match (note_only, allow_na) {
                    (true, _) => format!("{label} has a note but no answer: answer it too"),
                    (false, true) => format!("{label} must be answered yes, no or not applicable"),
                    (false, false) => format!("{label} must be answered yes or no"),
                };
                error_item(message, Some(format!("#{kind}-{item}-1")))
            })
            .collect();
        return case_response(&http, &session, id, StatusCode::UNPROCESSABLE_ENTITY, errors, None).await;
    }
    let result = http.app.answer_checklist(&session.actor, id, &kind, answers).await;
    after(&http, &session, id, result, "answered").await
}

/// A checklist's items by id: their label and whether they may be n/a (none when the
/// case or checklist cannot be read: the page shown then says why).
async fn checklist_items(http: &Http, session: &Session, id: i64, kind: &str) -> BTreeMap<String, (String, bool)> {
    let Ok(view) = http.app.case_for(&session.actor, id).await else { return BTreeMap::new() };
    match view.definition.evidence_kind(kind).map(|(_, e)| &e.kind) {
        Some(EvidenceKind::Checklist(items)) => {
            items.iter().map(|i| (i.id.clone(), (i.label.clone(), i.allow_na))).collect()
        }
        _ => BTreeMap::new(),
    }
}

#[derive(Deserialize)]
pub struct ApprovalForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    role: String,
    decision: Option<String>,
    comment: Option<String>,
}

pub async fn approve(
    State(http): State<Arc<Http>>,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<ApprovalForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return forbidden_csrf();
    }
    // Only the two choices the form offers: anything else is a mistake to show, never
    // an approval.
    let verdict = match form.decision.as_deref() {
        Some("approve") => Verdict::Approve,
        Some("reject") => Verdict::Reject,
        _ => {
            let anchor = format!("#decision-{}-approve", form.role);
            let errors = vec![error_item("Choose approve or reject", Some(anchor))];
            return case_response(&http, &session, id, StatusCode::UNPROCESSABLE_ENTITY, errors, None).await;
        }
    };
    let comment = form.comment.map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
    let result = http.app.record_approval(&session.actor, id, &form.role, verdict, comment, None, None).await;
    after(&http, &session, id, result, "decided").await
}

#[derive(Deserialize)]
pub struct TransitionForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    transition: String,
    expected_version: Option<i64>,
}

#[derive(Deserialize)]
pub struct OwnerForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    owner: String,
}

/// Give the case to another commissioner to be responsible for.
pub async fn reassign(
    State(http): State<Arc<Http>>,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<OwnerForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return forbidden_csrf();
    }
    let result = http.app.reassign(&session.actor, id, &form.owner).await;
    after(&http, &session, id, result, "reassigned").await
}

pub async fn transition(
    State(http): State<Arc<Http>>,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<TransitionForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return forbidden_csrf();
    }
    let result = http.app.request_transition(&session.actor, id, &form.transition, form.expected_version).await;
    after(&http, &session, id, result, "moved").await
}
