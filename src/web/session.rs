//! Web sessions. Signing in with a token sets a cookie holding the token's hash and an
//! expiry, sealed with the server secret (HttpOnly, SameSite=Lax, Secure when the public
//! address is https). Every request looks the user up again (through the short cache),
//! so a revoked user is signed out within seconds. Every form carries a CSRF token
//! derived from the session and checked on submit.

use crate::http::Http;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_adapters::store::User;
use gatehouse_engine::snapshot::Actor;
use std::sync::Arc;

/// The session cookie's name.
pub const COOKIE: &str = "gatehouse_session";
/// How long a session lasts.
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
}

/// The cookie value for a session of the user with this token hash.
pub fn cookie_value(http: &Http, token_hash: &str) -> String {
    let expires = http.app.now().as_second() + HOURS * 3600;
    http.signer.seal("session", &format!("{token_hash}~{expires}"))
}

/// The `Set-Cookie` header that starts a session.
pub fn set_cookie(value: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        HOURS * 3600,
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` header that ends it.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl Session {
    /// Whether `sent` is this session's CSRF token.
    pub fn csrf_ok(&self, sent: Option<&str>) -> bool {
        sent.is_some_and(|s| {
            // Compared in constant time.
            s.len() == self.csrf.len() && s.bytes().zip(self.csrf.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        })
    }
}

/// Not signed in (or the session ended): go to the sign-in page, then come back.
pub struct SignIn(String);

impl IntoResponse for SignIn {
    fn into_response(self) -> Response {
        let next = url_escape(&self.0);
        Redirect::to(&format!("/sign-in?next={next}")).into_response()
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
        let sign_in = || SignIn(here.clone()).into_response();
        let sealed = cookie(&parts.headers, COOKIE).ok_or_else(sign_in)?;
        let value = http.signer.open("session", sealed).ok_or_else(sign_in)?;
        let (hash, expires) = value.split_once('~').ok_or_else(sign_in)?;
        let expires: i64 = expires.parse().map_err(|_| sign_in())?;
        if expires <= http.app.now().as_second() {
            return Err(sign_in());
        }
        let user = match http.users.by_hash(hash.to_string(), http.app.store()).await {
            Ok(Some(user)) => user,
            Ok(None) => return Err(sign_in()),
            Err(e) => {
                return Err(super::pages::error_page(&crate::http::problem::Problem::from(
                    crate::app::AppError::from(e),
                )));
            }
        };
        // The MAC alone: the page never shows the session's contents.
        let csrf = http.signer.seal("csrf", value).rsplit_once('.').map(|(_, mac)| mac.to_string()).unwrap_or_default();
        let actor = Actor::user(user.email.clone(), user.roles.clone());
        Ok(Session { user, actor, csrf })
    }
}
