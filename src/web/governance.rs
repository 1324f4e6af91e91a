//! The governance pages: the dashboard (`/governance`) and the contracts register
//! (`/contracts`, and `/contracts.csv` with the same filters).

use super::pages::{base, error_page};
use super::render;
use super::session::Session;
use crate::http::Http;
use crate::http::problem::Problem;
use crate::reports::contracts::{self, ContractFilter};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

pub async fn dashboard(State(http): State<Arc<Http>>, session: Session) -> Response {
    let d = match crate::reports::governance::dashboard(&http.app, &session.actor).await {
        Ok(d) => d,
        Err(e) => return error_page(&Problem::from(e)),
    };
    let mut ctx = base(&session, "governance");
    ctx.insert("d".into(), serde_json::to_value(&d).unwrap_or_default());
    ctx.insert("waiting".into(), json!(d.approvals.iter().map(|r| r.cases.len()).sum::<usize>()));
    render(StatusCode::OK, "governance.html", Value::Object(ctx))
}

#[derive(Deserialize, Default)]
pub struct RegisterQuery {
    workflow: Option<String>,
    directorate: Option<String>,
    state: Option<String>,
    ends_before: Option<String>,
    /// The page of the register shown (from 1).
    page: Option<String>,
    /// Rows a page (default [`PER_PAGE`], at most [`MAX_PER_PAGE`]).
    per_page: Option<String>,
}

/// Rows a page of the register shows, unless asked otherwise.
const PER_PAGE: usize = 100;
/// The most rows a page of the register shows.
const MAX_PER_PAGE: usize = 1000;

impl RegisterQuery {
    /// The filter, or the message for a date that is not one.
    fn filter(&self) -> (ContractFilter, Option<String>) {
        let nonempty = |s: &Option<String>| s.as_ref().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let (ends_before, error) = match nonempty(&self.ends_before) {
            None => (None, None),
            Some(d) => match d.parse::<jiff::civil::Date>() {
                Ok(d) => (Some(d), None),
                Err(_) => (None, Some("Contract ends before must be a real date, like 2027-03-31".to_string())),
            },
        };
        let filter = ContractFilter {
            workflow: nonempty(&self.workflow),
            directorate: nonempty(&self.directorate),
            state: nonempty(&self.state),
            ends_before,
        };
        (filter, error)
    }

    /// The same filters as a query string, for the CSV link.
    fn query_string(&self) -> String {
        let parts = self.filter_pairs();
        if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
    }

    /// The filters as `key=value` pairs, escaped.
    fn filter_pairs(&self) -> Vec<String> {
        let pairs = [
            ("workflow", &self.workflow),
            ("directorate", &self.directorate),
            ("state", &self.state),
            ("ends_before", &self.ends_before),
        ];
        pairs
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(|v| (k, v)))
            .map(|(k, v)| format!("{k}={}", super::session::url_escape(v)))
            .collect()
    }

    /// The rows a page, as asked (within bounds) or the default; a number that is not
    /// one is the default, not an error: it only chooses how much to show.
    fn per_page(&self) -> usize {
        let asked = self.per_page.as_deref().and_then(|n| n.trim().parse::<usize>().ok());
        asked.unwrap_or(PER_PAGE).clamp(1, MAX_PER_PAGE)
    }

    /// The link to page `page` with the same filters and page size.
    fn page_href(&self, page: usize) -> String {
        let mut parts = self.filter_pairs();
        if self.per_page.is_some() {
            parts.push(format!("per_page={}", self.per_page()));
        }
        parts.push(format!("page={page}"));
        format!("/contracts?{}", parts.join("&"))
    }
}

pub async fn register(State(http): State<Arc<Http>>, session: Session, Query(q): Query<RegisterQuery>) -> Response {
    let (filter, error) = q.filter();
    let per_page = q.per_page();
    let asked = q.page.as_deref().and_then(|p| p.trim().parse::<usize>().ok()).unwrap_or(1).max(1);
    let (app, reader) = (&http.app, &session.actor);
    let found = match contracts::register_page(app, reader, &filter, asked as u64 - 1, per_page as u64).await {
        Ok(found) => found,
        Err(e) => return error_page(&Problem::from(e)),
    };
    // Every directorate on the register, for the filter's choices.
    let directorates = match contracts::directorates(app, reader).await {
        Ok(d) => d,
        Err(e) => return error_page(&Problem::from(e)),
    };
    let (total, page) = (found.total as usize, found.page as usize + 1);
    let pages = total.div_ceil(per_page).max(1);
    let mut ctx = base(&session, "contracts");
    ctx.insert("total".into(), json!(total));
    ctx.insert("rows".into(), serde_json::to_value(&found.rows).unwrap_or_default());
    ctx.insert(
        "paging".into(),
        json!({
            "first": (page - 1) * per_page + 1,
            "last": (page - 1) * per_page + found.rows.len(),
            "previous": (page > 1).then(|| q.page_href(page - 1)),
            "next": (page < pages).then(|| q.page_href(page + 1)),
            "page": page,
            "pages": pages,
        }),
    );
    ctx.insert(
        "workflows".into(),
        json!(
            http.app
                .workflows()
                .iter()
                .filter(|d| d.contract.is_some())
                .map(|d| json!({"id": d.id, "title": d.title}))
                .collect::<Vec<_>>()
        ),
    );
    ctx.insert("directorates".into(), json!(directorates));
    ctx.insert(
        "filter".into(),
        json!({"workflow": q.workflow, "directorate": q.directorate, "state": q.state, "ends_before": q.ends_before}),
    );
    ctx.insert("csv_href".into(), json!(format!("/contracts.csv{}", q.query_string())));
    let status = if let Some(message) = error {
        ctx.insert("errors".into(), json!([{"message": message, "href": "#ends_before"}]));
        ctx.insert("ends_before_error".into(), json!(message));
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(status, "contracts.html", Value::Object(ctx))
}

pub async fn register_csv(State(http): State<Arc<Http>>, session: Session, Query(q): Query<RegisterQuery>) -> Response {
    let (filter, error) = q.filter();
    if let Some(message) = error {
        return (StatusCode::UNPROCESSABLE_ENTITY, message).into_response();
    }
    let body = contracts::csv_stream(http.app.clone(), session.actor.clone(), filter);
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"contracts.csv\""),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}
