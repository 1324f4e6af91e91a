//! `/tokens`: a signed-in person's API tokens for their scripts: make one (shown once,
//! with an expiry), revoke one; an administrator also sees and revokes everyone's.

use super::pages::{app_error_page, base, error_item};
use super::render;
use super::session::{Session, SignedForm};
use crate::app::AppError;
use crate::app::tokens::MAX_TOKEN_DAYS;
use crate::http::Http;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_adapters::store::tokens::ApiToken;
use serde_json::{Value, json};
use std::sync::Arc;

/// `/tokens`.
pub async fn tokens(State(http): State<Arc<Http>>, session: Session) -> Response {
    page(&http, &session, StatusCode::OK, Vec::new(), None).await
}

/// The page; `made` is a token just made, shown this once.
async fn page(http: &Http, session: &Session, status: StatusCode, errors: Vec<Value>, made: Option<&str>) -> Response {
    let mine = match http.app.my_tokens(&session.actor).await {
        Ok(t) => t,
        Err(e) => return app_error_page(e),
    };
    let everyone = if http.app.administers(&session.actor) {
        match http.app.all_tokens(&session.actor).await {
            Ok(t) => Some(t),
            Err(e) => return app_error_page(e),
        }
    } else {
        None
    };
    let now = http.app.now();
    let shown = |t: &ApiToken| {
        let day = |at: jiff::Timestamp| at.strftime("%-d %B %Y").to_string();
        let state = match &t.revoked {
            Some((at, by)) => format!("Revoked {} by {by}", day(*at)),
            None if t.expires_at <= now => "Expired".to_string(),
            None => "Works".to_string(),
        };
        json!({"id": t.id, "owner": t.owner, "name": t.name, "created": day(t.created_at), "expires": day(t.expires_at),
            "state": state, "live": t.revoked.is_none() && t.expires_at > now})
    };
    let mut ctx = base(session, "tokens");
    ctx.insert("mine".into(), json!(mine.iter().map(shown).collect::<Vec<_>>()));
    ctx.insert("everyone".into(), json!(everyone.map(|all| all.iter().map(shown).collect::<Vec<_>>())));
    ctx.insert("made".into(), json!(made));
    ctx.insert("max_days".into(), json!(MAX_TOKEN_DAYS));
    ctx.insert("errors".into(), json!(errors));
    render(status, "tokens.html", Value::Object(ctx))
}

/// `POST /tokens`: make a token.
pub async fn create(State(http): State<Arc<Http>>, SignedForm { session, fields: form }: SignedForm) -> Response {
    let name = form.get("name").map(String::as_str).unwrap_or_default();
    let days = form.get("days").and_then(|d| d.trim().parse().ok()).unwrap_or(0);
    match http.app.create_token(&session.actor, name, days).await {
        Ok(token) => page(&http, &session, StatusCode::OK, Vec::new(), Some(&token)).await,
        Err(AppError::Invalid(p)) => {
            let errors = p.into_iter().map(|p| error_item(p.message, p.field.map(|f| format!("#token-{f}")))).collect();
            page(&http, &session, StatusCode::UNPROCESSABLE_ENTITY, errors, None).await
        }
        Err(e) => app_error_page(e),
    }
}

/// `POST /tokens/{id}/revoke`.
pub async fn revoke(
    State(http): State<Arc<Http>>,
    Path(id): Path<i64>,
    SignedForm { session, .. }: SignedForm,
) -> Response {
    match http.app.revoke_token(&session.actor, id).await {
        Ok(()) => Redirect::to("/tokens").into_response(),
        Err(e) => app_error_page(e),
    }
}
