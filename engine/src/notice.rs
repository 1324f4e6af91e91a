//! Whether a case that was served notice was given what its workflow requires: the
//! verdict the governance dashboard shows for each case in its notice state.

use crate::contract::{Notice, NoticeGiven, notice_given};
use crate::definition::Definition;
use crate::expr::evaluate_bool;
use crate::gates::Evaluator;
use crate::ids::FieldId;
use crate::snapshot::{Actor, CaseSnapshot};
use crate::values::FieldValue;
use jiff::civil::Date;
use std::collections::BTreeMap;

/// What a case's notice came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeResult {
    /// The requirement does not apply to this case (its `when` is false).
    NotRequired,
    /// At least the months required.
    Met,
    /// Fewer months than required.
    Short,
    /// No date recorded for the notice to run to.
    Unknown,
}

impl NoticeResult {
    /// The name shown and filtered on: `not_required`, `met`, `short`, `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            NoticeResult::NotRequired => "not_required",
            NoticeResult::Met => "met",
            NoticeResult::Short => "short",
            NoticeResult::Unknown => "unknown",
        }
    }
}

/// A case's notice, judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoticeVerdict {
    /// The day the notice runs to, when recorded.
    pub until: Option<Date>,
    /// The months given, when the day is recorded.
    pub given: Option<NoticeGiven>,
    /// What it came to.
    pub result: NoticeResult,
}

impl Notice {
    /// Whether the requirement applies to a case with these fields at `now` (its `when`).
    /// A `when` that cannot be decided (a field it reads is not set) is taken to apply:
    /// the dashboard would rather show a case than hide one.
    pub fn applies(&self, def: &Definition, fields: &BTreeMap<FieldId, FieldValue>, now: jiff::Timestamp) -> bool {
        let Some(when) = &self.when else { return true };
        let mut case = CaseSnapshot::blank(def.initial.clone(), &Actor::system(), now);
        case.fields = fields.clone();
        let evaluator = Evaluator::new(def, &case, now);
        evaluate_bool(when, evaluator.bindings()).unwrap_or(true)
    }

    /// The notice of a case with `fields`, served on `served`, judged at `now`.
    pub fn verdict(
        &self,
        def: &Definition,
        fields: &BTreeMap<FieldId, FieldValue>,
        served: Date,
        now: jiff::Timestamp,
    ) -> NoticeVerdict {
        let until = match fields.get(&self.until) {
            Some(FieldValue::Date(d)) => Some(*d),
            _ => None,
        };
        let given = until.map(|u| notice_given(served, u, self.months));
        let result = match given {
            _ if !self.applies(def, fields, now) => NoticeResult::NotRequired,
            Some(g) if g.met => NoticeResult::Met,
            Some(_) => NoticeResult::Short,
            None => NoticeResult::Unknown,
        };
        NoticeVerdict { until, given, result }
    }
}
