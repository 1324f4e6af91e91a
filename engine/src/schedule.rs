//! When a workflow's schedules fire: the cron expression read in the workflow's zone.
//! After downtime only the latest missed occurrence is due, as repeating timers skip the
//! ones they missed. Which occurrence has already been sent is the store's to know.

use crate::definition::Schedule;
use chrono::TimeZone as _;
use jiff::Timestamp;

impl Schedule {
    /// The latest occurrence after `last` and no later than `now`.
    pub fn latest_due(&self, last: Timestamp, now: Timestamp) -> Option<Timestamp> {
        let from = self.zone.timestamp_micros(last.as_microsecond()).single()?;
        let mut latest = None;
        // Bounded: a schedule every second after a long downtime must not spin for ever.
        for t in self.cron.after(&from).take(10_000_000) {
            let t = Timestamp::from_microsecond(t.timestamp_micros()).ok()?;
            if t > now {
                break;
            }
            latest = Some(t);
        }
        latest
    }

    /// The first occurrence after `t`.
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let from = self.zone.timestamp_micros(t.as_microsecond()).single()?;
        let next = self.cron.after(&from).next()?;
        Timestamp::from_microsecond(next.timestamp_micros()).ok()
    }

    /// The idempotency key of the message for `occurrence` of this schedule of
    /// `workflow`: the same however many processes fire it.
    pub fn message_key(&self, workflow: &str, occurrence: Timestamp) -> String {
        format!("schedule/{workflow}/{}/{occurrence}", self.id)
    }
}

#[cfg(test)]
mod tests {
    use crate::definition::{Schedule, Send};
    use crate::ids::TemplateName;
    use std::str::FromStr;

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn occurrences_are_in_the_workflow_zone() {
        // 09:00 on 1 April in London is 08:00 UTC (summer time).
        let s = Schedule {
            id: "review".into(),
            title: None,
            cron_text: "0 0 9 1 4 *".into(),
            cron: cron::Schedule::from_str("0 0 9 1 4 *").unwrap(),
            zone: chrono_tz::Europe::London,
            send: Send { to: Vec::new(), template: TemplateName::new("review"), must_state: Vec::new() },
            source: None,
        };
        assert_eq!(s.next_after(ts("2026-01-05T09:00:00Z")), Some(ts("2026-04-01T08:00:00Z")));
        assert_eq!(s.latest_due(ts("2026-01-05T09:00:00Z"), ts("2026-04-01T07:59:59Z")), None);
        assert_eq!(
            s.latest_due(ts("2026-01-05T09:00:00Z"), ts("2026-04-01T08:00:00Z")),
            Some(ts("2026-04-01T08:00:00Z"))
        );
        // Two years down: only the latest missed occurrence.
        assert_eq!(
            s.latest_due(ts("2025-01-05T09:00:00Z"), ts("2027-05-01T00:00:00Z")),
            Some(ts("2027-04-01T08:00:00Z"))
        );
        // Fired already: nothing until next year.
        assert_eq!(s.latest_due(ts("2026-04-01T08:00:00Z"), ts("2026-12-01T00:00:00Z")), None);
        assert_eq!(s.message_key("annual", ts("2026-04-01T08:00:00Z")), "schedule/annual/review/2026-04-01T08:00:00Z");
    }
}
