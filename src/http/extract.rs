//! axum's extractors with their rejections turned into problem+json.

use super::problem::Problem;
use axum::extract::{FromRequest, FromRequestParts};

/// A JSON body; a malformed or mistyped one is a problem naming the field at fault.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Problem))]
pub struct Json<T>(pub T);

/// Path parameters.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Problem))]
pub struct Path<T>(pub T);

/// The query string.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Problem))]
pub struct Query<T>(pub T);
