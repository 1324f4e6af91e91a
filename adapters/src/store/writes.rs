//! What a decision writes besides the case row, worked out once ([`Writes::of`]) and
//! then written one of two ways:
//!
//! - [`Writes::write_each`]: a statement per kind of row (a multi-row insert each),
//!   inside the caller's transaction, sent to SQLite as one batch. Both databases;
//!   SQLite always.
//! - [`Writes::one_statement`]: PostgreSQL only. The compare-and-set update of the case
//!   and every insert, update and delete as one statement of data-modifying `WITH`
//!   clauses, each of which writes only when the update matched (`… SELECT … FROM c`).
//!   One statement is one round trip and is atomic without `BEGIN` and `COMMIT`, so a
//!   decision costs one round trip instead of six to nine.
//!
//! The rows are sea-orm active models either way, so the two ways cannot disagree on
//! what a column holds.

use super::audit::{self, AuditHead};
use super::entities::{approval, conflict, event, evidence, outbox, timer};
use super::{StoreError, codec};
use gatehouse_engine::decide::{Decision, Event};
use gatehouse_engine::dwell::StayChange;
use gatehouse_engine::ids::EvidenceId;
use gatehouse_engine::snapshot::{CaseSnapshot, EvidenceContent};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityName, EntityTrait,
    IdenStatic, Iterable, QueryFilter, QueryTrait, Statement, Value,
};
use std::collections::HashSet;

/// A new evidence row, and whether it supersedes a current row of its type.
struct Attached {
    row: evidence::ActiveModel,
    evidence_type: String,
    supersedes: bool,
}

/// Every row a decision writes besides the case row.
pub(super) struct Writes {
    case_id: i64,
    evidence: Vec<Attached>,
    approvals: Vec<approval::ActiveModel>,
    conflicts: Vec<conflict::ActiveModel>,
    events: Vec<event::ActiveModel>,
    /// Timers cancelled and not armed again.
    cancel: Vec<String>,
    /// Timers armed; one armed again replaces its row (an upsert on case and timer).
    arm: Vec<timer::ActiveModel>,
    messages: Vec<outbox::ActiveModel>,
    /// The case's time in the states it left and the one it entered, added to its rows
    /// (an upsert on case and state; the workflow and version are the case row's).
    stays: Vec<StayChange>,
}

impl Writes {
    /// What `decision`, made against `before` (none for a new case), writes for case
    /// `case_id`, its events chained after `head`.
    pub(super) fn of(case_id: i64, head: &AuditHead, before: Option<&CaseSnapshot>, decision: &Decision) -> Writes {
        let at = codec::to_chrono(decision.at);
        let actor = &decision.actor;
        // The evidence types with a current row, which a new attachment supersedes.
        let mut current: HashSet<&EvidenceId> = before.map(|b| b.evidence.keys().collect()).unwrap_or_default();
        let mut writes = Writes {
            case_id,
            evidence: Vec::new(),
            approvals: Vec::new(),
            conflicts: Vec::new(),
            events: audit::rows(case_id, head, actor, decision.at, &decision.events),
            cancel: Vec::new(),
            arm: Vec::new(),
            messages: Vec::new(),
            stays: Vec::new(),
        };
        let entered: Vec<&str> = decision
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Opened { state, .. } | Event::Transitioned { to: state, .. } => Some(state.as_str()),
                Event::Amended { back_to, .. } => back_to.as_ref().map(|s| s.as_str()),
                Event::Migrated { from_state, to_state, .. } if from_state != to_state => Some(to_state.as_str()),
                _ => None,
            })
            .collect();
        let was = before.map(|b| (b.state.as_str(), b.entered_at));
        writes.stays = gatehouse_engine::dwell::changes(was, &entered, decision.at);
        for event in &decision.events {
            match event {
                Event::EvidenceAttached { evidence: id, content } => {
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
                        attached_by: Set(actor.clone()),
                        attached_at: Set(at),
                        superseded_by: Set(None),
                    };
                    let supersedes = !current.insert(id);
                    writes.evidence.push(Attached { row, evidence_type: id.to_string(), supersedes });
                }
                Event::ApprovalRecorded { role, verdict, comment, meeting, conflict: declared, basis, visit } => {
                    writes.approvals.push(approval::ActiveModel {
                        id: Default::default(),
                        case_id: Set(case_id),
                        role: Set(role.to_string()),
                        verdict: Set(codec::verdict_name(*verdict).to_string()),
                        approved_by: Set(actor.clone()),
                        approved_at: Set(at),
                        visit: Set(*visit as i32),
                        comment: Set(comment.clone()),
                        meeting_name: Set(meeting.as_ref().map(|m| m.name.clone())),
                        meeting_date: Set(meeting.as_ref().map(|m| codec::date_to_chrono(m.date))),
                        conflict: Set(declared.clone()),
                        basis: Set(basis.as_ref().map(codec::basis_text)),
                    })
                }
                Event::ConflictDeclared { role, reason } => writes.conflicts.push(conflict::ActiveModel {
                    id: Default::default(),
                    case_id: Set(case_id),
                    role: Set(role.to_string()),
                    declared_by: Set(actor.clone()),
                    reason: Set(reason.clone()),
                    declared_at: Set(at),
                }),
                _ => {}
            }
        }
        let armed: HashSet<&str> = decision.arm.iter().map(|a| a.timer.as_str()).collect();
        writes.cancel = decision.cancel.iter().filter(|t| !armed.contains(t.as_str())).map(|t| t.to_string()).collect();
        writes.arm = decision
            .arm
            .iter()
            .map(|arm| timer::ActiveModel {
                id: Default::default(),
                case_id: Set(case_id),
                timer_id: Set(arm.timer.to_string()),
                due_at: Set(codec::to_chrono(arm.due_at)),
                occurrence: Set(arm.occurrence as i32),
                lease_owner: Set(None),
                lease_until: Set(None),
            })
            .collect();
        writes.messages = decision
            .messages
            .iter()
            .map(|m| {
                let recipients: Vec<&str> = m.to.iter().map(|r| r.as_str()).collect();
                outbox::ActiveModel {
                    id: Default::default(),
                    case_id: Set(Some(case_id)),
                    idempotency_key: Set(format!("case/{case_id}/{}", m.key)),
                    template: Set(m.template.to_string()),
                    recipients: Set(serde_json::to_string(&recipients).unwrap_or_default()),
                    deadline: Set(m.deadline.map(codec::date_to_chrono)),
                    timer_id: Set(m.timer.as_ref().map(|t| t.to_string())),
                    created_at: Set(at),
                    attempts: Set(0),
                    next_attempt_at: Set(at),
                    last_error: Set(None),
                    sent_at: Set(None),
                    failed_at: Set(None),
                    lease_owner: Set(None),
                    lease_until: Set(None),
                }
            })
            .collect();
        writes
    }

    /// Write every row, a statement per kind, inside the caller's transaction (after the
    /// case row's compare-and-set). On SQLite the statements go to the connection as one
    /// batch: sqlx runs each SQLite connection on a thread of its own, and every call is
    /// two thread switches, which cost more than the statements themselves.
    pub(super) async fn write_each<C: ConnectionTrait>(&self, c: &C) -> Result<(), StoreError> {
        let backend = c.get_database_backend();
        let statements = self.statements(backend);
        if backend == DbBackend::Sqlite {
            if let Some(batch) = batch(statements) {
                c.execute_raw(batch).await?;
            }
        } else {
            for statement in statements {
                c.execute_raw(statement).await?;
            }
        }
        Ok(())
    }

    /// The statements of [`Writes::write_each`], in order.
    pub(super) fn statements(&self, backend: DbBackend) -> Vec<Statement> {
        // The id of the evidence row inserted just before: an attachment supersedes the
        // current row of its type, which stays, in history, pointing at what replaced it.
        let inserted = match backend {
            DbBackend::Postgres => "lastval()",
            _ => "last_insert_rowid()",
        };
        let mut statements = Vec::new();
        for a in &self.evidence {
            statements.push(evidence::Entity::insert(a.row.clone()).build(backend));
            if a.supersedes {
                let update = evidence::Entity::update_many()
                    .col_expr(evidence::Column::SupersededBy, Expr::cust(inserted))
                    .filter(evidence::Column::CaseId.eq(self.case_id))
                    .filter(evidence::Column::EvidenceType.eq(a.evidence_type.as_str()))
                    .filter(evidence::Column::SupersededBy.is_null())
                    .filter(ExprTrait::ne(Expr::col(evidence::Column::Id), Expr::cust(inserted)));
                statements.push(update.build(backend));
            }
        }
        if !self.approvals.is_empty() {
            statements.push(approval::Entity::insert_many(self.approvals.iter().cloned()).build(backend));
        }
        if !self.conflicts.is_empty() {
            statements.push(conflict::Entity::insert_many(self.conflicts.iter().cloned()).build(backend));
        }
        if !self.events.is_empty() {
            // One statement for the decision's events, however many.
            statements.push(event::Entity::insert_many(self.events.iter().cloned()).build(backend));
        }
        if !self.cancel.is_empty() {
            let delete = timer::Entity::delete_many()
                .filter(timer::Column::CaseId.eq(self.case_id))
                .filter(timer::Column::TimerId.is_in(self.cancel.iter().map(String::as_str)));
            statements.push(delete.build(backend));
        }
        if !self.arm.is_empty() {
            statements.push(timer::Entity::insert_many(self.arm.iter().cloned()).on_conflict(rearm()).build(backend));
        }
        if !self.messages.is_empty() {
            // The key makes enqueueing idempotent: a message is never queued twice.
            let insert = outbox::Entity::insert_many(self.messages.iter().cloned())
                .on_conflict(OnConflict::column(outbox::Column::IdempotencyKey).do_nothing().to_owned());
            statements.push(insert.build(backend));
        }
        for change in &self.stays {
            let mut q = Params::new(backend);
            let values = stay_values(&mut q, change);
            let case_id = q.param(self.case_id);
            let sql = format!(
                "{STAY_INSERT} SELECT id, workflow_id, workflow_version, {values} FROM cases WHERE id = {case_id}{STAY_UPSERT}"
            );
            statements.push(Statement::from_sql_and_values(backend, sql, q.values));
        }
        statements
    }

    /// PostgreSQL: `case`, the statement that writes the case row (the compare-and-set
    /// `UPDATE cases … RETURNING id, workflow_id, workflow_version`, or the `INSERT` of a
    /// new case returning the same, its values numbered
    /// from `$1` in `case_values`), and every row, as one statement that returns one row
    /// with `n`, the number of case rows written (0 when the case moved on, and then
    /// nothing was written). None when the decision attaches two documents of one type,
    /// which one statement cannot chain (the second would have to supersede the first);
    /// those go through [`Writes::write_each`].
    pub(super) fn one_statement(&self, case: &str, case_values: Vec<Value>) -> Option<Statement> {
        let mut seen = HashSet::new();
        if !self.evidence.iter().all(|a| seen.insert(a.evidence_type.as_str())) {
            return None;
        }
        let mut q = Params { values: case_values, numbered: true };
        let mut ctes = vec![format!("c AS ({case})")];
        for (i, a) in self.evidence.iter().enumerate() {
            ctes.push(insert_cte(&mut q, &format!("ev{i}"), &a.row, " RETURNING id, evidence_type"));
            if a.supersedes {
                let case_id = q.param(self.case_id);
                ctes.push(format!(
                    "sup{i} AS (UPDATE evidence SET superseded_by = ev{i}.id FROM ev{i} \
                     WHERE evidence.case_id = {case_id} AND evidence.evidence_type = ev{i}.evidence_type \
                     AND evidence.superseded_by IS NULL)"
                ));
            }
        }
        for (i, row) in self.approvals.iter().enumerate() {
            ctes.push(insert_cte(&mut q, &format!("ap{i}"), row, ""));
        }
        for (i, row) in self.conflicts.iter().enumerate() {
            ctes.push(insert_cte(&mut q, &format!("co{i}"), row, ""));
        }
        for (i, row) in self.events.iter().enumerate() {
            ctes.push(insert_cte(&mut q, &format!("e{i}"), row, ""));
        }
        if !self.cancel.is_empty() {
            let case_id = q.param(self.case_id);
            let names: Vec<String> = self.cancel.iter().map(|t| q.param(t.as_str())).collect();
            ctes.push(format!(
                "tc AS (DELETE FROM timers WHERE case_id = {case_id} AND timer_id IN ({}) AND EXISTS (SELECT 1 FROM c))",
                names.join(", ")
            ));
        }
        for (i, row) in self.arm.iter().enumerate() {
            let tail = " ON CONFLICT (case_id, timer_id) DO UPDATE SET due_at = EXCLUDED.due_at, \
                        occurrence = EXCLUDED.occurrence, lease_owner = NULL, lease_until = NULL";
            ctes.push(insert_cte(&mut q, &format!("ta{i}"), row, tail));
        }
        for (i, row) in self.messages.iter().enumerate() {
            ctes.push(insert_cte(&mut q, &format!("m{i}"), row, " ON CONFLICT (idempotency_key) DO NOTHING"));
        }
        for (i, change) in self.stays.iter().enumerate() {
            let values = stay_values(&mut q, change);
            ctes.push(format!(
                "st{i} AS ({STAY_INSERT} SELECT c.id, c.workflow_id, c.workflow_version, {values} FROM c{STAY_UPSERT})"
            ));
        }
        let sql = format!("WITH {} SELECT COUNT(*) AS n FROM c", ctes.join(", "));
        Some(Statement::from_sql_and_values(DbBackend::Postgres, sql, q.values))
    }
}

/// SQLite: `statements` as one, run in one call (sqlx binds each statement's `?`s from
/// the values in turn). None when there are none.
fn batch(statements: Vec<Statement>) -> Option<Statement> {
    let backend = statements.first()?.db_backend;
    let mut sql = String::new();
    let mut values = Vec::new();
    for statement in statements {
        sql.push_str(&statement.sql);
        sql.push_str(";\n");
        values.extend(statement.values.map(|v| v.0).unwrap_or_default());
    }
    Some(Statement::from_sql_and_values(backend, sql, values))
}

/// A timer armed again takes over its earlier row: new due time and occurrence, no lease.
fn rearm() -> OnConflict {
    OnConflict::columns([timer::Column::CaseId, timer::Column::TimerId])
        .update_columns([
            timer::Column::DueAt,
            timer::Column::Occurrence,
            timer::Column::LeaseOwner,
            timer::Column::LeaseUntil,
        ])
        .to_owned()
}

/// The start of the statement that adds to a case's stay in a state, the case's
/// workflow and version read from its row (they never change).
const STAY_INSERT: &str = "INSERT INTO state_stays (case_id, workflow_id, workflow_version, state, ms, entered_ms)";
/// A stay in a state the case was in before: the time of the visit it left is added to
/// the earlier ones; the start of the visit it is in now replaces any other.
const STAY_UPSERT: &str =
    " ON CONFLICT (case_id, state) DO UPDATE SET ms = state_stays.ms + excluded.ms, entered_ms = excluded.entered_ms";

/// The state, time and start of `change`'s row, as placeholders.
fn stay_values(q: &mut Params, change: &StayChange) -> String {
    let state = q.param(change.state.as_str());
    let ms = q.param(change.time.as_millis() as i64);
    let entered = q.param(change.entered.map(|t| t.as_millisecond()));
    format!("{state}, {ms}, {entered}")
}

/// The values of a statement being built, numbered `$1`, `$2`, … as they are added
/// (PostgreSQL), or each `?` (SQLite).
pub(super) struct Params {
    pub(super) values: Vec<Value>,
    numbered: bool,
}

impl Params {
    pub(super) fn new(backend: DbBackend) -> Params {
        Params { values: Vec::new(), numbered: backend == DbBackend::Postgres }
    }

    /// Add a value; its placeholder.
    pub(super) fn param(&mut self, v: impl Into<Value>) -> String {
        self.values.push(v.into());
        if self.numbered { format!("${}", self.values.len()) } else { "?".to_string() }
    }
}

/// `name AS (INSERT INTO <table> (<the columns set>) SELECT <their values> FROM c<tail>)`:
/// the row is written only when the case row `c` was written.
fn insert_cte<A: ActiveModelTrait>(q: &mut Params, name: &str, row: &A, tail: &str) -> String {
    let (table, columns, values) = columns_and_values(q, row);
    format!("{name} AS (INSERT INTO {table} ({columns}) SELECT {values} FROM c{tail})")
}

/// `INSERT INTO cases (<the columns set>) VALUES (<their values>) RETURNING id,
/// workflow_id, workflow_version`, its values numbered from `$1`: the new case row of
/// [`Writes::one_statement`] (whose time in states names its workflow).
pub(super) fn insert_case(row: &super::entities::case::ActiveModel) -> (String, Vec<Value>) {
    let mut q = Params::new(DbBackend::Postgres);
    let (table, columns, values) = columns_and_values(&mut q, row);
    (format!("INSERT INTO {table} ({columns}) VALUES ({values}) RETURNING id, workflow_id, workflow_version"), q.values)
}

/// The table, the columns `row` sets and their placeholders.
fn columns_and_values<A: ActiveModelTrait>(q: &mut Params, row: &A) -> (String, String, String) {
    let mut columns = Vec::new();
    let mut values = Vec::new();
    for column in <<A::Entity as EntityTrait>::Column as Iterable>::iter() {
        if let ActiveValue::Set(v) | ActiveValue::Unchanged(v) = row.get(column) {
            columns.push(column.as_str());
            values.push(q.param(v));
        }
    }
    (A::Entity::default().table_name().to_string(), columns.join(", "), values.join(", "))
}
