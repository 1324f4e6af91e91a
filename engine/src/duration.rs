//! Durations as workflows write them: ISO 8601 in calendar terms (`P6M` is six calendar
//! months, not 180 days) or a number of working days (`10 working days`).

use crate::calendar::Calendar;
use jiff::civil::Date;
use jiff::{Span, Zoned};
use std::fmt;

/// A duration from a workflow file.
#[derive(Debug, Clone)]
pub enum Duration {
    /// ISO 8601, applied in calendar terms in the workflow's time zone.
    Calendar(Span),
    /// Working days: weekends and the calendar's holidays are skipped. May be negative.
    WorkingDays(i64),
}

impl Duration {
    /// Parse `P6M`, `-P1M`, `PT12H`, `P2W`, or `10 working days`.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let t = text.trim();
        if let Some(n) = t.strip_suffix("working days").or_else(|| t.strip_suffix("working day")) {
            let n: i64 = n.trim().parse().map_err(|_| bad(text))?;
            return Ok(Duration::WorkingDays(n));
        }
        let unsigned = t.strip_prefix(['-', '+']).unwrap_or(t);
        if !unsigned.starts_with(['P', 'p']) {
            return Err(bad(text));
        }
        let span: Span = t.parse().map_err(|_| bad(text))?;
        if span.is_zero() {
            return Err(format!("`{text}` is a zero duration"));
        }
        Ok(Duration::Calendar(span))
    }

    /// Whether this duration counts working days, and so needs a calendar.
    pub fn needs_calendar(&self) -> bool {
        matches!(self, Duration::WorkingDays(_))
    }

    /// Whether it goes backwards in time.
    pub fn is_negative(&self) -> bool {
        match self {
            Duration::Calendar(s) => s.is_negative(),
            Duration::WorkingDays(n) => *n < 0,
        }
    }

    /// `t` moved by this duration, in `t`'s time zone.
    pub fn add_to(&self, t: &Zoned, calendar: Option<&Calendar>) -> Result<Zoned, String> {
        match self {
            Duration::Calendar(span) => t.checked_add(*span).map_err(|e| format!("date out of range: {e}")),
            Duration::WorkingDays(n) => {
                let cal = calendar.ok_or("working days need a `calendar:`")?;
                let date = cal.add_working_days(t.date(), *n)?;
                t.with().date(date).build().map_err(|e| format!("date out of range: {e}"))
            }
        }
    }

    /// `d` moved by this duration (time parts of a calendar span are ignored).
    pub fn add_to_date(&self, d: Date, calendar: Option<&Calendar>) -> Result<Date, String> {
        match self {
            Duration::Calendar(span) => {
                let days_only = Span::new()
                    .years(span.get_years())
                    .months(span.get_months())
                    .weeks(span.get_weeks())
                    .days(span.get_days());
                d.checked_add(days_only).map_err(|e| format!("date out of range: {e}"))
            }
            Duration::WorkingDays(n) => {
                let cal = calendar.ok_or("working days need a `calendar:`")?;
                cal.add_working_days(d, *n)
            }
        }
    }
}

impl PartialEq for Duration {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Duration::Calendar(a), Duration::Calendar(b)) => a.fieldwise() == b.fieldwise(),
            (Duration::WorkingDays(a), Duration::WorkingDays(b)) => a == b,
            _ => false,
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Duration::Calendar(span) => write!(f, "{span}"),
            Duration::WorkingDays(n) => write!(f, "{n} working days"),
        }
    }
}

impl Duration {
    /// The duration in words for people: "6 months", "10 working days", "1 month before".
    pub fn human(&self) -> String {
        match self {
            Duration::WorkingDays(n) => plural(n.abs(), "working day"),
            Duration::Calendar(span) => {
                let parts: Vec<String> = [
                    (span.get_years() as i64, "year"),
                    (span.get_months() as i64, "month"),
                    (span.get_weeks() as i64, "week"),
                    (span.get_days() as i64, "day"),
                    (span.get_hours() as i64, "hour"),
                    (span.get_minutes(), "minute"),
                ]
                .into_iter()
                .filter(|(n, _)| *n != 0)
                .map(|(n, unit)| plural(n.abs(), unit))
                .collect();
                parts.join(" ")
            }
        }
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

fn bad(text: &str) -> String {
    format!(
        "`{text}` is not an ISO 8601 duration (like P6M, P10D, P2W, PT12H) nor a number of working days (like `10 working days`)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn months_are_calendar_months() {
        let d = Duration::parse("P6M").unwrap();
        // 31 August + 6 months is the end of February, not 180 days later.
        assert_eq!(d.add_to_date(date(2026, 8, 31), None).unwrap(), date(2027, 2, 28));
        let t = date(2026, 3, 1).at(9, 0, 0, 0).in_tz("Europe/London").unwrap();
        // Across the change to BST the wall-clock time stays 09:00.
        let later = Duration::parse("P1M").unwrap().add_to(&t, None).unwrap();
        assert_eq!(later.datetime(), date(2026, 4, 1).at(9, 0, 0, 0));
    }

    #[test]
    fn rejects_what_is_not_iso_8601() {
        for text in ["6 months", "P", "P6X", "", "10 working", "P0D"] {
            assert!(Duration::parse(text).is_err(), "{text}");
        }
        assert!(Duration::parse("-P1M").unwrap().is_negative());
        assert_eq!(Duration::parse("3 working days").unwrap(), Duration::WorkingDays(3));
    }
}
