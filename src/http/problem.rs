//! Errors as RFC 9457 problem details (`application/problem+json`).
//!
//! Every refusal has a stable `type` (`urn:gatehouse:problem:<slug>`; the slugs are
//! listed in README.md and never change meaning), a `title` that is the same for every
//! problem of that type, and a `detail` written for the person who sent the request.
//! Where a field or a gate is at fault, `errors` or `unmet` name it. A fault on our
//! side is logged with the request id and answered with that id only: no stack trace,
//! no database message ever reaches a response.

use crate::app::AppError;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_adapters::store::StoreError;
use gatehouse_engine::decide::Problem as FieldProblem;
use gatehouse_engine::gates::Unmet;
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of a problem.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// Stable identifier of the kind of problem, `urn:gatehouse:problem:<slug>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary, the same for every problem of this type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong with this request, for people.
    pub detail: String,
    /// Fields (or parts of the request) at fault.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Gates that do not hold (when a transition is blocked).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmet: Vec<UnmetGate>,
    /// The version the requester saw (on a stale version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<i64>,
    /// The case's current version (on a stale version).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_version: Option<i64>,
    /// The id of the request, as in the logs and the `x-request-id` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// One part of the request at fault.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, form part or JSON path (`fields.contract_end`, `file`, `expected_version`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong with it.
    pub message: String,
}

/// A gate that does not hold, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnmetGate {
    /// The gate's id.
    pub gate: String,
    /// `evidence`, `checklist`, `approval`, `rule` or `any`.
    pub kind: String,
    /// A sentence for people.
    pub message: String,
    /// The passage of the source document the gate comes from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl From<&Unmet> for UnmetGate {
    fn from(u: &Unmet) -> Self {
        UnmetGate {
            gate: u.gate.to_string(),
            kind: u.kind.to_string(),
            message: u.message.clone(),
            source: u.source.clone(),
        }
    }
}

impl From<&FieldProblem> for FieldError {
    fn from(p: &FieldProblem) -> Self {
        FieldError { field: p.field.clone(), message: p.message.clone() }
    }
}

/// The problem types. Each slug is part of the API: never change what one means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The body is not JSON, or not the JSON shape the route takes.
    MalformedRequest,
    /// Well-formed, but a value is wrong (a field's type, a missing required field...).
    InvalidInput,
    /// No bearer token, or one that is unknown, revoked, altered or expired.
    Unauthenticated,
    /// The token is genuine but its holder may not do this.
    Forbidden,
    /// No such case, workflow, transition, evidence type or route.
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// The case is not in a situation where this can happen.
    NotAvailable,
    /// A transition's gates do not hold.
    Blocked,
    /// `expected_version` is stale: the case changed since the requester saw it.
    StaleVersion,
    /// The body or upload is larger than accepted.
    TooLarge,
    /// The content type is not one the route takes.
    UnsupportedMediaType,
    /// The request took longer than the server allows.
    Timeout,
    /// The database cannot be reached, or could not commit: nothing was saved.
    Unavailable,
    /// The disk is full: nothing was saved.
    InsufficientStorage,
    /// A fault on our side.
    Internal,
}

impl Kind {
    /// The stable slug.
    pub fn slug(self) -> &'static str {
        match self {
            Kind::MalformedRequest => "malformed-request",
            Kind::InvalidInput => "invalid-input",
            Kind::Unauthenticated => "unauthenticated",
            Kind::Forbidden => "forbidden",
            Kind::NotFound => "not-found",
            Kind::MethodNotAllowed => "method-not-allowed",
            Kind::NotAvailable => "not-available",
            Kind::Blocked => "blocked",
            Kind::StaleVersion => "stale-version",
            Kind::TooLarge => "too-large",
            Kind::UnsupportedMediaType => "unsupported-media-type",
            Kind::Timeout => "timeout",
            Kind::Unavailable => "unavailable",
            Kind::InsufficientStorage => "insufficient-storage",
            Kind::Internal => "internal",
        }
    }

    /// The status it is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            Kind::MalformedRequest => StatusCode::BAD_REQUEST,
            Kind::InvalidInput | Kind::Blocked => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
            Kind::Forbidden => StatusCode::FORBIDDEN,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Kind::NotAvailable | Kind::StaleVersion => StatusCode::CONFLICT,
            Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::Timeout => StatusCode::REQUEST_TIMEOUT,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The title, the same for every problem of this type.
    pub fn title(self) -> &'static str {
        match self {
            Kind::MalformedRequest => "The request could not be read",
            Kind::InvalidInput => "The request has invalid values",
            Kind::Unauthenticated => "A valid bearer token is needed",
            Kind::Forbidden => "Not allowed",
            Kind::NotFound => "Not found",
            Kind::MethodNotAllowed => "Method not allowed",
            Kind::NotAvailable => "Not possible now",
            Kind::Blocked => "The transition is blocked",
            Kind::StaleVersion => "The case has changed",
            Kind::TooLarge => "Too large",
            Kind::UnsupportedMediaType => "Unsupported media type",
            Kind::Timeout => "The request took too long",
            Kind::Unavailable => "The service is unavailable",
            Kind::InsufficientStorage => "The server is out of storage",
            Kind::Internal => "Something went wrong on our side",
        }
    }
}

impl Problem {
    /// A problem of `kind` with `detail`.
    pub fn new(kind: Kind, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("urn:gatehouse:problem:{}", kind.slug()),
            title: kind.title().into(),
            status: kind.status().as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            unmet: Vec::new(),
            expected_version: None,
            actual_version: None,
            request_id: None,
        }
    }

    /// The same, naming the field at fault.
    pub fn field(kind: Kind, field: impl Into<String>, message: impl Into<String>) -> Problem {
        let (field, message) = (field.into(), message.into());
        let mut p = Problem::new(kind, format!("{field}: {message}"));
        p.errors.push(FieldError { field: Some(field), message });
        p
    }

    /// A fault on our side: logged in full, answered without details.
    pub fn internal(error: &dyn std::fmt::Display) -> Problem {
        tracing::error!(error = %error, "request failed");
        Problem::new(Kind::Internal, "the request could not be completed; quote the request id when reporting it")
    }

    /// A file could not be written: the disk is full (507), or a fault on our side.
    pub fn storage(error: &std::io::Error) -> Problem {
        if gatehouse_adapters::store::files::is_out_of_space(error) {
            tracing::error!(error = %error, "the disk is full");
            Problem::new(Kind::InsufficientStorage, OUT_OF_SPACE)
        } else {
            Problem::internal(error)
        }
    }

    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let unauthenticated = status == StatusCode::UNAUTHORIZED;
        let mut response = (status, Json(self)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if unauthenticated {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<AppError> for Problem {
    fn from(e: AppError) -> Problem {
        match e {
            AppError::Invalid(problems) => {
                let mut p = Problem::new(Kind::InvalidInput, e_text(&problems));
                p.errors = problems.iter().map(FieldError::from).collect();
                p
            }
            AppError::NotFound(m) => Problem::new(Kind::NotFound, m),
            AppError::NotAllowed(m) => Problem::new(Kind::Forbidden, m),
            AppError::NotAvailable(m) => Problem::new(Kind::NotAvailable, m),
            AppError::Blocked { transition, unmet } => {
                let mut p = Problem::new(
                    Kind::Blocked,
                    format!("`{transition}` is blocked by {} unmet gate(s); see `unmet`", unmet.len()),
                );
                p.unmet = unmet.iter().map(UnmetGate::from).collect();
                p
            }
            AppError::Conflict { expected, actual } => {
                let mut p = Problem::new(
                    Kind::StaleVersion,
                    format!(
                        "you saw version {expected} of the case, but it is now at version {actual}: \
                         reload it and decide again"
                    ),
                );
                p.expected_version = Some(expected);
                p.actual_version = Some(actual);
                p
            }
            AppError::Edited(m) => Problem::new(Kind::StaleVersion, m),
            AppError::Internal(e) if e.is_out_of_space() => {
                tracing::error!(error = %e, "the disk is full");
                Problem::new(Kind::InsufficientStorage, OUT_OF_SPACE)
            }
            AppError::Internal(e @ StoreError::Objects(_)) => {
                tracing::error!(error = %e, "document store unavailable");
                Problem::new(
                    Kind::Unavailable,
                    "the document store is unavailable and nothing was saved; try again shortly",
                )
            }
            AppError::Internal(e) if e.is_unavailable() => {
                tracing::error!(error = %e, "database unavailable");
                Problem::new(Kind::Unavailable, "the database is unavailable and nothing was saved; try again shortly")
            }
            AppError::Internal(e) => Problem::internal(&e),
        }
    }
}

/// The detail of an `insufficient-storage` problem.
const OUT_OF_SPACE: &str = "the server's disk is full and nothing was saved; try again once space is freed";

fn e_text(problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(|p| match &p.field {
            Some(f) => format!("{f}: {}", p.message),
            None => p.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<JsonRejection> for Problem {
    fn from(r: JsonRejection) -> Problem {
        match r {
            JsonRejection::JsonDataError(e) => {
                // "Failed to deserialize the JSON body into the target type: fields.x: invalid type..."
                let text = std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_else(|| e.body_text());
                let (field, message) = split_path(&text);
                let mut p = Problem::new(Kind::InvalidInput, text.clone());
                p.errors.push(FieldError { field, message });
                p
            }
            JsonRejection::JsonSyntaxError(e) => {
                let text = std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_else(|| e.body_text());
                Problem::new(Kind::MalformedRequest, format!("the body is not valid JSON: {text}"))
            }
            JsonRejection::MissingJsonContentType(_) => {
                Problem::new(Kind::UnsupportedMediaType, "send the body as JSON with `Content-Type: application/json`")
            }
            JsonRejection::BytesRejection(e) => body_problem(e.status(), e.body_text()),
            other => Problem::new(Kind::MalformedRequest, other.body_text()),
        }
    }
}

/// The problem for a body that could not be read (too large, cut short).
pub fn body_problem(status: StatusCode, text: String) -> Problem {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(Kind::TooLarge, "the request body is larger than the server accepts")
    } else {
        Problem::new(Kind::MalformedRequest, text)
    }
}

/// serde_path_to_error renders `path: message`; `.` means the whole body.
fn split_path(text: &str) -> (Option<String>, String) {
    match text.split_once(": ") {
        Some((path, message)) if !path.contains(' ') && path != "." => (Some(path.to_string()), message.to_string()),
        _ => (None, text.to_string()),
    }
}

impl From<PathRejection> for Problem {
    fn from(r: PathRejection) -> Problem {
        Problem::new(Kind::NotFound, format!("no such resource: {}", r.body_text()))
    }
}

impl From<QueryRejection> for Problem {
    fn from(r: QueryRejection) -> Problem {
        let text = match &r {
            QueryRejection::FailedToDeserializeQueryString(e) => {
                std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_else(|| r.body_text())
            }
            _ => r.body_text(),
        };
        Problem::new(Kind::InvalidInput, format!("the query string is wrong: {text}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_path_names_the_field() {
        assert_eq!(
            split_path("fields.annual_value: invalid type: map, expected a number"),
            (Some("fields.annual_value".into()), "invalid type: map, expected a number".into())
        );
        assert_eq!(
            split_path("missing field `workflow` at line 1"),
            (None, "missing field `workflow` at line 1".into())
        );
    }
}
