//! A workflow's `contract:` block: which of its fields hold the contract a case is about
//! (service, provider, annual value, end date, directorate), and the notice a provider
//! must be given before that contract is ended or reduced. The contracts register and the
//! Compact compliance check on the governance dashboard read it; nothing else does.
//!
//! Whether enough notice was given is decided here, from two dates: the day notice was
//! served (the case entered the notice state) and the day it runs to. Months are calendar
//! months counted as the gates count them (`until >= add_months(served, months)`), so the
//! dashboard and the gate that let the case into the notice state never disagree.

use crate::expr::Expr;
use crate::ids::{FieldId, StateId};
use jiff::civil::Date;

/// Which fields hold the contract. Every named field exists in the workflow; `value` is
/// a money field and `ends` a date field.
#[derive(Debug, Clone)]
pub struct Contract {
    /// The service commissioned.
    pub service: Option<FieldId>,
    /// Who delivers it.
    pub provider: Option<FieldId>,
    /// Its annual value (a money field).
    pub value: Option<FieldId>,
    /// The date it ends (a date field).
    pub ends: Option<FieldId>,
    /// The directorate (or other part of the organisation) that holds it.
    pub directorate: Option<FieldId>,
    /// The notice it must be given, when the workflow serves notice.
    pub notice: Option<Notice>,
}

/// Notice served on a provider: entering `state` serves it, and it must run for at least
/// `months` calendar months up to the date in field `until`.
#[derive(Debug, Clone)]
pub struct Notice {
    /// Entering this state is serving notice.
    pub state: StateId,
    /// The date field the notice runs to (the contract's end, or the date a reduction
    /// takes effect).
    pub until: FieldId,
    /// The months of notice required.
    pub months: u32,
    /// The param the months were read from, when they were (`notice_months`).
    pub months_param: Option<String>,
    /// Whether the requirement applies to a case (the Compact covers third-sector
    /// providers only, say); always, when absent.
    pub when: Option<Expr>,
    /// Where the requirement comes from.
    pub source: Option<String>,
}

/// How much notice a case was given, against what was required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoticeGiven {
    /// The day notice was served.
    pub served: Date,
    /// The day it runs to.
    pub until: Date,
    /// Whole calendar months from `served` to `until` (negative when `until` is earlier).
    pub months: i32,
    /// The months required.
    pub required: u32,
    /// Whether `until` is at least `required` months after `served`.
    pub met: bool,
}

/// Whole calendar months from `from` to `to`: the largest `m` with
/// `from + m months <= to` (a month added to 31 August ends on 30 September).
pub fn months_between(from: Date, to: Date) -> i32 {
    let add = |m: i32| from.checked_add(jiff::Span::new().months(m)).ok();
    let mut m = (i32::from(to.year()) - i32::from(from.year())) * 12 + i32::from(to.month()) - i32::from(from.month());
    while m > -100_000 && add(m).is_none_or(|d| d > to) {
        m -= 1;
    }
    while add(m + 1).is_some_and(|d| d <= to) {
        m += 1;
    }
    m
}

/// The notice given by serving on `served` for a notice running to `until`.
pub fn notice_given(served: Date, until: Date, required: u32) -> NoticeGiven {
    let months = months_between(served, until);
    NoticeGiven { served, until, months, required, met: months >= required as i32 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn months_are_calendar_months_as_add_months_counts_them() {
        assert_eq!(months_between(date(2026, 1, 15), date(2026, 7, 15)), 6);
        assert_eq!(months_between(date(2026, 1, 15), date(2026, 7, 14)), 5);
        assert_eq!(months_between(date(2026, 8, 31), date(2027, 2, 28)), 6);
        assert_eq!(months_between(date(2026, 8, 31), date(2027, 2, 27)), 5);
        assert_eq!(months_between(date(2026, 3, 1), date(2026, 3, 31)), 0);
        assert_eq!(months_between(date(2026, 3, 1), date(2026, 2, 1)), -1);
        assert_eq!(months_between(date(2026, 3, 1), date(2026, 2, 2)), -1);
    }

    #[test]
    fn met_when_the_notice_runs_for_the_months_required() {
        let given = notice_given(date(2026, 1, 15), date(2026, 7, 15), 6);
        assert!(given.met);
        assert_eq!(given.months, 6);
        let short = notice_given(date(2026, 1, 15), date(2026, 4, 14), 3);
        assert_eq!((short.months, short.met), (2, false));
    }
}
