//! Filling a database with many cases, fast. One case is opened through the app; its
//! rows (the case and its `opened` event, all that opening writes) are copied under new
//! ids, with the audit hash recomputed for each copy so that every chain still verifies.
//! Copies are written 1000 rows per INSERT, many INSERTs per transaction.

use crate::lifecycle;
use gatehouse::app::App;
use gatehouse_adapters::store::chain_hash;
use gatehouse_adapters::store::entities::{case, event, timer};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QuerySelect, TransactionTrait,
};
use std::time::Instant;

/// Rows per INSERT statement.
const ROWS_PER_INSERT: usize = 1_000;
/// Rows per transaction.
const ROWS_PER_TRANSACTION: usize = 50_000;

/// The rows of one freshly opened case, to copy.
pub struct Template {
    case: case::Model,
    event: event::Model,
}

impl Template {
    /// Open a case through the app and keep its rows.
    pub async fn capture(app: &App) -> anyhow::Result<Template> {
        let id = lifecycle::open(app).await?;
        let db = app.store().connection();
        let case =
            case::Entity::find_by_id(id).one(db).await?.ok_or_else(|| anyhow::anyhow!("case {id} was not stored"))?;
        let mut events = event::Entity::find().filter(event::Column::CaseId.eq(id)).all(db).await?;
        let timers = timer::Entity::find().filter(timer::Column::CaseId.eq(id)).count(db).await?;
        anyhow::ensure!(
            events.len() == 1 && timers == 0,
            "opening a case wrote {} events and {timers} timers; the copies would not be what opening writes",
            events.len()
        );
        Ok(Template { case, event: events.remove(0) })
    }

    fn case(&self, id: i64) -> case::ActiveModel {
        case::ActiveModel { id: Set(id), ..self.case.clone().into_active_model() }
    }

    fn event(&self, case_id: i64) -> event::ActiveModel {
        let e = &self.event;
        let hash = chain_hash(&e.prev_hash, case_id, e.seq, &e.kind, &e.actor, e.at.timestamp_micros(), &e.payload);
        event::ActiveModel { id: NotSet, case_id: Set(case_id), hash: Set(hash), ..e.clone().into_active_model() }
    }
}

/// Add copies of `template` until the database holds `target` cases. Returns the id of
/// the last case.
pub async fn grow_to(db: &DatabaseConnection, template: &Template, target: u64) -> anyhow::Result<i64> {
    let start = Instant::now();
    let missing = target.saturating_sub(case::Entity::find().count(db).await?);
    let first = max_case_id(db).await? + 1;
    let ids: Vec<i64> = (first..first + missing as i64).collect();
    for transaction in ids.chunks(ROWS_PER_TRANSACTION) {
        let txn = db.begin().await?;
        for rows in transaction.chunks(ROWS_PER_INSERT) {
            case::Entity::insert_many(rows.iter().map(|&id| template.case(id))).exec_without_returning(&txn).await?;
            event::Entity::insert_many(rows.iter().map(|&id| template.event(id))).exec_without_returning(&txn).await?;
        }
        txn.commit().await?;
    }
    after_bulk_insert(db).await?;
    eprintln!("store bench: {missing} cases added in {:.1} s, {target} in all", start.elapsed().as_secs_f64());
    max_case_id(db).await
}

async fn max_case_id(db: &DatabaseConnection) -> anyhow::Result<i64> {
    let max: Option<Option<i64>> =
        case::Entity::find().select_only().column_as(case::Column::Id.max(), "max").into_tuple().one(db).await?;
    Ok(max.flatten().unwrap_or(0))
}

/// On PostgreSQL, move the id sequence past the ids given explicitly, and gather the
/// planner statistics that autovacuum would gather soon after, rather than while we
/// measure. SQLite needs neither: the store never runs ANALYZE there.
async fn after_bulk_insert(db: &DatabaseConnection) -> anyhow::Result<()> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    db.execute_unprepared("SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases))").await?;
    db.execute_unprepared("ANALYZE").await?;
    Ok(())
}
