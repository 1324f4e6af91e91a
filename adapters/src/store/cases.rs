//! Cases: loading a `CaseSnapshot`, and applying an engine `Decision` in one
//! transaction with a compare-and-set on the case version.

use super::audit::{self, AuditHead};
use super::entities::{approval, case, conflict, evidence, outbox, timer};
use super::{Store, StoreError, codec};
use gatehouse_engine::decide::{Decision, Event, blank_case};
use gatehouse_engine::definition::Definition;
use gatehouse_engine::ids::{EvidenceId, TimerId};
use gatehouse_engine::snapshot::{Actor, CaseSnapshot, EvidenceContent};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

/// The case row: what is needed to find its definition.
pub type CaseRow = case::Model;

/// Which cases to list.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Only this workflow.
    pub workflow: Option<String>,
    /// Only cases in this state.
    pub state: Option<String>,
    /// Only cases with an id above this (for paging).
    pub after_id: Option<i64>,
    /// At most this many (default 100).
    pub limit: Option<u64>,
    /// Only overdue cases as of this time: a reminder has already chased something the
    /// case still waits for (a repeating timer has fired and is armed again; its row
    /// counts the occurrences sent), or a timer is past its due time.
    pub overdue_at: Option<jiff::Timestamp>,
}

impl Store {
    /// The row of case `id`.
    pub async fn case_row(&self, id: i64) -> Result<CaseRow, StoreError> {
        case::Entity::find_by_id(id).one(&self.db).await?.ok_or_else(|| StoreError::NotFound(format!("case {id}")))
    }

    /// Cases matching `filter`, oldest first.
    pub async fn list_cases(&self, filter: &CaseFilter) -> Result<Vec<CaseRow>, StoreError> {
        let mut q = case::Entity::find().order_by_asc(case::Column::Id);
        if let Some(w) = &filter.workflow {
            q = q.filter(case::Column::WorkflowId.eq(w.as_str()));
        }
        if let Some(s) = &filter.state {
            q = q.filter(case::Column::State.eq(s.as_str()));
        }
        if let Some(after) = filter.after_id {
            q = q.filter(case::Column::Id.gt(after));
        }
        if let Some(now) = filter.overdue_at {
            let late = sea_orm::sea_query::Query::select()
                .column(timer::Column::CaseId)
                .from(timer::Entity)
                .cond_where(
                    sea_orm::Condition::any()
                        .add(timer::Column::Occurrence.gt(0))
                        .add(timer::Column::DueAt.lt(codec::to_chrono(now))),
                )
                .to_owned();
            q = q.filter(case::Column::Id.in_subquery(late));
        }
        Ok(q.limit(filter.limit.unwrap_or(100)).all(&self.db).await?)
    }

    /// Store a new case from the decision `open` returned. Returns it with its id.
    pub async fn create(&self, def: &Definition, decision: &Decision) -> Result<CaseSnapshot, StoreError> {
        let actor =
            Actor { id: decision.actor.clone(), roles: Vec::new(), kind: gatehouse_engine::snapshot::ActorKind::User };
        let mut after = blank_case(def, &actor, decision.at);
        after.apply(decision);
        let now = codec::to_chrono(decision.at);
        let txn = self.begin_write().await?;
        let row = case::ActiveModel {
            id: Default::default(),
            workflow_id: Set(def.id.clone()),
            workflow_version: Set(def.version as i32),
            state: Set(after.state.to_string()),
            version: Set(after.version),
            visit: Set(after.visit as i32),
            fields: Set(codec::fields_text(&after.fields)),
            created_by: Set(after.created_by.clone()),
            created_at: Set(now),
            entered_by: Set(after.entered_by.clone()),
            entered_at: Set(codec::to_chrono(after.entered_at)),
            updated_at: Set(now),
        };
        let id = case::Entity::insert(row).exec(&txn).await?.last_insert_id;
        after.id = id;
        persist(&txn, id, &AuditHead::genesis(), None, &after, decision).await?;
        txn.commit().await?;
        Ok(after)
    }

    /// Apply `decision`, made against `before`, in one transaction; `head` is the end of
    /// its audit trail as loaded with it ([`super::LoadedCase::head`]). If the case moved
    /// on since `before` was loaded, nothing is written and `Conflict` is returned.
    pub async fn apply(
        &self,
        before: &CaseSnapshot,
        head: &AuditHead,
        decision: &Decision,
    ) -> Result<CaseSnapshot, StoreError> {
        let mut after = before.clone();
        after.apply(decision);
        let txn = self.begin_write().await?;
        let updated = case::Entity::update_many()
            .col_expr(case::Column::State, Expr::value(after.state.to_string()))
            .col_expr(case::Column::Version, Expr::value(after.version))
            .col_expr(case::Column::Visit, Expr::value(after.visit as i32))
            .col_expr(case::Column::Fields, Expr::value(codec::fields_text(&after.fields)))
            .col_expr(case::Column::EnteredBy, Expr::value(after.entered_by.clone()))
            .col_expr(case::Column::EnteredAt, Expr::value(codec::to_chrono(after.entered_at)))
            .col_expr(case::Column::UpdatedAt, Expr::value(codec::to_chrono(decision.at)))
            .filter(case::Column::Id.eq(before.id))
            .filter(case::Column::Version.eq(before.version))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            let actual = case::Entity::find_by_id(before.id).one(&txn).await?.map(|c| c.version);
            txn.rollback().await?;
            return match actual {
                Some(actual) => Err(StoreError::Conflict { expected: before.version, actual }),
                None => Err(StoreError::NotFound(format!("case {}", before.id))),
            };
        }
        persist(&txn, before.id, head, Some(before), &after, decision).await?;
        txn.commit().await?;
        Ok(after)
    }
}

/// Write what the decision's events add, its audit events, timers and messages.
async fn persist<C: ConnectionTrait>(
    txn: &C,
    case_id: i64,
    head: &AuditHead,
    before: Option<&CaseSnapshot>,
    after: &CaseSnapshot,
    decision: &Decision,
) -> Result<(), StoreError> {
    let at = codec::to_chrono(decision.at);
    // The evidence types with a current row, which a new attachment supersedes.
    let mut current: std::collections::HashSet<&EvidenceId> =
        before.map(|b| b.evidence.keys().collect()).unwrap_or_default();
    for event in &decision.events {
        match event {
            Event::EvidenceAttached { evidence: id, content } => {
                let supersedes = !current.insert(id);
                insert_evidence(txn, case_id, id, content, supersedes, &decision.actor, at).await?
            }
            Event::ApprovalRecorded { role, verdict, comment, meeting, conflict: declared } => {
                let row = approval::ActiveModel {
                    id: Default::default(),
                    case_id: Set(case_id),
                    role: Set(role.to_string()),
                    verdict: Set(codec::verdict_name(*verdict).to_string()),
                    approved_by: Set(decision.actor.clone()),
                    approved_at: Set(at),
                    // Approvals belong to the visit in which they were given: the visit
                    // before any transition in this same decision.
                    visit: Set(approval_visit(after, decision) as i32),
                    comment: Set(comment.clone()),
                    meeting_name: Set(meeting.as_ref().map(|m| m.name.clone())),
                    meeting_date: Set(meeting.as_ref().map(|m| codec::date_to_chrono(m.date))),
                    conflict: Set(declared.clone()),
                };
                approval::Entity::insert(row).exec(txn).await?;
            }
            Event::ConflictDeclared { role, reason } => {
                let row = conflict::ActiveModel {
                    id: Default::default(),
                    case_id: Set(case_id),
                    role: Set(role.to_string()),
                    declared_by: Set(decision.actor.clone()),
                    reason: Set(reason.clone()),
                    declared_at: Set(at),
                };
                conflict::Entity::insert(row).exec(txn).await?;
            }
            _ => {}
        }
    }
    audit::append(txn, case_id, head, &decision.actor, decision.at, &decision.events).await?;
    // A timer armed again replaces its earlier row: one delete for those and the
    // cancelled ones, one insert for the armed ones.
    let replaced: Vec<TimerId> = decision.cancel.iter().chain(decision.arm.iter().map(|a| &a.timer)).cloned().collect();
    cancel_timers(txn, case_id, &replaced).await?;
    let timers = decision.arm.iter().map(|arm| timer::ActiveModel {
        id: Default::default(),
        case_id: Set(case_id),
        timer_id: Set(arm.timer.to_string()),
        due_at: Set(codec::to_chrono(arm.due_at)),
        occurrence: Set(arm.occurrence as i32),
        lease_owner: Set(None),
        lease_until: Set(None),
    });
    if !decision.arm.is_empty() {
        timer::Entity::insert_many(timers).exec_without_returning(txn).await?;
    }
    let messages = decision.messages.iter().map(|m| {
        let recipients: Vec<&str> = m.to.iter().map(|r| r.as_str()).collect();
        outbox::ActiveModel {
            id: Default::default(),
            case_id: Set(Some(case_id)),
            idempotency_key: Set(format!("case/{case_id}/{}", m.key)),
            template: Set(m.template.to_string()),
            recipients: Set(serde_json::to_string(&recipients).unwrap_or_default()),
            deadline: Set(m.deadline.map(codec::date_to_chrono)),
            timer_id: Set(Some(m.timer.to_string())),
            created_at: Set(at),
            attempts: Set(0),
            next_attempt_at: Set(at),
            last_error: Set(None),
            sent_at: Set(None),
            failed_at: Set(None),
            lease_owner: Set(None),
            lease_until: Set(None),
        }
    });
    if !decision.messages.is_empty() {
        // The key makes enqueueing idempotent: a message is never queued twice.
        outbox::Entity::insert_many(messages)
            .on_conflict(OnConflict::column(outbox::Column::IdempotencyKey).do_nothing().to_owned())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// The visit an approval in `decision` was given in.
fn approval_visit(after: &CaseSnapshot, decision: &Decision) -> u32 {
    let transitions = decision.events.iter().filter(|e| matches!(e, Event::Transitioned { .. })).count() as u32;
    after.visit - transitions
}

/// Insert an evidence row. `supersedes` when the case already has a current row of this
/// type (the snapshot the decision was made against says so, and the compare-and-set on
/// the version holds it true): that row then points at the new one.
#[allow(clippy::too_many_arguments)]
async fn insert_evidence<C: ConnectionTrait>(
    txn: &C,
    case_id: i64,
    id: &EvidenceId,
    content: &EvidenceContent,
    supersedes: bool,
    actor: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let (sha, name, size, media) = match content {
        EvidenceContent::Document { sha256, name, size, media_type } => {
            (Some(sha256.clone()), Some(name.clone()), Some(*size as i64), Some(media_type.clone()))
        }
        _ => (None, None, None, None),
    };
    let row = evidence::ActiveModel {
        id: Default::default(),
        case_id: Set(case_id),
        evidence_type: Set(id.to_string()),
        content: Set(codec::content_json(content).to_string()),
        file_sha256: Set(sha),
        file_name: Set(name),
        file_size: Set(size),
        media_type: Set(media),
        attached_by: Set(actor.to_string()),
        attached_at: Set(at),
        superseded_by: Set(None),
    };
    let new_id = evidence::Entity::insert(row).exec(txn).await?.last_insert_id;
    if !supersedes {
        return Ok(());
    }
    // The earlier one stays, in history, pointing at what replaced it.
    evidence::Entity::update_many()
        .col_expr(evidence::Column::SupersededBy, Expr::value(new_id))
        .filter(evidence::Column::CaseId.eq(case_id))
        .filter(evidence::Column::EvidenceType.eq(id.as_str()))
        .filter(evidence::Column::SupersededBy.is_null())
        .filter(evidence::Column::Id.ne(new_id))
        .exec(txn)
        .await?;
    Ok(())
}

async fn cancel_timers<C: ConnectionTrait>(txn: &C, case_id: i64, timers: &[TimerId]) -> Result<(), StoreError> {
    if timers.is_empty() {
        return Ok(());
    }
    timer::Entity::delete_many()
        .filter(timer::Column::CaseId.eq(case_id))
        .filter(timer::Column::TimerId.is_in(timers.iter().map(|t| t.to_string())))
        .exec(txn)
        .await?;
    Ok(())
}
