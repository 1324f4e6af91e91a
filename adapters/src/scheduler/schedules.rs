//! The schedule step: workflow-wide `schedules:` in cron syntax, in the workflow's time
//! zone. [`try_run_due`] fires at most one due occurrence: it moves the schedule's
//! record in `schedule_runs` forward with a compare-and-set and queues the message in
//! the same transaction, so each occurrence is queued once however many processes run.
//! After downtime only the latest missed occurrence is sent, as repeating timers skip
//! the ones they missed.

use crate::host::{Host, WorkerError};
use crate::store::{NewMessage, Store};
use chrono::TimeZone as _;
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
        let Ok(tz) = def.timezone_name.parse::<chrono_tz::Tz>() else {
            tracing::error!(workflow = %def.id, zone = %def.timezone_name, "unknown time zone; its schedules do not run");
            continue;
        };
        for s in &def.schedules {
            let last = cx.store.schedule_last_run(&def.id, &s.id, now).await?;
            match latest_due(&s.cron, tz, last, now) {
                Some(occurrence) => {
                    let message = NewMessage {
                        case_id: None,
                        workflow_id: Some(def.id.clone()),
                        key: format!("schedule/{}/{}/{}", def.id, s.id, occurrence),
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
                    if let Some(next) = next_after(&s.cron, tz, last.max(now)) {
                        next_due = Some(next_due.map_or(next, |n| n.min(next)));
                    }
                }
            }
        }
    }
    Ok(ScheduleOutcome::Idle { next_due })
}

/// The latest occurrence after `last` and no later than `now`, in zone `tz`.
pub fn latest_due(
    schedule: &cron::Schedule,
    tz: chrono_tz::Tz,
    last: jiff::Timestamp,
    now: jiff::Timestamp,
) -> Option<jiff::Timestamp> {
    let from = tz.timestamp_micros(last.as_microsecond()).single()?;
    let mut latest = None;
    // Bounded: a schedule every second after a long downtime must not spin for ever.
    for t in schedule.after(&from).take(10_000_000) {
        let t = jiff::Timestamp::from_microsecond(t.timestamp_micros()).ok()?;
        if t > now {
            break;
        }
        latest = Some(t);
    }
    latest
}

/// The first occurrence after `t`, in zone `tz`.
pub fn next_after(schedule: &cron::Schedule, tz: chrono_tz::Tz, t: jiff::Timestamp) -> Option<jiff::Timestamp> {
    let from = tz.timestamp_micros(t.as_microsecond()).single()?;
    let next = schedule.after(&from).next()?;
    jiff::Timestamp::from_microsecond(next.timestamp_micros()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn occurrences_are_in_the_workflow_zone() {
        // 09:00 on 1 April in London is 08:00 UTC (summer time).
        let s = cron::Schedule::from_str("0 0 9 1 4 *").unwrap();
        let tz = chrono_tz::Europe::London;
        assert_eq!(next_after(&s, tz, ts("2026-01-05T09:00:00Z")), Some(ts("2026-04-01T08:00:00Z")));
        assert_eq!(latest_due(&s, tz, ts("2026-01-05T09:00:00Z"), ts("2026-04-01T07:59:59Z")), None);
        assert_eq!(
            latest_due(&s, tz, ts("2026-01-05T09:00:00Z"), ts("2026-04-01T08:00:00Z")),
            Some(ts("2026-04-01T08:00:00Z"))
        );
        // Two years down: only the latest missed occurrence.
        assert_eq!(
            latest_due(&s, tz, ts("2025-01-05T09:00:00Z"), ts("2027-05-01T00:00:00Z")),
            Some(ts("2027-04-01T08:00:00Z"))
        );
        // Fired already: nothing until next year.
        assert_eq!(latest_due(&s, tz, ts("2026-04-01T08:00:00Z"), ts("2026-12-01T00:00:00Z")), None);
    }
}
