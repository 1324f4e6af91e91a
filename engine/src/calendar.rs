//! Working-day calendars (`calendars/<name>.yaml`): weekend days and public holidays.

use jiff::civil::{Date, Weekday};
use serde::Deserialize;
use std::collections::BTreeSet;

/// Which days are not working days.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    /// Its name (the file stem).
    pub name: String,
    /// Human title.
    pub title: String,
    /// The file it was read from, as written: a published version keeps it, so the
    /// version counts its working days the same on every node, for ever.
    pub source: String,
    weekend: Vec<Weekday>,
    holidays: BTreeSet<Date>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    title: String,
    #[serde(default = "default_weekend")]
    weekend: Vec<RawWeekday>,
    #[serde(default)]
    holidays: Vec<RawHoliday>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    date: String,
    #[allow(dead_code)]
    title: String,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RawWeekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

fn default_weekend() -> Vec<RawWeekday> {
    vec![RawWeekday::Saturday, RawWeekday::Sunday]
}

impl Calendar {
    /// Parse a calendar file. Errors carry `line:col` where serde_yaml knows it.
    pub fn parse(name: &str, text: &str) -> Result<Calendar, String> {
        let raw: RawCalendar = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let mut holidays = BTreeSet::new();
        for h in &raw.holidays {
            let d: Date = h.date.parse().map_err(|e| format!("holiday `{}` is not a date: {e}", h.date))?;
            holidays.insert(d);
        }
        let weekend = raw
            .weekend
            .iter()
            .map(|w| match w {
                RawWeekday::Monday => Weekday::Monday,
                RawWeekday::Tuesday => Weekday::Tuesday,
                RawWeekday::Wednesday => Weekday::Wednesday,
                RawWeekday::Thursday => Weekday::Thursday,
                RawWeekday::Friday => Weekday::Friday,
                RawWeekday::Saturday => Weekday::Saturday,
                RawWeekday::Sunday => Weekday::Sunday,
            })
            .collect::<Vec<_>>();
        if weekend.len() >= 7 {
            return Err("a calendar needs at least one working day a week".into());
        }
        Ok(Calendar { name: name.to_string(), title: raw.title, source: text.to_string(), weekend, holidays })
    }

    /// Whether `d` is a working day.
    pub fn is_working_day(&self, d: Date) -> bool {
        !self.weekend.contains(&d.weekday()) && !self.holidays.contains(&d)
    }

    /// The date `n` working days after `d` (before, when `n` is negative).
    pub fn add_working_days(&self, d: Date, n: i64) -> Result<Date, String> {
        let step = if n < 0 { -1 } else { 1 };
        let mut left = n.abs();
        let mut day = d;
        while left > 0 {
            day = day.checked_add(jiff::Span::new().days(step)).map_err(|e| format!("date out of range: {e}"))?;
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        Ok(day)
    }

    /// The last holiday the calendar knows, to warn when it runs out.
    pub fn last_holiday(&self) -> Option<Date> {
        self.holidays.iter().next_back().copied()
    }

    /// The public holidays, in date order.
    pub fn holidays(&self) -> impl Iterator<Item = Date> + '_ {
        self.holidays.iter().copied()
    }

    /// The days of the week that are not working days.
    pub fn weekend(&self) -> &[Weekday] {
        &self.weekend
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn skips_weekends_and_holidays() {
        let cal = Calendar::parse(
            "t",
            "title: T\nholidays:\n  - { date: 2026-12-25, title: Christmas Day }\n  - { date: 2026-12-28, title: Boxing Day (substitute) }\n",
        )
        .unwrap();
        // Thursday 24 December + 2 working days skips Christmas, the weekend and the
        // substitute Boxing Day: Tuesday 29, Wednesday 30.
        assert_eq!(cal.add_working_days(date(2026, 12, 24), 2).unwrap(), date(2026, 12, 30));
        assert_eq!(cal.add_working_days(date(2026, 12, 30), -2).unwrap(), date(2026, 12, 24));
    }
}
