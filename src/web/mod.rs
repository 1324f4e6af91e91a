//! The web pages: server-rendered HTML in the look and conventions of the GOV.UK Design
//! System, over the same app services as the API. Templates are minijinja (as the
//! email), compiled into the binary, with HTML auto-escaping on. Styles and scripts are
//! GOV.UK Frontend, vendored in `static/` (see `static/BUILD.md` and its licence).

// A refusal is built once, on the cold path, and answered at once: its size does not matter.
#![allow(clippy::result_large_err)]

pub mod actions;
pub mod amend;
mod case_view;
pub mod drafts;
pub mod governance;
pub mod oidc;
pub mod pages;
pub mod people;
pub mod provider;
pub mod session;
pub mod sign_in;
pub mod tokens;
pub mod workflows;

use crate::http::Http;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::Environment;
use std::sync::{Arc, LazyLock};
use tower_http::set_header::SetResponseHeaderLayer;

/// The page templates, compiled once.
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in [
        ("base.html", include_str!("templates/base.html")),
        ("_field.html", include_str!("templates/_field.html")),
        ("sign_in.html", include_str!("templates/sign_in.html")),
        ("sign_in_failed.html", include_str!("templates/sign_in_failed.html")),
        ("error.html", include_str!("templates/error.html")),
        ("cases.html", include_str!("templates/cases.html")),
        ("new_case.html", include_str!("templates/new_case.html")),
        ("case.html", include_str!("templates/case.html")),
        ("provider.html", include_str!("templates/provider.html")),
        ("workflows.html", include_str!("templates/workflows.html")),
        ("workflow.html", include_str!("templates/workflow.html")),
        ("governance.html", include_str!("templates/governance.html")),
        ("contracts.html", include_str!("templates/contracts.html")),
        ("drafts.html", include_str!("templates/drafts.html")),
        ("draft.html", include_str!("templates/draft.html")),
        ("draft_file.html", include_str!("templates/draft_file.html")),
        ("tokens.html", include_str!("templates/tokens.html")),
        ("people.html", include_str!("templates/people.html")),
    ] {
        env.add_template(name, source).unwrap_or_else(|e| panic!("template {name}: {e:#}"));
    }
    env
});

/// Render a page. A template that fails to render is a bug; it is logged and answered
/// as a plain 500, never with the template's insides.
pub fn render(status: StatusCode, name: &str, context: serde_json::Value) -> Response {
    let rendered = TEMPLATES.get_template(name).and_then(|t| t.render(minijinja::Value::from_serialize(&context)));
    match rendered {
        Ok(html) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %format!("{e:#}"), "page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side.").into_response()
        }
    }
}

/// The pages' routes.
pub fn router() -> Router<Arc<Http>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/cases") }))
        .route("/sign-in", get(pages::sign_in_page).post(pages::sign_in))
        .route("/sign-in/oidc", get(oidc::start))
        .route("/sign-in/oidc/callback", get(oidc::callback))
        .route("/sign-out", post(pages::sign_out))
        .route("/cases", get(pages::cases))
        .route("/cases/new", get(pages::new_case_page).post(pages::new_case))
        .route("/cases/{id}", get(pages::case_page))
        .route("/cases/{id}/evidence", post(actions::upload))
        .route("/cases/{id}/evidence/{kind}/file", get(actions::download))
        .route("/cases/{id}/checklist", post(actions::checklist))
        .route("/cases/{id}/approvals", post(actions::approve))
        .route("/cases/{id}/amendments", post(amend::amend))
        .route("/cases/{id}/transitions", post(actions::transition))
        .route("/cases/{id}/owner", post(actions::reassign))
        .route("/governance", get(governance::dashboard))
        .route("/contracts", get(governance::register))
        .route("/contracts.csv", get(governance::register_csv))
        .route("/workflows", get(workflows::workflows))
        .route("/workflows/{id}", get(workflows::workflow))
        .route("/workflows/{id}/policy", get(workflows::policy))
        .route("/workflows/{id}/migrate", post(workflows::migrate))
        .route("/people", get(people::people).post(people::change))
        .route("/tokens", get(tokens::tokens).post(tokens::create))
        .route("/tokens/{id}/revoke", post(tokens::revoke))
        .route("/drafts", get(drafts::drafts).post(drafts::start))
        .route("/drafts/{id}", get(drafts::draft).post(drafts::save))
        .route("/drafts/file", post(drafts::start_from_file))
        .route("/drafts/{id}/file", post(drafts::save_file))
        .route("/drafts/{id}/policy", get(drafts::policy))
        .route("/drafts/{id}/mutants", post(drafts::mutants))
        .route("/drafts/{id}/template", get(drafts::new_template))
        .route("/drafts/{id}/calendar", get(drafts::new_calendar))
        .route("/drafts/{id}/templates/{name}", get(drafts::template_page).post(drafts::save_template))
        .route("/drafts/{id}/calendars/{name}", get(drafts::calendar_page).post(drafts::save_calendar))
        .route("/drafts/{id}/{step}", post(drafts::step))
        .route("/p/{token}", get(provider::provider_page).post(provider::provider_post))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                 form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .route("/static/{file}", get(static_file))
}

/// The vendored GOV.UK Frontend files and Gatehouse's own few.
async fn static_file(Path(file): Path<String>) -> Response {
    let (body, kind): (&'static [u8], &str) = match file.as_str() {
        "govuk-frontend.min.css" => (include_bytes!("static/govuk-frontend.min.css"), "text/css"),
        "govuk-frontend.min.js" => (include_bytes!("static/govuk-frontend.min.js"), "text/javascript"),
        "gatehouse.css" => (include_bytes!("static/gatehouse.css"), "text/css"),
        "init.js" => (include_bytes!("static/init.js"), "text/javascript"),
        "js-enabled.js" => (include_bytes!("static/js-enabled.js"), "text/javascript"),
        "LICENSE-govuk-frontend.txt" => (include_bytes!("static/LICENSE-govuk-frontend.txt"), "text/plain"),
        _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}
