//! Signing in through the organisation's identity provider (OpenID Connect, the
//! authorization code flow with PKCE). `/sign-in/oidc` sends the browser to the
//! provider; `/sign-in/oidc/callback` is where it comes back with a code.
//!
//! What the callback must find again (the state, the nonce, the PKCE verifier and where
//! to go next) is kept in a cookie signed with the server secret (HttpOnly,
//! SameSite=Lax, for these two paths only, ten minutes), so any server sharing the
//! secret can finish a sign-in another started, and nothing is stored before the
//! person has signed in. The cookie ties the answer to the browser that asked: a code
//! brought back to another browser, or with another state, is refused. Every refusal
//! is a page that says why, and creates neither a user nor a session.

pub mod provider;
pub mod settings;

use super::session;
use super::sign_in::safe_next;
use crate::http::Http;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use base64::Engine as _;
use gatehouse_adapters::store::UserError;
use gatehouse_adapters::store::sign_in::MappedRoles;
use provider::{Attempt, Refused};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The in-flight sign-in's cookie.
pub const COOKIE: &str = "gatehouse_oidc";
/// How long a sign-in at the provider may take, in seconds.
const ATTEMPT_SECS: i64 = 600;

#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

/// `GET /sign-in/oidc`: off to the identity provider.
pub async fn start(State(http): State<Arc<Http>>, Query(q): Query<StartQuery>) -> Response {
    let Some(provider) = &http.oidc else {
        return refused(StatusCode::NOT_FOUND, "this site does not sign in through an identity provider");
    };
    let (url, attempt) = provider.authorize(safe_next(q.next.as_deref()));
    let cookie = attempt_cookie(&http, &attempt);
    (StatusCode::SEE_OTHER, AppendHeaders([(header::SET_COOKIE, cookie), (header::LOCATION, url)])).into_response()
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /sign-in/oidc/callback`: the provider sends the browser back with a code (or
/// an error); check everything, find or create the person, start their session.
pub async fn callback(State(http): State<Arc<Http>>, headers: HeaderMap, Query(q): Query<CallbackQuery>) -> Response {
    let Some(provider) = &http.oidc else {
        return refused(StatusCode::NOT_FOUND, "this site does not sign in through an identity provider");
    };
    let Some(attempt) = read_attempt(&http, &headers) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "it was not started in this browser, or it took longer than ten minutes. Start again",
        );
    };
    // The state first: only an answer to this browser's own attempt is read further
    // (another site cannot put words of its own on our page as the provider's error).
    let state_ok = q.state.as_deref().is_some_and(|s| session::same(s, &attempt.state));
    if !state_ok {
        tracing::warn!("an OIDC callback's state did not match its sign-in");
        return refused(
            StatusCode::BAD_REQUEST,
            "the answer from the identity provider does not belong to this sign-in",
        );
    }
    if let Some(error) = q.error {
        let said = q.error_description.unwrap_or(error);
        return refused(StatusCode::BAD_REQUEST, &format!("the identity provider said: {said}"));
    }
    let Some(code) = q.code.filter(|c| !c.is_empty()) else {
        return refused(StatusCode::BAD_REQUEST, "the identity provider sent no code");
    };
    let identity = match provider.finish(code, &attempt).await {
        Ok(identity) => identity,
        Err(Refused::Bad(why)) => return refused(StatusCode::BAD_REQUEST, &why),
        Err(Refused::Provider(why)) => return refused(StatusCode::BAD_GATEWAY, &why),
    };
    let roles = (!provider.roles.is_empty())
        .then(|| MappedRoles { managed: provider.roles.managed(), given: provider.roles.roles_of(&identity.groups) });
    let store = http.app.store();
    let user = match store.sign_in_from_provider(&identity.email, &identity.name, roles.as_ref(), http.app.now()).await
    {
        Ok(user) => user,
        Err(UserError::Deactivated(email)) => {
            return refused(
                StatusCode::FORBIDDEN,
                &format!("{email} has been deactivated in Gatehouse. Ask an administrator if this is a mistake"),
            );
        }
        Err(UserError::InvalidEmail(email)) => {
            return refused(
                StatusCode::BAD_REQUEST,
                &format!("`{email}` from the identity provider is not an email address"),
            );
        }
        Err(UserError::Store(e)) => return super::pages::app_error_page(e.into()),
        Err(e) => return refused(StatusCode::CONFLICT, &format!("{e}. Try again")),
    };
    tracing::info!(email = %user.email, roles = ?user.roles, "signed in through the identity provider");
    match session::start(&http, &user).await {
        Ok(cookie) => (
            StatusCode::SEE_OTHER,
            AppendHeaders([
                (header::SET_COOKIE, cookie),
                (header::SET_COOKIE, clear_cookie()),
                (header::LOCATION, safe_next(Some(&attempt.next))),
            ]),
        )
            .into_response(),
        Err(e) => super::pages::app_error_page(e.into()),
    }
}

/// A page saying the sign-in did not complete, and why; the attempt is forgotten.
fn refused(status: StatusCode, why: &str) -> Response {
    let page = super::render(status, "sign_in_failed.html", json!({"why": why}));
    (AppendHeaders([(header::SET_COOKIE, clear_cookie())]), page).into_response()
}

/// The cookie that keeps `attempt` until the browser is back: its JSON with an expiry,
/// base64, signed.
fn attempt_cookie(http: &Http, attempt: &Attempt) -> String {
    let expires = http.app.now().as_second() + ATTEMPT_SECS;
    let body = json!({"attempt": attempt, "expires": expires}).to_string();
    let value = http.signer.seal("oidc-attempt", &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body));
    format!(
        "{COOKIE}={value}; Path=/sign-in/oidc; HttpOnly; SameSite=Lax; Max-Age={ATTEMPT_SECS}{}",
        if http.public_https { "; Secure" } else { "" }
    )
}

/// The attempt in the request's cookie, if it is ours, unaltered and not expired.
fn read_attempt(http: &Http, headers: &HeaderMap) -> Option<Attempt> {
    let sealed = session::cookie(headers, COOKIE)?;
    let body = http.signer.open("oidc-attempt", sealed)?;
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body).ok()?;
    #[derive(Deserialize)]
    struct Kept {
        attempt: Attempt,
        expires: i64,
    }
    let kept: Kept = serde_json::from_slice(&body).ok()?;
    (kept.expires > http.app.now().as_second()).then_some(kept.attempt)
}

fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/sign-in/oidc; HttpOnly; SameSite=Lax; Max-Age=0")
}
