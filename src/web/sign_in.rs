//! What guards the sign-in form, which is sent before there is a session to derive a
//! CSRF token from. Without it, another site could post its own token to our form and
//! have the victim work in the attacker's account (login CSRF). The form page gives
//! the browser a random nonce in a cookie (HttpOnly, SameSite=Strict, only for
//! `/sign-in`) and puts an HMAC of it in the form; a post must bring both back. A post
//! whose `Origin` names another site, or whose `Sec-Fetch-Site` says it came from
//! another site, is refused even with both. `Origin: null` says nothing (our pages send
//! `Referrer-Policy: no-referrer`, which makes browsers send it on our own forms), so
//! the nonce decides then.
//!
//! Where to go after signing in (`next`) is checked here too: only a path on this site.

use crate::http::Http;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use serde_json::json;

/// The nonce cookie's name.
pub const COOKIE: &str = "gatehouse_sign_in";

/// What the refusal page says.
pub const REFUSED: &str = "This sign-in form did not come from this site, or it had expired. Nobody has been \
                           signed in. Enter your token below to sign in.";

/// The sign-in page: the form with its token, `next`, and the errors to show (each a
/// message and, when a field is at fault, `#token`). Sets the nonce cookie when the
/// browser sent none.
pub fn page(http: &Http, headers: &HeaderMap, status: StatusCode, next: &str, errors: &[(&str, bool)]) -> Response {
    let (nonce, new) = match super::session::cookie(headers, COOKIE).filter(|n| n.len() == 43) {
        Some(n) => (n.to_string(), false),
        None => (gatehouse_adapters::store::sessions::new_id(), true),
    };
    let errors: Vec<_> =
        errors.iter().map(|(message, field)| json!({"message": message, "href": field.then_some("#token")})).collect();
    let oidc = http.oidc.as_ref().map(|p| p.name.clone());
    let context = json!({"next": next, "csrf": form_token(http, &nonce), "errors": errors, "oidc": oidc,
        "next_query": super::session::url_escape(next)});
    let page = super::render(status, "sign_in.html", context);
    if new {
        (AppendHeaders([(header::SET_COOKIE, set_cookie(&nonce, http.public_https))]), page).into_response()
    } else {
        page
    }
}

/// Why a posted sign-in form was refused (for the log; the page says one thing).
pub fn check(http: &Http, headers: &HeaderMap, sent: Option<&str>) -> Result<(), &'static str> {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(fetch_site, Some("cross-site" | "same-site")) {
        return Err("Sec-Fetch-Site says another site sent it");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default().to_ascii_lowercase();
        if origin != "null" && !own_origin(http, headers, &origin) {
            return Err("its Origin is another site");
        }
    }
    let nonce = super::session::cookie(headers, COOKIE).ok_or("no sign-in cookie")?;
    let sent = sent.ok_or("no form token")?;
    if !super::session::same(sent, &form_token(http, nonce)) {
        return Err("the form token does not match the cookie");
    }
    Ok(())
}

/// The `Set-Cookie` header that forgets the nonce (after signing in).
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/sign-in; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Only a path on this site is a place to go back to; anything else is `/cases`.
///
/// Browsers drop tabs and newlines from a URL and read `\` as `/`, so `/\t/evil.com`
/// and `/\evil.com` lead to another site as `//evil.com` does. Refused: anything but
/// printable ASCII without spaces, and anything that, percent-decoded too, does not
/// start with one `/` followed by neither `/` nor `\`, or holds a `\`, a control
/// character or whitespace.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next else { return "/cases".into() };
    let printable = next.bytes().all(|b| b.is_ascii_graphic());
    if printable && on_this_site(next) && decode(next).is_some_and(|d| on_this_site(&d)) {
        next.to_string()
    } else {
        "/cases".into()
    }
}

fn on_this_site(path: &str) -> bool {
    let mut chars = path.chars();
    chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && !path.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace())
}

/// `text` percent-decoded, if that is UTF-8.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The origin of a URL, as a browser writes it in `Origin`: `scheme://host[:port]`,
/// lower case, without the scheme's default port or any path.
pub fn origin(url: &str) -> String {
    let url = url.trim().to_ascii_lowercase();
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url.as_str()));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = match scheme {
        "https" => authority.strip_suffix(":443").unwrap_or(authority),
        "http" => authority.strip_suffix(":80").unwrap_or(authority),
        _ => authority,
    };
    format!("{scheme}://{authority}")
}

/// The form token for a nonce: its HMAC under the server secret.
fn form_token(http: &Http, nonce: &str) -> String {
    super::session::mac(http, "sign-in", nonce)
}

fn set_cookie(nonce: &str, secure: bool) -> String {
    // No Max-Age: it lasts while the browser is open, so a sign-in page left open in a
    // tab still works.
    format!("{COOKIE}={nonce}; Path=/sign-in; HttpOnly; SameSite=Strict{}", if secure { "; Secure" } else { "" })
}

/// Whether `origin` (lower case) is this site: the public address (`--base-url`), or
/// the address the request was sent to (its `Host`), by http or https.
fn own_origin(http: &Http, headers: &HeaderMap, origin: &str) -> bool {
    if origin == http.public_origin {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_ascii_lowercase);
    let authority = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    host.is_some() && authority == host.as_deref()
}

#[cfg(test)]
mod tests {
    use super::{origin, safe_next};

    #[test]
    fn the_public_address_as_an_origin() {
        assert_eq!(origin("https://Gatehouse.Leeds.gov.uk/"), "https://gatehouse.leeds.gov.uk");
        assert_eq!(origin("https://gatehouse.example:443/app"), "https://gatehouse.example");
        assert_eq!(origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }

    #[test]
    fn next_is_a_path_on_this_site_or_the_cases() {
        for bad in [
            "/\t/evil.com",
            "/%09/evil.com",
            "//evil.com",
            "/%2f/evil.com",
            "/\\evil.com",
            "/%5cevil.com",
            "/a\\b",
            "/cases\r\nSet-Cookie: a=b",
            "/cases%0d%0a",
            "/a b",
            "/a%20b",
            "/caf\u{e9}",
            "/%ff",
            "https://evil.com",
            "evil.com",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/cases", "{bad:?}");
        }
        for good in ["/cases/3?x=1", "/cases?workflow=lcc&state=evidence", "/caf%C3%A9", "/governance"] {
            assert_eq!(safe_next(Some(good)), good);
        }
        assert_eq!(safe_next(None), "/cases");
    }
}
