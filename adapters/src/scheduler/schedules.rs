//! The schedule step: workflow-wide `schedules:` in cron syntax, in the workflow's time
//! zone; which occurrence is due is the engine's (`gatehouse_engine::schedule`).
//! [`try_run_due`] fires at most one due occurrence: it moves the schedule's
//! record in `schedule_runs` forward with a compare-and-set and queues the message in
//! the same transaction, so each occurrence is queued once however many processes run.
//! After downtime only the latest missed occurrence is sent, as repeating timers skip
//! the ones they missed.

use crate::host::{Host, WorkerError};
use crate::store::{NewMessage, Store};
use std::sync::Arc;

/// What the schedule step works with.
pub struct ScheduleContext<H> {
    /// The store.
    pub store: Store,
    /// The application (its workflows).
    pub host: Arc<H>,
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleOutcome {
    /// An occurrence was fired and its message queued.
    Fired {
        /// The workflow.
        workflow: String,
        /// The schedule.
        schedule: String,
        /// The occurrence.
        occurrence: jiff::Timestamp,
    },
    /// Another process fired the occurrence first.
    Lost,
    /// Nothing was due; the next occurrence of any schedule is at `next_due`.
    Idle {
        /// The next occurrence.
        next_due: Option<jiff::Timestamp>,
    },
}

/// Fire one due schedule occurrence, if any.
pub async fn try_run_due<H: Host>(cx: &ScheduleContext<H>) -> Result<ScheduleOutcome, WorkerError> {
    let now = cx.host.now();
    let mut next_due: Option<jiff::Timestamp> = None;
    for def in cx.host.workflows() {
        for s in &def.schedules {
            let last = cx.store.schedule_last_run(&def.id, &s.id, now).await?;
            match s.latest_due(last, now) {
                Some(occurrence) => {
                    let message = NewMessage {
                        case_id: None,
                        workflow_id: Some(def.id.clone()),
                        key: s.message_key(&def.id, occurrence),
                        template: s.send.template.to_string(),
                        recipients: s.send.to.iter().map(|r| r.to_string()).collect(),
                        deadline: None,
                        timer_id: Some(s.id.clone()),
                    };
                    if !cx.store.fire_schedule(&def.id, &s.id, last, occurrence, &message, now).await? {
                        return Ok(ScheduleOutcome::Lost);
                    }
                    tracing::info!(workflow = %def.id, schedule = %s.id, %occurrence, "schedule fired");
                    return Ok(ScheduleOutcome::Fired { workflow: def.id.clone(), schedule: s.id.clone(), occurrence });
                }
                None => {
                    if let Some(next) = s.next_after(last.max(now)) {
                        next_due = Some(next_due.map_or(next, |n| n.min(next)));
                    }
                }
            }
        }
    }
    Ok(ScheduleOutcome::Idle { next_due })
}
