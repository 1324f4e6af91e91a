//! Cases: open, read, list, change fields, attach evidence, approve, declare a conflict,
//! move, and read the audit trail. Each handler authenticates, parses, calls one app
//! service and shapes its answer; whether the thing may happen is the engine's call.

use super::Http;
use super::auth::{Caller, Staff};
use super::dto::*;
use super::extract::{Json, Path, Query};
use super::problem::{Kind, Problem};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_adapters::store::CaseFilter;
use gatehouse_engine::snapshot::{Actor, Meeting, Verdict};
use std::collections::BTreeMap;
use std::sync::Arc;

type Answered = Result<Response, Problem>;

fn created(case: CaseDto) -> Response {
    let location = format!("/api/cases/{}", case.id);
    (StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(case)).into_response()
}

fn ok(case: CaseDto) -> Response {
    (StatusCode::OK, axum::Json(case)).into_response()
}

fn field_inputs(
    fields: BTreeMap<String, serde_json::Value>,
) -> Result<Vec<(String, gatehouse_engine::fields::Input)>, Problem> {
    inputs(fields).map_err(|(field, message)| Problem::field(Kind::InvalidInput, field, message))
}

/// Open a case on the latest version of a workflow.
#[utoipa::path(post, path = "/api/cases", tag = "cases", request_body = NewCase,
    responses((status = 201, body = CaseDto, description = "Opened; `Location` names it"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "A field is wrong or missing"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such workflow"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create(State(http): State<Arc<Http>>, Staff(caller): Staff, Json(body): Json<NewCase>) -> Answered {
    let fields = field_inputs(body.fields)?;
    let view = http.app.create_case(&caller.actor, &body.workflow, &fields).await?;
    Ok(created(CaseDto::from(&view)))
}

/// Open a child case of a case (one application of a grant round), while the parent is
/// in a state its workflow allows it in. The parent records it in its audit trail.
#[utoipa::path(post, path = "/api/cases/{id}/children", tag = "cases", request_body = NewChild,
    params(("id" = i64, Path, description = "The parent case's id")),
    responses((status = 201, body = CaseDto, description = "The child, opened; `Location` names it"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "A field is wrong or missing"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "No such case, or no such kind of child case"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "The parent is not in a state that opens children"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn open_child(
    State(http): State<Arc<Http>>,
    Staff(caller): Staff,
    Path(id): Path<i64>,
    Json(body): Json<NewChild>,
) -> Answered {
    let fields = field_inputs(body.fields)?;
    let view = http.app.open_child(&caller.actor, id, &body.group, &fields).await?;
    Ok(created(CaseDto::from(&view)))
}

/// Cases, by id, a page at a time.
#[utoipa::path(get, path = "/api/cases", tag = "cases", params(CaseQuery),
    responses((status = 200, body = CaseList), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list(State(http): State<Arc<Http>>, Staff(caller): Staff, Query(q): Query<CaseQuery>) -> Answered {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Problem::field(Kind::InvalidInput, "limit", "must be between 1 and 500"));
    }
    let filter = CaseFilter {
        workflow: q.workflow,
        state: q.state,
        after_id: q.after,
        limit: Some(limit),
        ..Default::default()
    };
    let rows = http.app.list_cases(&caller.actor, &filter).await?;
    let next_after = if rows.len() as u64 == limit { rows.last().map(|r| r.id) } else { None };
    Ok(axum::Json(CaseList { cases: rows.iter().map(CaseSummary::from).collect(), next_after }).into_response())
}

/// A case: its state, fields, evidence, approvals, timers, and for each transition out
/// of its state whether it is allowed and, if not, every unmet gate.
#[utoipa::path(get, path = "/api/cases/{id}", tag = "cases", params(("id" = i64, Path, description = "The case id")),
    responses((status = 200, body = CaseDto), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get(State(http): State<Arc<Http>>, Staff(caller): Staff, Path(id): Path<i64>) -> Answered {
    let view = http.app.case_for(&caller.actor, id).await?;
    Ok(ok(CaseDto::from(&view)))
}

/// Set fields (`null` clears an optional one).
#[utoipa::path(patch, path = "/api/cases/{id}/fields", tag = "cases", request_body = FieldsChange,
    params(("id" = i64, Path, description = "The case id")),
    responses((status = 200, body = CaseDto), (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn set_fields(
    State(http): State<Arc<Http>>,
    Staff(caller): Staff,
    Path(id): Path<i64>,
    Json(body): Json<FieldsChange>,
) -> Answered {
    let fields = field_inputs(body.fields)?;
    let view = http.app.set_fields(&caller.actor, id, fields).await?;
    Ok(ok(CaseDto::from(&view)))
}

/// Attach evidence: a document as `multipart/form-data` with a `type` part and a `file`
/// part, or checklist answers / an acknowledgement as JSON.
#[utoipa::path(post, path = "/api/cases/{id}/evidence", tag = "cases",
    params(("id" = i64, Path, description = "The case id")),
    request_body(content(
        (EvidenceJson = "application/json"),
        (UploadForm = "multipart/form-data"),
    )),
    responses((status = 201, body = EvidenceAnswer, description = "Stored: the case to a user; to a provider's link, only what it asks for"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Unknown evidence type, bad answers, empty file"),
        (status = 413, body = Problem, content_type = "application/problem+json", description = "The file is over the limit"),
        (status = 415, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn evidence(
    State(http): State<Arc<Http>>,
    caller: Caller,
    Path(id): Path<i64>,
    request: Request,
) -> Answered {
    caller.reach(id)?;
    let content_type = content_type(request.headers());
    let view = if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, &()).await.map_err(|e| {
            Problem::new(Kind::MalformedRequest, format!("the multipart body could not be read: {}", e.body_text()))
        })?;
        let upload =
            super::upload::receive(multipart, http.app.files(), http.app.max_upload_bytes(), |t| caller.may_provide(t))
                .await?;
        caller.may_provide(&upload.evidence)?;
        http.app
            .attach_incoming(&caller.actor, id, &upload.evidence, &upload.name, &upload.media_type, upload.file)
            .await?
    } else if content_type.starts_with("application/json") {
        let Json(body) = Json::<EvidenceJson>::from_request(request, &()).await?;
        caller.may_provide(&body.kind)?;
        match body.answers {
            Some(answers) => {
                let mut parsed = BTreeMap::new();
                for (item, value) in answers {
                    parsed.insert(item.clone(), answer(&item, value)?);
                }
                http.app.answer_checklist(&caller.actor, id, &body.kind, parsed).await?
            }
            None => http.app.acknowledge(&caller.actor, id, &body.kind, body.note).await?,
        }
    } else {
        return Err(Problem::new(
            Kind::UnsupportedMediaType,
            "send a document as multipart/form-data (parts `type` and `file`), or answers as application/json",
        ));
    };
    // A provider's link sees what it was asked for and what it sent, never the rest.
    Ok(match &caller.link {
        Some(claims) => {
            let answer = EvidenceAnswer::Link(super::links::link_view(claims, &view));
            (StatusCode::CREATED, [(header::LOCATION, "/api/link".to_string())], axum::Json(answer)).into_response()
        }
        None => created(CaseDto::from(&view)),
    })
}

/// What attaching evidence answers: the case for staff; for a provider's link, only
/// what the link asks for and whether each is in.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum EvidenceAnswer {
    /// The case, to a user.
    Case(Box<CaseDto>),
    /// What the link asks for, to a provider.
    Link(super::links::LinkView),
}

fn content_type(headers: &HeaderMap) -> String {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_ascii_lowercase()
}

fn answer(
    item: &str,
    value: serde_json::Value,
) -> Result<(gatehouse_engine::snapshot::Answer, Option<String>), Problem> {
    let bad = || {
        Problem::field(
            Kind::InvalidInput,
            format!("answers.{item}"),
            "must be \"yes\", \"no\", \"n/a\" or {\"answer\": …, \"note\": …}",
        )
    };
    match value {
        serde_json::Value::String(s) => Ok((parse_answer(&s).ok_or_else(bad)?, None)),
        serde_json::Value::Object(_) => {
            let dto: AnswerDto = serde_json::from_value(value).map_err(|_| bad())?;
            Ok((parse_answer(&dto.answer).ok_or_else(bad)?, dto.note.filter(|n| !n.trim().is_empty())))
        }
        _ => Err(bad()),
    }
}

/// Download the current document of an evidence type.
#[utoipa::path(get, path = "/api/cases/{id}/evidence/{type}/file", tag = "cases",
    params(("id" = i64, Path, description = "The case id"), ("type" = String, Path, description = "The evidence type")),
    responses((status = 200, description = "The file, with the media type it was stored with", content_type = "*/*"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn file(
    State(http): State<Arc<Http>>,
    Staff(caller): Staff,
    Path((id, kind)): Path<(i64, String)>,
) -> Answered {
    document(&http, &caller.actor, id, &kind).await
}

/// The current document of evidence type `kind` on case `id`, streamed from the store,
/// for a reader of the case.
pub async fn document(http: &Http, reader: &Actor, id: i64, kind: &str) -> Answered {
    let view = http.app.case_for(reader, id).await?;
    let found = view.case.evidence.iter().find(|(k, _)| k.as_str() == kind).and_then(|(_, e)| match &e.content {
        gatehouse_engine::snapshot::EvidenceContent::Document { sha256, name, media_type, .. } => {
            Some((sha256.clone(), name.clone(), media_type.clone()))
        }
        _ => None,
    });
    let Some((sha256, name, media_type)) = found else {
        return Err(Problem::new(Kind::NotFound, format!("case {id} holds no document of type `{kind}`")));
    };
    let (size, chunks) = http.app.document(&sha256).await?;
    let body = axum::body::Body::from_stream(chunks);
    let disposition = format!("attachment; filename=\"{}\"", name.replace(['"', '\\'], "_"));
    Ok((
        [
            (header::CONTENT_TYPE, media_type),
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        body,
    )
        .into_response())
}

/// Record an approval or a rejection as a role the caller holds.
#[utoipa::path(post, path = "/api/cases/{id}/approvals", tag = "cases", request_body = ApprovalRequest,
    params(("id" = i64, Path, description = "The case id")),
    responses((status = 201, body = CaseDto),
        (status = 403, body = Problem, content_type = "application/problem+json", description = "The caller does not hold the role, or is barred by separation of duties"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "No approval is asked of the role in this state")),
    security(("bearer" = [])))]
pub async fn approve(
    State(http): State<Arc<Http>>,
    Staff(caller): Staff,
    Path(id): Path<i64>,
    Json(body): Json<ApprovalRequest>,
) -> Answered {
    let verdict = match body.decision {
        ApprovalDecision::Approve => Verdict::Approve,
        ApprovalDecision::Reject => Verdict::Reject,
    };
    let meeting = body.meeting.map(|m| Meeting { name: m.name, date: m.date });
    let view = http.app.record_approval(&caller.actor, id, &body.role, verdict, body.comment, meeting, None).await?;
    Ok(created(CaseDto::from(&view)))
}

/// Declare a conflict of interest: from then on the caller does not count toward the
/// role's quorum on this case.
#[utoipa::path(post, path = "/api/cases/{id}/conflicts", tag = "cases", request_body = ConflictRequest,
    params(("id" = i64, Path, description = "The case id")),
    responses((status = 201, body = CaseDto), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn conflict(
    State(http): State<Arc<Http>>,
    Staff(caller): Staff,
    Path(id): Path<i64>,
    Json(body): Json<ConflictRequest>,
) -> Answered {
    let view = http.app.declare_conflict(&caller.actor, id, &body.role, &body.reason).await?;
    Ok(created(CaseDto::from(&view)))
}

/// Make another commissioner responsible for a case (its owner): its letters name them,
/// and they are told when its messages fail. Recorded in the audit trail.
#[utoipa::path(put, path = "/api/cases/{id}/owner", tag = "cases", request_body = OwnerRequest,
    params(("id" = i64, Path, description = "The case id")),
    responses((status = 200, body = CaseDto),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "`owner` is not a user who holds one of the workflow's roles"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "They are responsible for it already, or the case is closed"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn reassign(
    State(http): State<Arc<Http>>,
    Staff(caller): Staff,
    Path(id): Path<i64>,
    Json(body): Json<OwnerRequest>,
) -> Answered {
    let view = http.app.reassign(&caller.actor, id, &body.owner).await?;
    Ok(ok(CaseDto::from(&view)))
}

/// Move a case. Blocked: 422 with every unmet gate. Stale `expected_version`: 409.
#[utoipa::path(post, path = "/api/cases/{id}/transitions", tag = "cases", request_body = TransitionRequest,
    params(("id" = i64, Path, description = "The case id")),
    responses((status = 200, body = CaseDto),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "Blocked: `unmet` lists every gate that does not hold"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "`expected_version` is stale, or the transition does not leave the current state"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn transition(
    State(http): State<Arc<Http>>,
    Staff(caller): Staff,
    Path(id): Path<i64>,
    Json(body): Json<TransitionRequest>,
) -> Answered {
    let view = http.app.request_transition(&caller.actor, id, &body.transition, body.expected_version).await?;
    Ok(ok(CaseDto::from(&view)))
}

/// The audit trail, with a check of its hash chain.
#[utoipa::path(get, path = "/api/cases/{id}/events", tag = "cases", params(("id" = i64, Path, description = "The case id")),
    responses((status = 200, body = AuditTrail), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn events(State(http): State<Arc<Http>>, Staff(caller): Staff, Path(id): Path<i64>) -> Answered {
    let (events, broken) = http.app.audit_trail(&caller.actor, id).await?;
    let events = events
        .into_iter()
        .map(|e| EventDto {
            seq: e.seq,
            kind: e.kind,
            actor: e.actor,
            at: e.at.to_rfc3339(),
            payload: serde_json::from_str(&e.payload).unwrap_or(serde_json::Value::String(e.payload)),
            hash: e.hash,
        })
        .collect();
    Ok(axum::Json(AuditTrail {
        events,
        chain_intact: broken.is_none(),
        broken: broken.map(|b| BrokenDto { seq: b.seq, reason: b.reason }),
    })
    .into_response())
}

/// Who the bearer token belongs to.
#[utoipa::path(get, path = "/api/me", tag = "users",
    responses((status = 200, body = Me), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn me(caller: Caller) -> axum::Json<Me> {
    axum::Json(Me {
        id: caller.actor.id.clone(),
        roles: caller.actor.roles.clone(),
        case_id: caller.link.as_ref().map(|l| l.case_id),
    })
}

/// The multipart form of an upload (for the OpenAPI document).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The evidence type.
    #[schema(rename = "type")]
    kind: String,
    /// The document.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}
