//! Cases: listing them, opening one, and applying what the engine decided atomically with
//! a compare-and-set on the case version (what it writes is in `writes.rs`; loading a
//! case is in `load.rs`).

use super::audit::AuditHead;
use super::documents::{NewDocument, QueuedDocument};
use super::entities::{case, timer};
use super::writes::{Writes, insert_case};
use super::{Store, StoreError, codec};
use gatehouse_engine::decide::{Decided, OpenedChild};
use gatehouse_engine::definition::Definition;
use gatehouse_engine::snapshot::{CaseSnapshot, ChildCase};
use sea_orm::sea_query::{Alias, Expr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Statement, Value,
};

/// The case row: what is needed to find its definition.
pub type CaseRow = case::Model;

/// Which cases to list.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Only this workflow.
    pub workflow: Option<String>,
    /// Only cases in this state.
    pub state: Option<String>,
    /// Only cases with an id above this (for paging oldest first).
    pub after_id: Option<i64>,
    /// Only cases with an id below this (for paging newest first).
    pub before_id: Option<i64>,
    /// Newest first instead of oldest first.
    pub newest_first: bool,
    /// Only cases whose fields hold this text, in any letter case (`%` and `_` are
    /// letters like any other here, not patterns).
    pub search: Option<String>,
    /// Only these cases.
    pub ids: Option<Vec<i64>>,
    /// Only cases in one of these states of these workflow versions: (workflow,
    /// version, state). An empty list keeps no case.
    pub in_states: Option<Vec<(String, i32, String)>>,
    /// At most this many (default 100).
    pub limit: Option<u64>,
    /// Only overdue cases as of this time: a reminder has already chased something the
    /// case still waits for (a repeating timer has fired and is armed again; its row
    /// counts the occurrences sent), or a timer is past its due time.
    pub overdue_at: Option<jiff::Timestamp>,
    /// Only cases pinned to one of these (workflow, version) pairs: the versions whose
    /// cases the reader may read. `None` keeps every case; an empty list, none.
    pub readable: Option<Vec<(String, i32)>>,
}

/// The condition keeping the cases pinned to one of the `readable` (workflow, version)
/// pairs: always true for `None`; `None` for an empty list, which keeps no case.
pub(crate) fn readable_condition(readable: Option<&[(String, i32)]>) -> Option<sea_orm::Condition> {
    let Some(readable) = readable else { return Some(sea_orm::Condition::all()) };
    if readable.is_empty() {
        return None;
    }
    let mut any = sea_orm::Condition::any();
    for (workflow, version) in readable {
        any = any.add(
            sea_orm::Condition::all()
                .add(case::Column::WorkflowId.eq(workflow.as_str()))
                .add(case::Column::WorkflowVersion.eq(*version)),
        );
    }
    Some(any)
}

impl Store {
    /// The row of case `id`.
    pub async fn case_row(&self, id: i64) -> Result<CaseRow, StoreError> {
        case::Entity::find_by_id(id).one(&self.db).await?.ok_or_else(|| StoreError::NotFound(format!("case {id}")))
    }

    /// Cases matching `filter`, oldest first (or newest first, as it says).
    pub async fn list_cases(&self, filter: &CaseFilter) -> Result<Vec<CaseRow>, StoreError> {
        let mut q = if filter.newest_first {
            case::Entity::find().order_by_desc(case::Column::Id)
        } else {
            case::Entity::find().order_by_asc(case::Column::Id)
        };
        let Some(only) = readable_condition(filter.readable.as_deref()) else { return Ok(Vec::new()) };
        q = q.filter(only);
        if let Some(w) = &filter.workflow {
            q = q.filter(case::Column::WorkflowId.eq(w.as_str()));
        }
        if let Some(s) = &filter.state {
            q = q.filter(case::Column::State.eq(s.as_str()));
        }
        if let Some(after) = filter.after_id {
            q = q.filter(case::Column::Id.gt(after));
        }
        if let Some(before) = filter.before_id {
            q = q.filter(case::Column::Id.lt(before));
        }
        if let Some(ids) = &filter.ids {
            q = q.filter(case::Column::Id.is_in(ids.iter().copied()));
        }
        if let Some(in_states) = &filter.in_states {
            let mut any = sea_orm::Condition::any();
            for (workflow, version, state) in in_states {
                any = any.add(
                    sea_orm::Condition::all()
                        .add(case::Column::WorkflowId.eq(workflow.as_str()))
                        .add(case::Column::WorkflowVersion.eq(*version))
                        .add(case::Column::State.eq(state.as_str())),
                );
            }
            // An empty `any` is false: no case.
            q = q.filter(any);
        }
        if let Some(text) = filter.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            use sea_orm::sea_query::{ExprTrait as _, Func, LikeExpr};
            let escaped: String = text
                .to_lowercase()
                .chars()
                .flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] })
                .collect();
            let fields = Expr::from(Func::lower(Expr::col(case::Column::Fields)));
            q = q.filter(fields.like(LikeExpr::new(format!("%{escaped}%")).escape('\\')));
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

    /// Store a new case from what `open` decided. Returns it with its id.
    pub async fn create(&self, def: &Definition, decided: &Decided) -> Result<CaseSnapshot, StoreError> {
        let Decided { decision, after } = decided;
        let mut after = after.clone();
        let mut row = new_case_row(def, &after, decision.at, None);
        if self.backend() == DbBackend::Postgres {
            // The id first (the audit chain's hashes name it), then the case and all its
            // rows in one statement: two round trips.
            let sql = "SELECT nextval(pg_get_serial_sequence('cases', 'id')) AS n";
            let statement = Statement::from_string(DbBackend::Postgres, sql);
            let id = Updated::find_by_statement(statement)
                .one(&self.db)
                .await?
                .ok_or_else(|| StoreError::Corrupt("the cases id sequence gave nothing".into()))?
                .n;
            row.id = Set(id);
            after.id = id;
            let writes = Writes::of(id, &AuditHead::genesis(), None, decision);
            let (insert, values) = insert_case(&row);
            if let Some(statement) = writes.one_statement(&insert, values) {
                Updated::find_by_statement(statement).one(&self.db).await?;
                return Ok(after);
            }
        }
        let (txn, _turn) = self.begin_write().await?;
        let id = case::Entity::insert(row).exec(&txn).await?.last_insert_id;
        after.id = id;
        Writes::of(id, &AuditHead::genesis(), None, decision).write_each(&txn).await?;
        txn.commit().await?;
        Ok(after)
    }

    /// Open a child case: the parent's decision (`ChildOpened`, a compare-and-set on its
    /// version, as any decision) and the new child case with its audit trail, timers and
    /// messages, in ONE transaction. A parent that moved on since `parent` was loaded is
    /// a `Conflict` and nothing is written. Returns the parent and the child as stored.
    pub async fn open_child(
        &self,
        parent: &CaseSnapshot,
        head: &AuditHead,
        child_def: &Definition,
        opened: &OpenedChild,
    ) -> Result<(CaseSnapshot, CaseSnapshot), StoreError> {
        let Decided { decision, after } = &opened.child;
        let mut child = after.clone();
        let row = new_case_row(child_def, &child, decision.at, Some((parent.id, &opened.group, opened.number)));
        let (txn, _turn) = self.begin_write().await?;
        let Some(mut parent_after) = PreparedWrite::new(parent, head, &opened.parent).run_each(&txn).await? else {
            txn.rollback().await?;
            return Err(self.conflict(parent).await);
        };
        let id = case::Entity::insert(row).exec(&txn).await?.last_insert_id;
        child.id = id;
        Writes::of(id, &AuditHead::genesis(), None, decision).write_each(&txn).await?;
        txn.commit().await?;
        if let Some(entry) =
            parent_after.children.iter_mut().find(|c| c.group == opened.group && c.number == opened.number)
        {
            entry.id = id;
        }
        Ok((parent_after, child))
    }

    /// The child cases of case `id` (`children:`), by group and number.
    pub async fn children_of(&self, id: i64) -> Result<Vec<ChildCase>, StoreError> {
        let rows = case::Entity::find()
            .filter(case::Column::ParentId.eq(id))
            .order_by_asc(case::Column::ChildGroup)
            .order_by_asc(case::Column::ChildNumber)
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|r| {
                let (Some(group), Some(number)) = (r.child_group, r.child_number) else {
                    return Err(StoreError::Corrupt(format!("case {} has a parent but no group or number", r.id)));
                };
                Ok(ChildCase { id: r.id, group, number: number.max(0) as u32, state: r.state })
            })
            .collect()
    }

    /// Apply `decided`, made against `before`, atomically; `head` is the end of its
    /// audit trail as loaded with it ([`super::LoadedCase::head`]). If the case moved on
    /// since `before` was loaded, nothing is written and `Conflict` is returned. The case
    /// written, and returned, is the engine's `decided.after`.
    ///
    /// On SQLite the decision may be committed together with other callers' decisions,
    /// in one transaction (see `group.rs`); it is still all or nothing, and the call
    /// returns once it is durable.
    pub async fn apply(
        &self,
        before: &CaseSnapshot,
        head: &AuditHead,
        decided: &Decided,
    ) -> Result<CaseSnapshot, StoreError> {
        self.apply_plan(before, PreparedWrite::new(before, head, decided)).await
    }

    /// [`Store::apply`], storing `document` (the one the decision attaches) in the same
    /// transaction: one commit makes both durable, and a conflict or a failure leaves
    /// neither. On SQLite it joins the group commit like any other decision.
    pub async fn apply_with_document(
        &self,
        before: &CaseSnapshot,
        head: &AuditHead,
        decided: &Decided,
        document: &NewDocument<'_>,
    ) -> Result<CaseSnapshot, StoreError> {
        // Into the object store first, if there is one: the row is committed only once
        // the bytes are there.
        let queued = self.queue_document(document, decided.decision.at).await?;
        let mut plan = PreparedWrite::new(before, head, decided);
        plan.document = Some(queued);
        self.apply_plan(before, plan).await
    }

    /// Move case `before` to version `to_version` of its workflow with `decided` (its
    /// `migrated` event, timers armed again): one compare-and-set like any decision, so
    /// a case is moved whole or not at all, and a case changed meanwhile is a conflict.
    pub async fn migrate_case(
        &self,
        before: &CaseSnapshot,
        head: &AuditHead,
        decided: &Decided,
        to_version: u32,
    ) -> Result<CaseSnapshot, StoreError> {
        self.apply_plan(before, PreparedWrite::migrating(before, head, decided, to_version)).await
    }

    /// Write `plan`, made against `before`: as one statement on PostgreSQL when it can
    /// be, in SQLite's group commit, or in a transaction of its own.
    async fn apply_plan(&self, before: &CaseSnapshot, plan: PreparedWrite) -> Result<CaseSnapshot, StoreError> {
        let applied = match plan.one_statement(self.backend()) {
            // One statement is atomic by itself.
            Some(statement) => plan.run_one(&self.db, statement).await?,
            None if self.backend() == DbBackend::Sqlite => self.apply_in_group(plan).await?,
            None => {
                let (txn, _turn) = self.begin_write().await?;
                let applied = plan.run_each(&txn).await?;
                if applied.is_some() {
                    txn.commit().await?;
                } else {
                    txn.rollback().await?;
                }
                applied
            }
        };
        match applied {
            Some(after) => Ok(after),
            None => Err(self.conflict(before).await),
        }
    }

    /// Apply several decisions, each made against its own case as loaded, in ONE
    /// transaction: one commit (one `fsync` on SQLite) for all of them. A decision whose
    /// case moved on writes nothing and is `None` in the answer, in its place; the
    /// others are applied all the same. An error applies none.
    pub async fn apply_many(
        &self,
        decisions: &[(&CaseSnapshot, &AuditHead, &Decided)],
    ) -> Result<Vec<Option<CaseSnapshot>>, StoreError> {
        let (txn, _turn) = self.begin_write().await?;
        let mut applied = Vec::with_capacity(decisions.len());
        for (before, head, decision) in decisions {
            let plan = PreparedWrite::new(before, head, decision);
            applied.push(match plan.one_statement(self.backend()) {
                Some(statement) => plan.run_one(&txn, statement).await?,
                None => plan.run_each(&txn).await?,
            });
        }
        txn.commit().await?;
        Ok(applied)
    }

    /// Why a compare-and-set on `before`'s version matched nothing: the case moved on, or
    /// it is gone.
    async fn conflict(&self, before: &CaseSnapshot) -> StoreError {
        match case::Entity::find_by_id(before.id).one(&self.db).await {
            Ok(Some(row)) => StoreError::Conflict { expected: before.version, actual: row.version },
            Ok(None) => StoreError::NotFound(format!("case {}", before.id)),
            Err(e) => e.into(),
        }
    }
}

/// The row of a new case `after`, opened at `at` on `def`; a child case names its
/// parent, its kind and its number.
fn new_case_row(
    def: &Definition,
    after: &CaseSnapshot,
    at: jiff::Timestamp,
    parent: Option<(i64, &str, u32)>,
) -> case::ActiveModel {
    let now = codec::to_chrono(at);
    case::ActiveModel {
        id: Default::default(),
        workflow_id: Set(def.id.clone()),
        workflow_version: Set(def.version as i32),
        state: Set(after.state.to_string()),
        version: Set(after.version),
        visit: Set(after.visit as i32),
        fields: Set(codec::fields_text(&after.fields)),
        locks: Set(codec::locks_text(after)),
        created_by: Set(after.created_by.clone()),
        created_at: Set(now),
        owner: Set(after.owner.clone()),
        entered_by: Set(after.entered_by.clone()),
        entered_at: Set(codec::to_chrono(after.entered_at)),
        updated_at: Set(now),
        parent_id: Set(parent.map(|(id, _, _)| id)),
        child_group: Set(parent.map(|(_, group, _)| group.to_string())),
        child_number: Set(parent.map(|(_, _, number)| number as i32)),
    }
}

/// One number: how many case rows the one-statement apply wrote, or a new case id.
#[derive(Debug, FromQueryResult)]
struct Updated {
    n: i64,
}

/// One decision about to be written: the case after it, its compare-and-set update and
/// its other rows.
pub(super) struct PreparedWrite {
    /// The case, and the version the decision was made against.
    case_id: i64,
    version: i64,
    after: CaseSnapshot,
    set: Vec<(&'static str, Value)>,
    writes: Writes,
    /// The document the decision attaches, stored after its rows.
    document: Option<QueuedDocument>,
}

impl PreparedWrite {
    pub(super) fn new(before: &CaseSnapshot, head: &AuditHead, decided: &Decided) -> PreparedWrite {
        let Decided { decision, after } = decided;
        debug_assert_eq!(after.version, before.version + 1, "a decision made against `before`");
        let after = after.clone();
        let writes = Writes::of(before.id, head, Some(before), decision);
        let set = vec![
            ("state", Value::from(after.state.to_string())),
            ("version", after.version.into()),
            ("visit", (after.visit as i32).into()),
            ("fields", codec::fields_text(&after.fields).into()),
            ("locks", codec::locks_text(&after).into()),
            ("entered_by", after.entered_by.clone().into()),
            ("owner", after.owner.clone().into()),
            ("entered_at", codec::to_chrono(after.entered_at).into()),
            ("updated_at", codec::to_chrono(decision.at).into()),
        ];
        PreparedWrite { case_id: before.id, version: before.version, after, set, writes, document: None }
    }

    /// [`PreparedWrite::new`] for a decision that moves the case to version `to_version`
    /// of its workflow (`decide::migrate`): the case row's version is set with the rest,
    /// in the same compare-and-set.
    pub(super) fn migrating(
        before: &CaseSnapshot,
        head: &AuditHead,
        decided: &Decided,
        to_version: u32,
    ) -> PreparedWrite {
        let mut plan = PreparedWrite::new(before, head, decided);
        plan.set.push(("workflow_version", (to_version as i32).into()));
        plan
    }

    /// On PostgreSQL, the whole decision as one statement (see `writes.rs`).
    fn one_statement(&self, backend: DbBackend) -> Option<Statement> {
        // A document's chunks are statements of their own.
        if backend != DbBackend::Postgres || self.document.is_some() {
            return None;
        }
        let n = self.set.len();
        let assignments: Vec<String> =
            self.set.iter().enumerate().map(|(i, (column, _))| format!("{column} = ${}", i + 1)).collect();
        let update = format!(
            "UPDATE cases SET {} WHERE id = ${} AND version = ${} RETURNING id, workflow_id, workflow_version",
            assignments.join(", "),
            n + 1,
            n + 2
        );
        let mut values: Vec<Value> = self.set.iter().map(|(_, v)| v.clone()).collect();
        values.extend([self.case_id.into(), self.version.into()]);
        self.writes.one_statement(&update, values)
    }

    /// Run [`PreparedWrite::one_statement`]'s statement. `None` when the case moved on.
    async fn run_one<C: ConnectionTrait>(
        self,
        c: &C,
        statement: Statement,
    ) -> Result<Option<CaseSnapshot>, StoreError> {
        let n = Updated::find_by_statement(statement).one(c).await?.map_or(0, |u| u.n);
        Ok((n == 1).then_some(self.after))
    }

    /// The compare-and-set, then the rows a statement per kind, in the caller's
    /// transaction. `None` when the case moved on; then nothing was written.
    /// The compare-and-set update of the case row.
    pub(super) fn cas_statement(&self, backend: DbBackend) -> Statement {
        let mut update = case::Entity::update_many();
        for (column, value) in &self.set {
            update = update.col_expr(Alias::new(*column), Expr::value(value.clone()));
        }
        let update = update.filter(case::Column::Id.eq(self.case_id)).filter(case::Column::Version.eq(self.version));
        sea_orm::QueryTrait::build(&update, backend)
    }

    /// This decision as SQLite's writer thread runs it (`writer.rs`).
    pub(super) fn sync_plan(&self) -> super::writer::SyncPlan {
        super::writer::SyncPlan {
            cas: self.cas_statement(DbBackend::Sqlite),
            rows: self.writes.statements(DbBackend::Sqlite),
            document: self.document.clone(),
            after: self.after.clone(),
        }
    }

    pub(super) async fn run_each<C: ConnectionTrait>(&self, c: &C) -> Result<Option<CaseSnapshot>, StoreError> {
        let updated = c.execute_raw(self.cas_statement(c.get_database_backend())).await?;
        if updated.rows_affected() != 1 {
            return Ok(None);
        }
        self.writes.write_each(c).await?;
        if let Some(document) = &self.document {
            document.write(c).await?;
        }
        Ok(Some(self.after.clone()))
    }
}
