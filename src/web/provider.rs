//! The provider's page (`/p/<token>`), reached from a link in an email without an
//! account: what is asked and by when, and a form to send it, until the case closes.

use super::pages::*;
use super::render;
use crate::http::Http;
use crate::http::problem::{Kind, Problem};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};
use std::sync::Arc;

pub async fn provider_page(
    State(http): State<Arc<Http>>,
    Path(token): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    provider_response(&http, &token, StatusCode::OK, Vec::new(), notice(q.done.as_deref())).await
}

async fn provider_response(
    http: &Http,
    token: &str,
    status: StatusCode,
    errors: Vec<Value>,
    notice: Option<&str>,
) -> Response {
    let caller = match http.authenticate(token).await {
        Ok(c) if c.link.is_some() => c,
        Ok(_) => return error_page(&Problem::new(Kind::NotFound, "this page is for a link from an email")),
        Err(p) => return error_page(&p),
    };
    let claims = caller.link.expect("checked above");
    let view = match http.app.case(claims.case_id).await {
        Ok(v) => v,
        Err(e) => return app_error_page(e),
    };
    let def = &view.definition;
    let at = |t: &jiff::Timestamp| t.to_zoned(def.timezone.clone()).strftime("%-d %B %Y").to_string();
    let asked: Vec<Value> = claims
        .evidence
        .iter()
        .filter_map(|id| def.evidence_kind(id))
        .map(|(id, e)| {
            json!({"id": id.as_str(), "title": e.title, "kind": e.kind.name(), "description": e.description,
                "provided_at": view.case.evidence.get(id).map(|r| at(&r.at))})
        })
        .collect();
    let service = view.definition.service_of(&view.case.fields);
    // A closed case takes nothing more: the page says so instead of offering forms.
    let closed = def.states.get(&view.case.state).is_some_and(|s| s.terminal);
    render(
        status,
        "provider.html",
        json!({"workflow": def.title, "service": service, "expires": at(&claims.expires_at), "asked": asked,
            "token": token, "errors": errors, "notice": notice, "closed": closed}),
    )
}

pub async fn provider_post(State(http): State<Arc<Http>>, Path(token): Path<String>, multipart: Multipart) -> Response {
    let caller = match http.authenticate(&token).await {
        Ok(c) if c.link.is_some() => c,
        Ok(_) => return error_page(&Problem::new(Kind::NotFound, "this page is for a link from an email")),
        Err(p) => return error_page(&p),
    };
    let case_id = caller.link.as_ref().map(|l| l.case_id).unwrap_or_default();
    let form = crate::http::upload::receive_form(
        multipart,
        http.app.files(),
        http.app.max_upload_bytes(),
        |t| caller.may_provide(t),
        &["note"],
    )
    .await;
    let refused = |p: Problem| async move {
        let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
        let message = match p.errors.first() {
            Some(e) if e.field.as_deref() == Some("file") => format!("The document {}", e.message),
            _ => p.detail.clone(),
        };
        (status, vec![error_item(message, None)])
    };
    let form = match form {
        Ok(f) => f,
        Err(p) => {
            let (status, errors) = refused(p).await;
            return provider_response(&http, &token, status, errors, None).await;
        }
    };
    let evidence = form.evidence.clone();
    let result = match def_kind(&http, case_id, &evidence).await {
        Some("document") => match form.upload() {
            Ok(u) => {
                http.app.attach_incoming(&caller.actor, case_id, &u.evidence, &u.name, &u.media_type, u.file).await
            }
            Err(p) => {
                let (status, errors) = refused(p).await;
                return provider_response(&http, &token, status, errors, None).await;
            }
        },
        _ => {
            let note = form.text.get("note").map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
            http.app.acknowledge(&caller.actor, case_id, &evidence, note).await
        }
    };
    match result {
        Ok(_) => Redirect::to(&format!("/p/{token}?done=sent")).into_response(),
        Err(e) => {
            let (status, errors) = refused(Problem::from(e)).await;
            provider_response(&http, &token, status, errors, None).await
        }
    }
}

async fn def_kind(http: &Http, case_id: i64, evidence: &str) -> Option<&'static str> {
    let view = http.app.case(case_id).await.ok()?;
    view.definition.evidence_kind(evidence).map(|(_, e)| e.kind.name())
}
