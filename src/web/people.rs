//! `/people`: for holders of an administrator role, everyone with their roles and the
//! workflows each role appears in; add a person, give and take roles, deactivate; and
//! the history of those changes.

use super::pages::{app_error_page, base, error_item};
use super::render;
use super::session::{Session, SignedForm};
use crate::app::AppError;
use crate::http::Http;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// `/people`.
pub async fn people(State(http): State<Arc<Http>>, session: Session) -> Response {
    page(&http, &session, StatusCode::OK, Vec::new(), None).await
}

async fn page(
    http: &Http,
    session: &Session,
    status: StatusCode,
    errors: Vec<Value>,
    token: Option<(&str, &str)>,
) -> Response {
    let people = match http.app.people(&session.actor).await {
        Ok(p) => p,
        Err(e) => return app_error_page(e),
    };
    let history = match http.app.store().people_history().await {
        Ok(h) => h,
        Err(e) => return app_error_page(e.into()),
    };
    // Each role, and the workflows that declare it; the installation's own roles too.
    let mut roles: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for def in http.app.workflows() {
        for role in def.roles.keys() {
            roles.entry(role.to_string()).or_default().push(def.title.clone());
        }
    }
    let governance = http.app.governance();
    for r in &governance.admin_roles {
        roles.entry(r.clone()).or_default().push("administers people (installation)".into());
    }
    for r in &governance.roles {
        roles.entry(r.clone()).or_default().push("changes workflows (installation)".into());
    }
    let mut ctx = base(session, "people");
    ctx.insert(
        "people".into(),
        json!(
            people
                .iter()
                .map(|u| json!({"email": u.email, "name": u.name, "roles": u.roles,
            "active": u.revoked_at.is_none()}))
                .collect::<Vec<_>>()
        ),
    );
    let from_provider = &governance.provider_roles;
    ctx.insert(
        "roles".into(),
        json!(
            roles
                .iter()
                .map(|(r, w)| json!({"id": r, "workflows": w, "from_provider": from_provider.contains(r)}))
                .collect::<Vec<_>>()
        ),
    );
    ctx.insert("from_provider".into(), json!(from_provider));
    ctx.insert(
        "history".into(),
        json!(
            history
                .iter()
                .take(100)
                .map(|e| json!({"at": e.at.format("%-d %B %Y %H:%M").to_string(),
            "actor": e.actor, "email": e.email, "what": e.what}))
                .collect::<Vec<_>>()
        ),
    );
    ctx.insert("added".into(), json!(token.map(|(email, t)| json!({"email": email, "token": t}))));
    ctx.insert("errors".into(), json!(errors));
    render(status, "people.html", Value::Object(ctx))
}

/// `POST /people`: `action` is `add` (email, name, roles), `give` or `take` (email,
/// role), or `deactivate` (email).
pub async fn change(State(http): State<Arc<Http>>, SignedForm { session, fields: form }: SignedForm) -> Response {
    let get = |k: &str| form.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let (actor, email) = (&session.actor, get("email"));
    let result = match get("action").as_str() {
        "add" => {
            let roles: Vec<String> =
                get("roles").split([',', ' ']).map(str::trim).filter(|r| !r.is_empty()).map(str::to_string).collect();
            match http.app.add_person(actor, &email, &get("name"), &roles).await {
                Ok(token) => return page(&http, &session, StatusCode::OK, Vec::new(), Some((&email, &token))).await,
                Err(e) => Err(e),
            }
        }
        "give" => http.app.set_person_role(actor, &email, &get("role"), true).await,
        "take" => http.app.set_person_role(actor, &email, &get("role"), false).await,
        "deactivate" => http.app.deactivate_person(actor, &email).await,
        _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    match result {
        Ok(()) => Redirect::to("/people").into_response(),
        Err(AppError::Invalid(p)) => {
            let errors = p.into_iter().map(|p| error_item(p.message, Some("#add-email".into()))).collect();
            page(&http, &session, StatusCode::UNPROCESSABLE_ENTITY, errors, None).await
        }
        Err(AppError::NotAvailable(m)) => {
            page(&http, &session, StatusCode::CONFLICT, vec![error_item(m, None)], None).await
        }
        Err(e) => app_error_page(e),
    }
}
