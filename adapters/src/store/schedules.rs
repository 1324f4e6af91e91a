//! Workflow schedules' runs: the last occurrence of each schedule that was fired. Firing
//! an occurrence moves that record forward with a compare-and-set and queues the
//! schedule's message in the same transaction, so however many processes share the
//! database, each occurrence is queued once.

use super::entities::schedule_run;
use super::outbox::{NewMessage, insert_message};
use super::{Store, StoreError, codec};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, Statement, Value};

impl Store {
    /// The last occurrence of a schedule that was fired. A schedule seen for the first
    /// time is recorded as last fired at `first_seen`, so that starting Gatehouse does
    /// not send a year's worth of past occurrences.
    pub async fn schedule_last_run(
        &self,
        workflow: &str,
        schedule: &str,
        first_seen: jiff::Timestamp,
    ) -> Result<jiff::Timestamp, StoreError> {
        let key = (workflow.to_string(), schedule.to_string());
        if let Some(row) = schedule_run::Entity::find_by_id(key.clone()).one(&self.db).await? {
            return Ok(codec::to_jiff(row.last_occurrence));
        }
        let row = schedule_run::ActiveModel {
            workflow_id: Set(workflow.to_string()),
            schedule_id: Set(schedule.to_string()),
            last_occurrence: Set(codec::to_chrono(first_seen)),
            updated_at: Set(codec::to_chrono(first_seen)),
        };
        let on_conflict = OnConflict::columns([schedule_run::Column::WorkflowId, schedule_run::Column::ScheduleId])
            .do_nothing()
            .to_owned();
        schedule_run::Entity::insert(row).on_conflict(on_conflict).exec_without_returning(&self.db).await?;
        let row = schedule_run::Entity::find_by_id(key)
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("schedule {workflow}/{schedule}")))?;
        Ok(codec::to_jiff(row.last_occurrence))
    }

    /// Fire the occurrence `next` of a schedule last fired at `last`: record it and queue
    /// `message`, in one transaction. `false` when another process fired it first.
    pub async fn fire_schedule(
        &self,
        workflow: &str,
        schedule: &str,
        last: jiff::Timestamp,
        next: jiff::Timestamp,
        message: &NewMessage,
        now: jiff::Timestamp,
    ) -> Result<bool, StoreError> {
        let (txn, _turn) = self.begin_write().await?;
        let sql = "UPDATE schedule_runs SET last_occurrence = $1, updated_at = $2 WHERE workflow_id = $3 AND schedule_id = $4 AND last_occurrence = $5";
        let values: [Value; 5] = [
            codec::to_chrono(next).into(),
            codec::to_chrono(now).into(),
            workflow.into(),
            schedule.into(),
            codec::to_chrono(last).into(),
        ];
        let moved =
            txn.execute_raw(Statement::from_sql_and_values(self.backend(), sql, values)).await?.rows_affected() == 1;
        if !moved {
            txn.rollback().await?;
            return Ok(false);
        }
        insert_message(&txn, self.backend(), message, now).await?;
        txn.commit().await?;
        Ok(true)
    }
}
