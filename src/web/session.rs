//! Web sessions, kept in the database. Signing in starts one: a random 256-bit id in a
//! cookie (HttpOnly, SameSite=Lax, Secure when the public address is https), and in
//! the `sessions` table only the id's sha256, the user and an absolute expiry 12 hours
//! on (see `gatehouse_adapters::store::sessions`). Every request looks its session up
//! in the database, uncached, so signing out, revoking the user and the expiry end it
//! at once, on every server that shares the database. Every form carries a CSRF token,
//! an HMAC of the session id under the server secret, checked on submit.

use crate::http::Http;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use gatehouse_adapters::store::{StoreError, User};
use gatehouse_engine::snapshot::Actor;
use std::sync::Arc;

/// The session cookie's name.
pub const COOKIE: &str = "gatehouse_session";
/// How long a session lasts, from signing in (however busy it is meanwhile).
pub const HOURS: i64 = 12;

/// A signed-in person.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who.
    pub user: User,
    /// The actor handed to the engine.
    pub actor: Actor,
    /// The token forms must send back.
    pub csrf: String,
    /// The session's id (the cookie's value); private, so a `Session` is only ever one
    /// read from the database.
    id: String,
}

/// Start a session for `user`; the `Set-Cookie` header that gives it to the browser.
pub async fn start(http: &Http, user: &User) -> Result<String, StoreError> {
    let now = http.app.now();
    let expires = now + jiff::SignedDuration::from_hours(HOURS);
    let id = http.app.store().start_session(user.id, now, expires).await?;
    Ok(format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        HOURS * 3600,
        if http.public_https { "; Secure" } else { "" }
    ))
}

/// The `Set-Cookie` header that makes the browser forget its session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

impl Session {
    /// Whether `sent` is this session's CSRF token.
    pub fn csrf_ok(&self, sent: Option<&str>) -> bool {
        sent.is_some_and(|s| same(s, &self.csrf))
    }

    /// End this session (signing out): its cookie stops working at once, everywhere.
    pub async fn end(&self, http: &Http) -> Result<(), StoreError> {
        http.app.store().end_session(&self.id).await
    }
}

/// The value of the request's cookie `name`.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether two tokens are equal, compared in constant time.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The HMAC of `value` for `purpose` under the server secret, URL-safe base64.
pub(crate) fn mac(http: &Http, purpose: &str, value: &str) -> String {
    http.signer.seal(purpose, value).rsplit_once('.').map(|(_, mac)| mac.to_string()).unwrap_or_default()
}

/// Not signed in (or the session ended): go to the sign-in page, then come back. A
/// cookie that named no live session is cleared.
pub struct SignIn {
    here: String,
    clear: bool,
}

impl IntoResponse for SignIn {
    fn into_response(self) -> Response {
        let next = url_escape(&self.here);
        let to = Redirect::to(&format!("/sign-in?next={next}"));
        if self.clear {
            (AppendHeaders([(header::SET_COOKIE, clear_cookie())]), to).into_response()
        } else {
            to.into_response()
        }
    }
}

/// `text` for a query string value.
pub fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl FromRequestParts<Arc<Http>> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, http: &Arc<Http>) -> Result<Session, Response> {
        let here = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        let Some(id) = cookie(&parts.headers, COOKIE).filter(|id| !id.is_empty()) else {
            return Err(SignIn { here, clear: false }.into_response());
        };
        let user = match http.app.store().session_user(id, http.app.now()).await {
            Ok(Some(user)) => user,
            Ok(None) => return Err(SignIn { here, clear: true }.into_response()),
            Err(e) => {
                return Err(super::pages::error_page(&crate::http::problem::Problem::from(
                    crate::app::AppError::from(e),
                )));
            }
        };
        let csrf = mac(http, "csrf", id);
        let actor = Actor::user(user.email.clone(), user.roles.clone());
        Ok(Session { user, actor, csrf, id: id.to_string() })
    }
}

/// A form sent by a signed-in person, carrying their session's CSRF token: the session
/// (read once) and the form's fields. A form without the token (expired, or sent from
/// another site) is refused with the page that says so, before the handler runs.
pub struct SignedForm {
    /// Who sent it.
    pub session: Session,
    /// Its fields, by name.
    pub fields: std::collections::HashMap<String, String>,
}

impl axum::extract::FromRequest<Arc<Http>> for SignedForm {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, http: &Arc<Http>) -> Result<SignedForm, Response> {
        let (mut parts, body) = req.into_parts();
        let session = Session::from_request_parts(&mut parts, http).await?;
        let req = axum::extract::Request::from_parts(parts, body);
        let axum::Form(fields) = axum::Form::<std::collections::HashMap<String, String>>::from_request(req, http)
            .await
            .map_err(|e| e.into_response())?;
        if !session.csrf_ok(fields.get("_csrf").map(String::as_str)) {
            return Err(super::pages::forbidden_csrf());
        }
        Ok(SignedForm { session, fields })
    }
}
