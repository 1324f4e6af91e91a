//! The HTTP API (DESIGN.md, "HTTP contract"): JSON in and out, errors as problem+json,
//! bearer tokens for users and signed tokens for provider links, the OpenAPI document
//! generated from the handlers themselves so that it cannot drift from the routes.
//!
//! It lives in the root crate, not in `adapters`, because every handler calls the app
//! services of `crate::app` (see ARCHITECTURE.md).

// A refusal is built once, on the cold path, and answered at once: its size does not matter.
#![allow(clippy::result_large_err)]

pub mod amend;
pub mod auth;
pub mod cases;
pub mod connection;
pub mod drafts;
pub mod dto;
pub mod extract;
pub mod links;
pub mod problem;
pub mod serve;
pub mod upload;
pub mod workflows;

use crate::app::App;
use auth::UserCache;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_adapters::links::LinkSigner;
use problem::{Kind, Problem};
use std::sync::Arc;
use std::time::Duration;
use tower_http::LatencyUnit;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// What the handlers share.
pub struct Http {
    /// The services.
    pub app: Arc<App>,
    /// Checks provider link tokens.
    pub signer: LinkSigner,
    /// Users by token, briefly cached.
    pub users: UserCache,
    /// The public address is https: session cookies are marked Secure.
    pub public_https: bool,
    /// The public address's origin (`https://host[:port]`, lower case): a sign-in form
    /// posted from it came from this site.
    pub public_origin: String,
    /// The identity provider people sign in through, when one is configured.
    pub oidc: Option<Arc<crate::web::oidc::provider::Provider>>,
}

/// Limits and timeouts.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpSettings {
    /// Largest JSON request body, in bytes.
    #[arg(long, env = "GATEHOUSE_MAX_JSON_BYTES", default_value_t = 256 * 1024)]
    pub max_json_bytes: usize,
    /// Seconds a request may take before it is answered with 408 (uploads included).
    #[arg(long, env = "GATEHOUSE_REQUEST_TIMEOUT", default_value_t = 120)]
    pub request_timeout_secs: u64,
    /// Seconds a request's headers may take to arrive whole, from their first byte (or
    /// the connection opening); then the connection is closed.
    #[arg(long, env = "GATEHOUSE_HEADER_TIMEOUT_SECS", default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout_secs: u64,
    /// Seconds a keep-alive connection may sit idle between requests (or an answer go
    /// unread) before it is closed.
    #[arg(long, env = "GATEHOUSE_IDLE_TIMEOUT_SECS", default_value_t = 75,
        value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub idle_timeout_secs: u64,
    /// Most connections open at once. Keep it well under the open-file limit
    /// (`ulimit -n`): the database, evidence files and mail need some too.
    #[arg(long, env = "GATEHOUSE_MAX_CONNECTIONS", default_value_t = 512,
        value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            max_json_bytes: 256 * 1024,
            request_timeout_secs: 120,
            header_timeout_secs: 10,
            idle_timeout_secs: 75,
            max_connections: 512,
        }
    }
}

impl HttpSettings {
    /// The timeouts every connection is held to.
    pub fn timeouts(&self) -> connection::Timeouts {
        connection::Timeouts {
            header: Duration::from_secs(self.header_timeout_secs),
            idle: Duration::from_secs(self.idle_timeout_secs),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatehouse",
        description = "Workflows for commissioning and decommissioning public services. Errors are RFC 9457 problem+json.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&Bearer),
    tags(
        (name = "workflows", description = "The catalogue of workflows"),
        (name = "cases", description = "Cases and what moves them"),
        (name = "links", description = "What a provider's emailed link asks for"),
        (name = "drafts", description = "Changes to workflows, drafted, reviewed and published by the governance group"),
        (name = "users", description = "The caller"),
        (name = "operations", description = "Health and the API document"),
    )
)]
struct ApiDoc;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http as HttpScheme, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpScheme::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A user's token from `gatehouse users add`, or a provider's link token (one case only)",
                    ))
                    .build(),
            ),
        );
    }
}

/// The routes and the OpenAPI document that describes exactly them.
pub fn api(http: Arc<Http>, settings: &HttpSettings) -> (Router, utoipa::openapi::OpenApi) {
    let upload_limit = usize::try_from(http.app.max_upload_bytes()).unwrap_or(usize::MAX).saturating_add(64 * 1024);
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(workflows::list))
        .routes(routes!(workflows::get))
        .routes(routes!(workflows::diagram))
        .routes(routes!(workflows::changes))
        .routes(routes!(cases::create, cases::list))
        .routes(routes!(cases::get))
        .routes(routes!(cases::open_child))
        .routes(routes!(cases::set_fields))
        .routes(routes!(amend::amend))
        .routes(routes!(cases::file))
        .routes(routes!(cases::approve))
        .routes(routes!(cases::conflict))
        .routes(routes!(cases::reassign))
        .routes(routes!(cases::transition))
        .routes(routes!(cases::events))
        .routes(routes!(cases::me))
        .routes(routes!(links::asked))
        .layer(DefaultBodyLimit::max(settings.max_json_bytes))
        // Uploads stream to disk and count their own bytes; the body limit here only
        // stops a client that sends far more than any accepted file.
        .merge(OpenApiRouter::new().routes(routes!(cases::evidence)).layer(DefaultBodyLimit::max(upload_limit)))
        // A draft's YAML, escaped in JSON, may be larger than other bodies.
        .merge(
            OpenApiRouter::new()
                .routes(routes!(drafts::list, drafts::create))
                .routes(routes!(drafts::get, drafts::save))
                .routes(routes!(drafts::step))
                .routes(routes!(drafts::save_template, drafts::reset_template))
                .routes(routes!(drafts::save_calendar, drafts::reset_calendar))
                .layer(DefaultBodyLimit::max(2 * crate::app::drafts::MAX_DRAFT_BYTES + 64 * 1024)),
        )
        .with_state(http)
        .split_for_parts();
    let mut openapi = openapi;
    document_errors(&mut openapi);
    (router, openapi)
}

/// Adds to every operation the problem answers any route can give but its handler does
/// not name: a malformed request, a missing or refused token, an unknown id, a body
/// that is too large or of the wrong type, a timeout, the database gone, a full disk. Each is a
/// problem+json; what a handler documents itself is kept.
fn document_errors(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
                )
                .build(),
        )
    };
    for (path, item) in openapi.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            let has_input =
                operation.request_body.is_some() || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let mut wanted = Vec::new();
            if has_input {
                wanted.push(("400", "The request is malformed: a path, query or body that cannot be read"));
                wanted.push(("422", "A value is not acceptable; the problem names it"));
            }
            if secured {
                wanted.push(("401", "No token, or a token that is unknown, revoked or expired"));
                wanted.push(("403", "The token's roles do not allow this"));
            }
            if path.contains('{') {
                wanted.push(("404", "Nothing has that id"));
            }
            if operation.request_body.is_some() {
                wanted.push(("413", "The body is over the limit"));
                wanted.push(("415", "The body is not of a type this operation reads"));
            }
            wanted.push(("408", "The request took longer than the server allows"));
            wanted.push(("500", "Something failed on the server; the problem's `request_id` finds it in the log"));
            wanted.push(("503", "The database cannot be reached, or could not commit: nothing was saved"));
            if operation.request_body.is_some() {
                wanted.push(("507", "The server's disk is full: nothing was saved"));
            }
            for (status, description) in wanted {
                operation.responses.responses.entry(status.to_string()).or_insert_with(|| problem(description));
            }
        }
    }
}

/// The whole service: the API, `/api/openapi.json`, problem+json for unknown routes,
/// request ids, tracing spans and timeouts.
pub fn router(http: Arc<Http>, settings: &HttpSettings) -> Router {
    let upload_limit = usize::try_from(http.app.max_upload_bytes()).unwrap_or(usize::MAX).saturating_add(64 * 1024);
    let pages = crate::web::router().layer(DefaultBodyLimit::max(upload_limit)).with_state(http.clone());
    let (api, openapi) = api(http, settings);
    let api = api.merge(pages);
    let openapi = Arc::new(openapi);
    let request_id = HeaderName::from_static("x-request-id");
    api.route(
        "/api/openapi.json",
        axum::routing::get(move || {
            let openapi = openapi.clone();
            async move { axum::Json(openapi.as_ref().clone()) }
        }),
    )
    .fallback(not_found)
    .method_not_allowed_fallback(method_not_allowed)
    .layer(axum::middleware::map_response(stamp_request_id))
    .layer(tower_http::timeout::TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        Duration::from_secs(settings.request_timeout_secs),
    ))
    .layer(PropagateRequestIdLayer::new(request_id.clone()))
    .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
        let id = request
            .extensions()
            .get::<RequestId>()
            .and_then(|id| id.header_value().to_str().ok())
            .unwrap_or("-")
            .to_string();
        tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
    })
    .on_response(DefaultOnResponse::new().level(tracing::Level::INFO).latency_unit(LatencyUnit::Micros)))
    .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Put the request id into every problem body, and turn the bare statuses that tower
/// layers answer with (a timeout, a body over the limit) into problems.
async fn stamp_request_id(request_id: Option<axum::Extension<RequestId>>, response: Response) -> Response {
    let id = request_id.and_then(|r| r.0.header_value().to_str().ok().map(str::to_string));
    let is_problem = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(problem::PROBLEM_JSON.as_bytes()));
    let status = response.status();
    if is_problem {
        let (parts, body) = response.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, 1024 * 1024).await else {
            return (parts.status, parts.headers).into_response();
        };
        let mut value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if let (Some(obj), Some(id)) = (value.as_object_mut(), id) {
            obj.insert("request_id".into(), id.into());
        }
        let mut response = Response::from_parts(parts, axum::body::Body::from(value.to_string()));
        response.headers_mut().remove(axum::http::header::CONTENT_LENGTH);
        return response;
    }
    let bare = response.headers().get(axum::http::header::CONTENT_TYPE).is_none()
        && (status.is_client_error() || status.is_server_error());
    if bare {
        let kind = match status {
            StatusCode::REQUEST_TIMEOUT => Kind::Timeout,
            StatusCode::PAYLOAD_TOO_LARGE => Kind::TooLarge,
            StatusCode::METHOD_NOT_ALLOWED => Kind::MethodNotAllowed,
            StatusCode::NOT_FOUND => Kind::NotFound,
            s if s.is_server_error() => Kind::Internal,
            _ => Kind::MalformedRequest,
        };
        let mut p = Problem::new(kind, status.canonical_reason().unwrap_or("error").to_string());
        p.status = status.as_u16();
        p.request_id = id;
        return p.into_response();
    }
    response
}

async fn not_found(uri: axum::http::Uri) -> Problem {
    Problem::new(Kind::NotFound, format!("there is no route {}", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Problem {
    Problem::new(Kind::MethodNotAllowed, format!("{} does not take {method}", uri.path()))
}

/// 200 once the database answers, 503 otherwise.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, body = dto::Health), (status = 503, body = dto::Health)))]
pub async fn health(State(http): State<Arc<Http>>) -> (StatusCode, axum::Json<dto::Health>) {
    match http.app.store().ping().await {
        Ok(()) => (StatusCode::OK, axum::Json(dto::Health { status: "ok".into() })),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(dto::Health { status: "unavailable".into() }))
        }
    }
}
