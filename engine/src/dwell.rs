//! Time spent in states, for the governance dashboard: from the moments a case entered
//! each state (its audit trail's `opened` and `transitioned` events), how long it stayed
//! in each, and for each state the median and longest stay across cases. A case still in
//! a state counts with its stay so far.

use jiff::{SignedDuration, Timestamp};
use std::collections::BTreeMap;

/// One case's time in one state (summed over its visits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stay {
    /// The state id.
    pub state: String,
    /// How long, in total.
    pub time: SignedDuration,
    /// Whether the case is still there (the stay is not over).
    pub current: bool,
}

/// A state's stays across cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateTimes {
    /// How many cases have been in the state (or are in it).
    pub cases: usize,
    /// How many of them are in it now.
    pub current: usize,
    /// The median stay (the mean of the middle two when the count is even).
    pub median: SignedDuration,
    /// The longest stay.
    pub longest: SignedDuration,
}

/// One case's stays, from its state entries in order (`(state, entered at)`), up to `now`.
/// Entries out of order are sorted by time first; a stay never counts as negative.
pub fn stays(entries: &[(String, Timestamp)], now: Timestamp) -> Vec<Stay> {
    let mut entries = entries.to_vec();
    entries.sort_by_key(|(_, at)| *at);
    let mut out: Vec<Stay> = Vec::new();
    for (i, (state, at)) in entries.iter().enumerate() {
        let (end, current) = match entries.get(i + 1) {
            Some((_, next)) => (*next, false),
            None => (now, true),
        };
        let time = at.duration_until(end).max(SignedDuration::ZERO);
        match out.iter_mut().find(|s| &s.state == state) {
            Some(s) => {
                s.time += time;
                s.current |= current;
            }
            None => out.push(Stay { state: state.clone(), time, current }),
        }
    }
    out
}

/// Every state's stays across cases, by state id.
pub fn summarise<'a>(stays: impl IntoIterator<Item = &'a Stay>) -> BTreeMap<String, StateTimes> {
    let mut by_state: BTreeMap<String, (Vec<SignedDuration>, usize)> = BTreeMap::new();
    for s in stays {
        let entry = by_state.entry(s.state.clone()).or_default();
        entry.0.push(s.time);
        entry.1 += usize::from(s.current);
    }
    by_state
        .into_iter()
        .map(|(state, (mut times, current))| {
            times.sort();
            let n = times.len();
            let median = if n % 2 == 1 { times[n / 2] } else { (times[n / 2 - 1] + times[n / 2]) / 2 };
            let longest = times[n - 1];
            (state, StateTimes { cases: n, current, median, longest })
        })
        .collect()
}

/// What one decision changes in a case's time in one state, kept by the store as the
/// decision is written so that reports need not read the audit trail: `time` is added to
/// the case's completed stays in `state`; `entered` is when its current visit there
/// began, or `None` when the case is no longer there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StayChange {
    /// The state id.
    pub state: String,
    /// Time to add to the case's completed visits of the state.
    pub time: SignedDuration,
    /// When the visit that is not over began; `None` when the case left the state.
    pub entered: Option<Timestamp>,
}

/// The changes to a case's stays when, at `at`, a decision enters `entered` in order
/// (the states of its `Opened`, `Transitioned` and `Amended { back_to }` events): the
/// case was in `before` (its state and when it entered it; `None` for a new case). One
/// change per state, the state it ends in last; none when it enters no state. The same
/// stays as [`stays`] reads from the audit trail, kept as the case moves.
pub fn changes(before: Option<(&str, Timestamp)>, entered: &[&str], at: Timestamp) -> Vec<StayChange> {
    let Some(last) = entered.last() else { return Vec::new() };
    let mut out: Vec<StayChange> = Vec::new();
    let mut add = |state: &str, time: SignedDuration| match out.iter_mut().find(|c| c.state == state) {
        Some(c) => c.time += time,
        None => out.push(StayChange { state: state.to_string(), time, entered: None }),
    };
    let mut previous = before;
    for state in entered {
        if let Some((was, since)) = previous {
            add(was, since.duration_until(at).max(SignedDuration::ZERO));
        }
        previous = Some((state, at));
    }
    add(last, SignedDuration::ZERO);
    if let Some(c) = out.iter_mut().find(|c| c.state == *last) {
        c.entered = Some(at);
    }
    out
}

/// A duration for people: "3 days 4 hours", "45 minutes", "less than a minute".
pub fn describe(d: SignedDuration) -> String {
    let secs = d.as_secs().max(0);
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    let unit = |n: i64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    match (days, hours, minutes) {
        (0, 0, 0) => "less than a minute".into(),
        (0, 0, m) => unit(m, "minute"),
        (0, h, m) if m > 0 => format!("{} {}", unit(h, "hour"), unit(m, "minute")),
        (0, h, _) => unit(h, "hour"),
        (d, 0, _) => unit(d, "day"),
        (d, h, _) => format!("{} {}", unit(d, "day"), unit(h, "hour")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn stays_run_from_entry_to_the_next_entry_or_now() {
        let entries = vec![
            ("a".to_string(), at("2026-01-01T00:00:00Z")),
            ("b".to_string(), at("2026-01-03T00:00:00Z")),
            ("a".to_string(), at("2026-01-04T00:00:00Z")),
        ];
        let s = stays(&entries, at("2026-01-04T12:00:00Z"));
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].time, SignedDuration::from_hours(60));
        assert!(s[0].current);
        assert_eq!(s[1].time, SignedDuration::from_hours(24));
        assert!(!s[1].current);
    }

    #[test]
    fn median_and_longest() {
        let mk = |h: i64| Stay { state: "a".into(), time: SignedDuration::from_hours(h), current: h == 1 };
        let all = [mk(1), mk(10), mk(3), mk(5)];
        let t = &summarise(&all)["a"];
        assert_eq!((t.cases, t.current), (4, 1));
        assert_eq!(t.median, SignedDuration::from_hours(4));
        assert_eq!(t.longest, SignedDuration::from_hours(10));
        assert_eq!(describe(SignedDuration::from_hours(27)), "1 day 3 hours");
        assert_eq!(describe(SignedDuration::from_mins(61)), "1 hour 1 minute");
        assert_eq!(describe(SignedDuration::from_secs(5)), "less than a minute");
    }

    #[test]
    fn changes_close_the_visit_left_and_open_the_one_entered() {
        let t0 = at("2026-01-01T00:00:00Z");
        let t1 = at("2026-01-03T00:00:00Z");
        let change = |state: &str, hours: i64, entered: Option<Timestamp>| StayChange {
            state: state.into(),
            time: SignedDuration::from_hours(hours),
            entered,
        };
        assert_eq!(changes(None, &["a"], t0), vec![change("a", 0, Some(t0))]);
        assert_eq!(changes(Some(("a", t0)), &["b"], t1), vec![change("a", 48, None), change("b", 0, Some(t1))]);
        // Through a state and back in one decision: the state passed through was visited
        // for no time; the one left and entered again stays open.
        assert_eq!(changes(Some(("a", t0)), &["b", "a"], t1), vec![change("a", 48, Some(t1)), change("b", 0, None)]);
        assert_eq!(changes(Some(("a", t0)), &[], t1), vec![]);
        // A clock that went back never makes a stay negative.
        assert_eq!(changes(Some(("a", t1)), &["b"], t0), vec![change("a", 0, None), change("b", 0, Some(t0))]);
    }

    #[test]
    fn changes_kept_as_a_case_moves_sum_to_its_stays() {
        let entries = [("a", "2026-01-01T00:00:00Z"), ("b", "2026-01-02T06:00:00Z"), ("a", "2026-01-04T00:00:00Z")];
        let now = at("2026-01-05T00:00:00Z");
        let mut kept: BTreeMap<String, (SignedDuration, Option<Timestamp>)> = BTreeMap::new();
        let mut before: Option<(&str, Timestamp)> = None;
        for (state, when) in entries {
            for c in changes(before, &[state], at(when)) {
                let k = kept.entry(c.state).or_default();
                k.0 += c.time;
                k.1 = c.entered;
            }
            before = Some((state, at(when)));
        }
        let visits: Vec<(String, Timestamp)> = entries.iter().map(|(s, w)| (s.to_string(), at(w))).collect();
        for stay in stays(&visits, now) {
            let (time, entered) = kept[&stay.state];
            assert_eq!(time + entered.map_or(SignedDuration::ZERO, |e| e.duration_until(now)), stay.time);
            assert_eq!(entered.is_some(), stay.current);
        }
    }
}
