//! The page handlers. Each parses a form, checks its CSRF token, calls one app service,
//! and either redirects (after a change, so that a reload does not repeat it) or
//! re-renders the page with a GOV.UK error summary saying what is wrong.

use super::case_view::approval_roles;
use super::render;
use super::session::{self, Session, clear_cookie};
use super::sign_in::{self as guard, safe_next};
use crate::app::{AppError, CaseView};
use crate::http::Http;
use crate::http::problem::{Kind, Problem};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use gatehouse_adapters::store::{CaseFilter, CaseRow};
use gatehouse_engine::definition::Definition;
use gatehouse_engine::fields::Input;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// A problem as a page.
pub fn error_page(p: &Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    render(status, "error.html", json!({"title": p.title, "detail": p.detail, "request_id": p.request_id}))
}

pub(super) fn app_error_page(e: AppError) -> Response {
    error_page(&Problem::from(e))
}

pub(super) fn forbidden_csrf() -> Response {
    error_page(&Problem::new(
        Kind::Forbidden,
        "the form had expired or did not come from this site; go back, reload the page and try again",
    ))
}

/// What every signed-in page's layout needs.
pub fn base(session: &Session, nav: &str) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("me".into(), json!({"name": session.user.name, "roles": session.user.roles}));
    m.insert("csrf".into(), json!(session.csrf));
    m.insert("nav".into(), json!(nav));
    m
}

pub(super) fn error_item(message: impl Into<String>, href: Option<String>) -> Value {
    json!({"message": message.into(), "href": href})
}

// ---------------------------------------------------------------------------------------
// Sign in and out

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

pub async fn sign_in_page(State(http): State<Arc<Http>>, headers: HeaderMap, Query(q): Query<NextQuery>) -> Response {
    guard::page(&http, &headers, StatusCode::OK, &safe_next(q.next.as_deref()), &[])
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    token: String,
    next: Option<String>,
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
}

pub async fn sign_in(State(http): State<Arc<Http>>, headers: HeaderMap, Form(form): Form<SignInForm>) -> Response {
    let next = safe_next(form.next.as_deref());
    if let Err(why) = guard::check(&http, &headers, form.csrf.as_deref()) {
        tracing::warn!(why, "sign-in form refused");
        return guard::page(&http, &headers, StatusCode::FORBIDDEN, &next, &[(guard::REFUSED, false)]);
    }
    let again =
        |message: &str| guard::page(&http, &headers, StatusCode::UNPROCESSABLE_ENTITY, &next, &[(message, true)]);
    let token = form.token.trim();
    if token.is_empty() {
        return again("Enter your token");
    }
    // Not through the API's token cache: a token revoked a moment ago does not sign in.
    let user = match http.app.store().user_by_token(token).await {
        Ok(Some(user)) => user,
        Ok(None) => return again("The token is not known, or has been revoked"),
        Err(e) => return app_error_page(e.into()),
    };
    match session::start(&http, &user).await {
        Ok(cookie) => (
            StatusCode::SEE_OTHER,
            AppendHeaders([
                (header::SET_COOKIE, cookie),
                (header::SET_COOKIE, guard::clear_cookie()),
                (header::LOCATION, next),
            ]),
        )
            .into_response(),
        Err(e) => app_error_page(e.into()),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
}

pub async fn sign_out(State(http): State<Arc<Http>>, session: Session, Form(form): Form<CsrfForm>) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return forbidden_csrf();
    }
    if let Err(e) = session.end(&http).await {
        return app_error_page(e.into());
    }
    (StatusCode::SEE_OTHER, [(header::SET_COOKIE, clear_cookie()), (header::LOCATION, "/sign-in".into())])
        .into_response()
}

// ---------------------------------------------------------------------------------------
// Cases

#[derive(Deserialize)]
pub struct CasesQuery {
    workflow: Option<String>,
    state: Option<String>,
    q: Option<String>,
    mine: Option<String>,
    overdue: Option<String>,
    /// Show cases older than this one (the page after the one that ended with it).
    before: Option<String>,
    /// Cases a page (default [`CASES_PER_PAGE`], at most [`MAX_CASES_PER_PAGE`]).
    per_page: Option<String>,
}

/// Cases a page of the list shows, unless asked otherwise.
const CASES_PER_PAGE: usize = 50;
/// The most cases a page of the list shows.
const MAX_CASES_PER_PAGE: usize = 500;
/// Cases read at a time while filling a page that not every case qualifies for.
const SCAN: u64 = 200;

impl CasesQuery {
    /// The link to the cases older than `before`, with the same filters and page size.
    fn older_href(&self, before: i64) -> String {
        let pairs = [("workflow", &self.workflow), ("state", &self.state), ("q", &self.q)];
        let mut parts: Vec<String> = pairs
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(|v| (k, v)))
            .map(|(k, v)| format!("{k}={}", super::session::url_escape(v)))
            .collect();
        for (flag, on) in [("mine", self.mine.is_some()), ("overdue", self.overdue.is_some())] {
            if on {
                parts.push(format!("{flag}=on"));
            }
        }
        if let Some(n) = &self.per_page {
            parts.push(format!("per_page={}", super::session::url_escape(n.trim())));
        }
        parts.push(format!("before={before}"));
        format!("/cases?{}", parts.join("&"))
    }
}

/// The cases list: newest first, a page at a time, the search done by the database over
/// every case the reader may read.
pub async fn cases(State(http): State<Arc<Http>>, session: Session, Query(q): Query<CasesQuery>) -> Response {
    let nonempty = |s: &Option<String>| s.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let overdue = q.overdue.is_some();
    let mine = q.mine.is_some();
    let per_page = q
        .per_page
        .as_deref()
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(CASES_PER_PAGE)
        .clamp(1, MAX_CASES_PER_PAGE);
    let before = q.before.as_deref().and_then(|b| b.trim().parse::<i64>().ok());
    let filter = CaseFilter {
        workflow: nonempty(&q.workflow),
        state: nonempty(&q.state),
        search: nonempty(&q.q),
        newest_first: true,
        overdue_at: overdue.then(|| http.app.now()),
        // Who may read what is the app's to add (`App::list_cases`).
        ..CaseFilter::default()
    };
    // Read until the page is full and one more case qualifies (so there is an older
    // page), or there are no more: "mine" is decided case by case.
    let limit = if mine { SCAN } else { per_page as u64 + 1 };
    let (mut shown, mut cursor, mut older) = (Vec::new(), before, None);
    'scan: loop {
        let page = CaseFilter { before_id: cursor, limit: Some(limit), ..filter.clone() };
        let rows = match http.app.list_cases(&session.actor, &page).await {
            Ok(rows) => rows,
            Err(e) => return app_error_page(e),
        };
        let exhausted = (rows.len() as u64) < limit;
        for row in rows {
            cursor = Some(row.id);
            if mine {
                let Ok(view) = http.app.case_for(&session.actor, row.id).await else { continue };
                if approval_roles(&view, &session).is_empty() {
                    continue;
                }
            }
            if shown.len() == per_page {
                older = shown.last().map(|r: &CaseRow| r.id);
                break 'scan;
            }
            shown.push(row);
        }
        if exhausted {
            break;
        }
    }
    let mut cases = Vec::new();
    for row in &shown {
        let fields: serde_json::Map<String, Value> = serde_json::from_str(&row.fields).unwrap_or_default();
        let def = http.app.workflow(&row.workflow_id).ok();
        // The field the workflow's `contract:` names as the service.
        let service_field = def.as_ref().and_then(|d| d.contract.as_ref()?.service.as_ref().map(|f| f.to_string()));
        let service = service_field.and_then(|f| fields.get(&f)?.as_str().map(str::to_string)).unwrap_or_default();
        let workflow = def.map(|d| d.title.clone()).unwrap_or(row.workflow_id.clone());
        cases.push(json!({"id": row.id, "service": service, "workflow": workflow, "state": row.state,
            "updated": row.updated_at.format("%Y-%m-%d %H:%M").to_string()}));
    }
    let mut ctx = base(&session, "cases");
    ctx.insert("cases".into(), json!(cases));
    ctx.insert("workflows".into(), workflows_json(&http));
    ctx.insert(
        "filter".into(),
        json!({"workflow": q.workflow, "state": q.state, "q": q.q, "mine": mine, "overdue": overdue}),
    );
    ctx.insert(
        "paging".into(),
        json!({"before": before, "older": older.map(|id| q.older_href(id)), "per_page": q.per_page}),
    );
    render(StatusCode::OK, "cases.html", Value::Object(ctx))
}

pub(super) fn workflows_json(http: &Http) -> Value {
    json!(
        http.app
            .workflows()
            .iter()
            .map(|d| json!({"id": d.id, "title": d.title, "version": d.version, "source": d.source}))
            .collect::<Vec<_>>()
    )
}

#[derive(Deserialize)]
pub struct NewCaseQuery {
    workflow: Option<String>,
    /// Opening a child case (`children:`): its parent, and its kind.
    parent: Option<i64>,
    group: Option<String>,
}

pub async fn new_case_page(State(http): State<Arc<Http>>, session: Session, Query(q): Query<NewCaseQuery>) -> Response {
    let mut ctx = base(&session, "new");
    ctx.insert("workflows".into(), workflows_json(&http));
    if let Some(id) = q.workflow.filter(|w| !w.is_empty()) {
        match http.app.workflow(&id) {
            Ok(def) => {
                ctx.insert("workflow".into(), json!({"id": def.id, "title": def.title}));
                ctx.insert("fields".into(), fields_json(&def));
            }
            Err(e) => return app_error_page(e),
        }
    }
    if let (Some(parent), Some(group)) = (q.parent, q.group.filter(|g| !g.is_empty())) {
        ctx.insert("parent".into(), json!({"id": parent, "group": group}));
    }
    ctx.insert("values".into(), json!({}));
    ctx.insert("field_errors".into(), json!({}));
    render(StatusCode::OK, "new_case.html", Value::Object(ctx))
}

fn fields_json(def: &Definition) -> Value {
    json!(
        def.fields
            .iter()
            .map(|(id, f)| json!({
                "id": id.as_str(), "title": f.title, "type": f.kind.name(), "required": f.required,
                "hint": f.description,
                "choices": match &f.kind { gatehouse_engine::definition::FieldType::Choice(c) => c.clone(), _ => Vec::new() },
            }))
            .collect::<Vec<_>>()
    )
}

pub async fn new_case(
    State(http): State<Arc<Http>>,
    session: Session,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let values: HashMap<String, String> = form.into_iter().collect();
    if !session.csrf_ok(values.get("_csrf").map(String::as_str)) {
        return forbidden_csrf();
    }
    let workflow = values.get("_workflow").cloned().unwrap_or_default();
    let def = match http.app.workflow(&workflow) {
        Ok(def) => def,
        Err(e) => return app_error_page(e),
    };
    let mut inputs = Vec::new();
    for (id, f) in &def.fields {
        let id = id.as_str();
        let value = if f.kind.name() == "date" {
            let part = |p: &str| values.get(&format!("{id}.{p}")).map(|v| v.trim().to_string()).unwrap_or_default();
            let (d, m, y) = (part("day"), part("month"), part("year"));
            if d.is_empty() && m.is_empty() && y.is_empty() {
                String::new()
            } else {
                match (d.parse::<u8>(), m.parse::<u8>(), y.parse::<i16>()) {
                    (Ok(d), Ok(m), Ok(y)) => format!("{y:04}-{m:02}-{d:02}"),
                    _ => format!("{y}-{m}-{d}"),
                }
            }
        } else {
            values.get(id).map(|v| v.trim().to_string()).unwrap_or_default()
        };
        if !value.is_empty() {
            inputs.push((id.to_string(), Input::Text(value)));
        } else if f.required {
            inputs.push((id.to_string(), Input::Null));
        }
    }
    let parent = values.get("_parent").and_then(|p| p.parse::<i64>().ok());
    let group = values.get("_group").cloned().unwrap_or_default();
    let opened = match parent {
        Some(parent) => http.app.open_child(&session.actor, parent, &group, &inputs).await,
        None => http.app.create_case(&session.actor, &workflow, &inputs).await,
    };
    match opened {
        Ok(view) => Redirect::to(&format!("/cases/{}?done=opened", view.case.id)).into_response(),
        Err(AppError::Invalid(problems)) => {
            let mut field_errors = serde_json::Map::new();
            let mut errors = Vec::new();
            for p in &problems {
                let field = p.field.clone().unwrap_or_default();
                let title = def.fields.get(field.as_str()).map(|f| f.title.clone()).unwrap_or(field.clone());
                let message = format!("{title} {}", p.message);
                errors.push(error_item(message.clone(), Some(format!("#f-{field}"))));
                field_errors.insert(field, json!(message));
            }
            let mut ctx = base(&session, "new");
            ctx.insert("workflow".into(), json!({"id": def.id, "title": def.title}));
            ctx.insert("fields".into(), fields_json(&def));
            if let Some(parent) = parent {
                ctx.insert("parent".into(), json!({"id": parent, "group": group}));
            }
            ctx.insert("values".into(), json!(values));
            ctx.insert("field_errors".into(), Value::Object(field_errors));
            ctx.insert("errors".into(), json!(errors));
            render(StatusCode::UNPROCESSABLE_ENTITY, "new_case.html", Value::Object(ctx))
        }
        Err(e) => app_error_page(e),
    }
}

#[derive(Deserialize)]
pub struct DoneQuery {
    pub(super) done: Option<String>,
}

pub(super) fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "opened" => "The case is open.",
        "uploaded" => "The document is attached.",
        "answered" => "The answers are saved.",
        "decided" => "Your decision is recorded.",
        "amended" => "The amendment is recorded.",
        "moved" => "The case has moved on.",
        "reassigned" => "The case has a new responsible commissioner.",
        "sent" => "Thank you: it has been received.",
        _ => return None,
    })
}

pub async fn case_page(
    State(http): State<Arc<Http>>,
    session: Session,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Response {
    case_response(&http, &session, id, StatusCode::OK, Vec::new(), notice(q.done.as_deref())).await
}

/// Who may request a transition, in words: the roles its `by:` names, or, when it names
/// none, any member of the workflow's roles (as `access::may_request` decides).
pub(super) async fn case_response(
    http: &Http,
    session: &Session,
    id: i64,
    status: StatusCode,
    errors: Vec<Value>,
    notice: Option<&str>,
) -> Response {
    let view = match http.app.case_for(&session.actor, id).await {
        Ok(v) => v,
        Err(e) => return app_error_page(e),
    };
    let (events, broken) = match http.app.audit_trail(&session.actor, id).await {
        Ok(t) => t,
        Err(e) => return app_error_page(e),
    };
    let messages = match http.app.case_messages(&session.actor, id).await {
        Ok(m) => m,
        Err(e) => return app_error_page(e),
    };
    let page = super::case_view::CasePage::new(&view, session, &events, broken.as_ref(), &messages);
    let mut ctx = base(session, "cases");
    if let Value::Object(page) = serde_json::to_value(page).unwrap_or_default() {
        ctx.extend(page);
    }
    // A child case (`children:`) names the case it was opened from.
    if let Ok(row) = http.app.store().case_row(id).await
        && let (Some(parent), Some(group), Some(number)) = (row.parent_id, row.child_group, row.child_number)
    {
        ctx.insert("parent".into(), json!({"id": parent, "group": group, "number": number}));
    }
    ctx.insert("errors".into(), json!(errors));
    ctx.insert("notice".into(), json!(notice));
    render(status, "case.html", Value::Object(ctx))
}

/// After a command: to the case page with a notice, or back to it with the refusal.
pub(super) async fn after(
    http: &Http,
    session: &Session,
    id: i64,
    result: Result<CaseView, AppError>,
    done: &str,
) -> Response {
    let e = match result {
        Ok(_) => return Redirect::to(&format!("/cases/{id}?done={done}")).into_response(),
        Err(e) => e,
    };
    let mut errors: Vec<Value> = Vec::new();
    match &e {
        AppError::Blocked { transition, unmet } => {
            for u in unmet {
                errors.push(error_item(u.message.clone(), Some(format!("#step-{transition}"))));
            }
        }
        AppError::Invalid(problems) => {
            for p in problems {
                errors.push(error_item(p.to_string(), None));
            }
        }
        _ => {}
    }
    let problem = Problem::from(e);
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    if status.is_server_error() || status == StatusCode::NOT_FOUND && errors.is_empty() {
        return error_page(&problem);
    }
    if errors.is_empty() {
        errors.push(error_item(problem.detail.clone(), None));
    }
    case_response(http, session, id, status, errors, None).await
}
