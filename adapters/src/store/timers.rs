//! Armed timers as the scheduler sees them. A process claims the earliest due timers,
//! a few at a time, by writing a lease on their rows (owner and expiry) in one
//! statement; on PostgreSQL the rows are picked with `FOR UPDATE SKIP LOCKED`, so
//! processes sharing a database never wait on each other and never claim the same
//! timer. SQLite serialises writers, so the same `UPDATE … WHERE id IN (SELECT …)
//! RETURNING` is enough there.
//!
//! Firing a timer replaces or deletes its row (the decision re-arms or cancels it), so
//! a lease needs no release on success: the scheduler releases only the timers it did
//! not fire. A lease left behind by a process that died simply expires; the case's
//! compare-and-set version and the outbox's idempotency key make a second firing of
//! the same occurrence a no-op.

use super::entities::{case, timer};
use super::{Store, StoreError, codec};
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Statement, Value,
};
use std::collections::BTreeMap;

/// A timer claimed by this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimer {
    /// Row id (changes each time the timer is re-armed).
    pub id: i64,
    /// The case.
    pub case_id: i64,
    /// The workflow's timer id.
    pub timer_id: String,
    /// When it was due.
    pub due_at: jiff::Timestamp,
    /// How many times it fired before in this visit.
    pub occurrence: u32,
}

/// An armed timer, for people: `gatehouse timers --due-before`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmedTimerRow {
    /// The timer.
    pub timer: DueTimer,
    /// The case's workflow.
    pub workflow_id: String,
    /// The workflow version the case is pinned to.
    pub workflow_version: i32,
    /// The case's state.
    pub state: String,
    /// Who holds it, while a process is firing it.
    pub lease_owner: Option<String>,
}

#[derive(Debug, FromQueryResult)]
struct Claimed {
    id: i64,
    case_id: i64,
    timer_id: String,
    due_at: DateTime<Utc>,
    occurrence: i32,
}

impl Store {
    /// Claim up to `limit` due timers, the earliest first, that no live lease holds:
    /// this process (`owner`) holds them until `lease_until`. Empty when nothing is due.
    pub async fn claim_due_timers(
        &self,
        owner: &str,
        now: jiff::Timestamp,
        lease_until: jiff::Timestamp,
        limit: usize,
    ) -> Result<Vec<DueTimer>, StoreError> {
        let _turn = self.write_turn().await;
        let claim = super::lease::Claim {
            table: "timers",
            also_set: "",
            due: "due_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)",
            order: "due_at",
            returning: "id, case_id, timer_id, due_at, occurrence",
        };
        let statement = claim.statement(self.backend(), owner, now, lease_until, limit);
        let rows = Claimed::find_by_statement(statement).all(&self.db).await?;
        let mut claimed: Vec<DueTimer> = rows
            .into_iter()
            .map(|c| DueTimer {
                id: c.id,
                case_id: c.case_id,
                timer_id: c.timer_id,
                due_at: codec::to_jiff(c.due_at),
                occurrence: c.occurrence.max(0) as u32,
            })
            .collect();
        // RETURNING promises no order; the earliest due goes first.
        claimed.sort_by_key(|t| (t.due_at, t.id));
        Ok(claimed)
    }

    /// Give a claimed timer back, if its row is still there and still ours: it may be
    /// claimed again from `not_before` (now, or later after a failure).
    pub async fn release_timer(&self, id: i64, owner: &str, not_before: jiff::Timestamp) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        let sql = "UPDATE timers SET lease_owner = NULL, lease_until = $1 WHERE id = $2 AND lease_owner = $3";
        let values: [Value; 3] = [codec::to_chrono(not_before).into(), id.into(), owner.into()];
        self.db.execute_raw(Statement::from_sql_and_values(self.backend(), sql, values)).await?;
        Ok(())
    }

    /// Give back every timer lease `owner` holds (a process shutting down cleanly).
    pub async fn release_timer_leases(&self, owner: &str) -> Result<u64, StoreError> {
        let _turn = self.write_turn().await;
        let sql = "UPDATE timers SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1";
        let r = self.db.execute_raw(Statement::from_sql_and_values(self.backend(), sql, [owner.into()])).await?;
        Ok(r.rows_affected())
    }

    /// When the next timer may be claimed, for the scheduler's sleep. Looks at the
    /// earliest few rows only (the `due_at` index); a lease that hides an earlier one
    /// costs at most one extra wake-up.
    pub async fn next_timer_due(&self) -> Result<Option<jiff::Timestamp>, StoreError> {
        let rows = timer::Entity::find().order_by_asc(timer::Column::DueAt).limit(16).all(&self.db).await?;
        Ok(rows.iter().map(|t| t.lease_until.map_or(t.due_at, |l| l.max(t.due_at))).min().map(codec::to_jiff))
    }

    /// Armed timers due before `before`, earliest first, with their case's workflow and
    /// state.
    pub async fn timers_due_before(&self, before: jiff::Timestamp) -> Result<Vec<ArmedTimerRow>, StoreError> {
        let timers = timer::Entity::find()
            .filter(timer::Column::DueAt.lt(codec::to_chrono(before)))
            .order_by_asc(timer::Column::DueAt)
            .order_by_asc(timer::Column::Id)
            .all(&self.db)
            .await?;
        let ids: Vec<i64> =
            timers.iter().map(|t| t.case_id).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        let mut cases = BTreeMap::new();
        for chunk in ids.chunks(500) {
            for c in case::Entity::find().filter(case::Column::Id.is_in(chunk.to_vec())).all(&self.db).await? {
                cases.insert(c.id, c);
            }
        }
        Ok(timers
            .into_iter()
            .filter_map(|t| {
                let c = cases.get(&t.case_id)?;
                Some(ArmedTimerRow {
                    workflow_id: c.workflow_id.clone(),
                    workflow_version: c.workflow_version,
                    state: c.state.clone(),
                    lease_owner: t.lease_owner.clone(),
                    timer: DueTimer {
                        id: t.id,
                        case_id: t.case_id,
                        timer_id: t.timer_id,
                        due_at: codec::to_jiff(t.due_at),
                        occurrence: t.occurrence.max(0) as u32,
                    },
                })
            })
            .collect())
    }
}
