//! The governance dashboard: where every case stands, how long cases spend in each
//! state, reminders and messages that are overdue or failing, approvals waiting per
//! role, and whether each case that was served notice was given the months its workflow
//! requires. The store answers the queries; the engine decides (gates, notice months,
//! time in states); this module only puts the answers together.

use crate::app::{App, AppError};
use crate::reports::contracts::{contract_of, entered_on};
use gatehouse_adapters::store::{CaseFilter, CaseRow, StateEntry, codec};
use gatehouse_engine::definition::{Definition, GateKind};
use gatehouse_engine::dwell;
use gatehouse_engine::gates::Evaluator;
use gatehouse_engine::snapshot::Actor;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Everything the dashboard shows.
#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    /// Cases per workflow and state.
    pub counts: Vec<WorkflowCounts>,
    /// Time spent in each state, per workflow.
    pub times: Vec<WorkflowTimes>,
    /// Armed timers whose due time has passed.
    pub overdue_timers: Vec<OverdueTimer>,
    /// Messages failed for good or being retried.
    pub messages: Vec<TroubledMessage>,
    /// Approvals waiting, per role.
    pub approvals: Vec<AwaitedRole>,
    /// Notice given against notice required, per case served notice.
    pub notices: Vec<NoticeRow>,
}

/// One workflow's cases per state.
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowCounts {
    /// Workflow id.
    pub id: String,
    /// Workflow title.
    pub title: String,
    /// (state id, state title, cases), in the workflow's state order.
    pub states: Vec<(String, String, i64)>,
    /// All its cases.
    pub total: i64,
}

/// One workflow's time in states.
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowTimes {
    /// Workflow id.
    pub id: String,
    /// Workflow title.
    pub title: String,
    /// One row per state some case has been in.
    pub states: Vec<StateTimeRow>,
}

/// One state's times.
#[derive(Debug, Clone, Serialize)]
pub struct StateTimeRow {
    /// State title.
    pub state: String,
    /// Cases that have been (or are) in it.
    pub cases: usize,
    /// Of those, how many are in it now.
    pub current: usize,
    /// The median stay, for people; `None` for a terminal state.
    pub median: Option<String>,
    /// The longest stay, for people; `None` for a terminal state.
    pub longest: Option<String>,
}

/// A reminder that should have gone.
#[derive(Debug, Clone, Serialize)]
pub struct OverdueTimer {
    /// The case.
    pub case_id: i64,
    /// The case's service.
    pub service: Option<String>,
    /// What the timer does.
    pub what: String,
    /// When it was due.
    pub due: String,
}

/// A message in trouble.
#[derive(Debug, Clone, Serialize)]
pub struct TroubledMessage {
    /// The case, if any.
    pub case_id: Option<i64>,
    /// Template name.
    pub template: String,
    /// `failed` or `retrying`.
    pub status: &'static str,
    /// Attempts so far.
    pub attempts: u32,
    /// When it failed, or is tried next.
    pub when: String,
    /// Its last error.
    pub error: Option<String>,
}

/// A role whose approval cases are waiting for.
#[derive(Debug, Clone, Serialize)]
pub struct AwaitedRole {
    /// Role id.
    pub role: String,
    /// Role title (from the first workflow that names it).
    pub title: String,
    /// The cases waiting.
    pub cases: Vec<WaitingCase>,
}

/// A case waiting for an approval.
#[derive(Debug, Clone, Serialize)]
pub struct WaitingCase {
    /// The case.
    pub case_id: i64,
    /// Its service.
    pub service: Option<String>,
    /// Its workflow's title.
    pub workflow: String,
    /// The step the approval is for.
    pub transition: String,
}

/// One case's notice.
#[derive(Debug, Clone, Serialize)]
pub struct NoticeRow {
    /// The case.
    pub case_id: i64,
    /// Its service.
    pub service: Option<String>,
    /// Its workflow's title.
    pub workflow: String,
    /// The day notice was served.
    pub served: String,
    /// The day it runs to, if recorded.
    pub until: Option<String>,
    /// Whole months given.
    pub months_given: Option<i32>,
    /// Months required.
    pub months_required: u32,
    /// `met`, `short`, `unknown` (no date recorded) or `not_required` (the notice rule's
    /// `when` does not hold for the case).
    pub result: &'static str,
    /// Where the requirement comes from.
    pub source: Option<String>,
}

/// Gather the dashboard from the cases `reader` may read: every figure, list and count
/// on it is of those cases only.
///
/// Its work grows with the cases it lists, not with every case stored: the counts and
/// the time in states are the database's (time in states kept by the decisions that move
/// cases, in `state_stays`); and only the cases that can show up in a list are read
/// whole: those in a state one of whose ways out asks for an approval, those that
/// entered a notice state, and those with a reminder overdue or an email in trouble.
pub async fn dashboard(app: &App, reader: &Actor) -> Result<Dashboard, AppError> {
    let now = app.now();
    let latest: BTreeMap<String, Arc<Definition>> = app.workflows().into_iter().map(|d| (d.id.clone(), d)).collect();
    let readable = app.readable_definitions(reader);
    let state_title = |workflow: &str, state: &str| {
        latest
            .get(workflow)
            .and_then(|d| d.states.get(state))
            .map(|s| s.title.clone())
            .unwrap_or_else(|| state.to_string())
    };

    // Cases per workflow and state, in each workflow's state order.
    let mut counts: Vec<WorkflowCounts> = Vec::new();
    for c in app.state_counts(reader).await? {
        if counts.last().is_none_or(|w| w.id != c.workflow_id) {
            let title = latest.get(&c.workflow_id).map(|d| d.title.clone()).unwrap_or(c.workflow_id.clone());
            counts.push(WorkflowCounts { id: c.workflow_id.clone(), title, states: Vec::new(), total: 0 });
        }
        let w = counts.last_mut().expect("pushed above");
        w.total += c.cases;
        w.states.push((c.state.clone(), state_title(&c.workflow_id, &c.state), c.cases));
    }
    for w in &mut counts {
        let order = |s: &str| latest.get(&w.id).and_then(|d| d.states.get_index_of(s)).unwrap_or(usize::MAX);
        w.states.sort_by_key(|(s, _, _)| order(s));
    }

    // Time in states, kept as cases move and worked out by the database; each
    // workflow's states in its order.
    let mut by_workflow: Vec<(String, Vec<(usize, StateTimeRow)>)> = Vec::new();
    for t in app.state_times(reader, now).await? {
        if by_workflow.last().is_none_or(|(w, _)| *w != t.workflow_id) {
            by_workflow.push((t.workflow_id.clone(), Vec::new()));
        }
        let def = latest.get(&t.workflow_id);
        let terminal = def.and_then(|d| d.states.get(t.state.as_str())).is_some_and(|s| s.terminal);
        let order = def.and_then(|d| d.states.get_index_of(t.state.as_str())).unwrap_or(usize::MAX);
        let describe = |ms: i64| dwell::describe(jiff::SignedDuration::from_millis(ms));
        let row = StateTimeRow {
            state: state_title(&t.workflow_id, &t.state),
            cases: t.cases as usize,
            current: t.current as usize,
            median: (!terminal).then(|| describe(t.median_ms)),
            longest: (!terminal).then(|| describe(t.longest_ms)),
        };
        by_workflow.last_mut().expect("pushed above").1.push((order, row));
    }
    let times: Vec<WorkflowTimes> = by_workflow
        .into_iter()
        .map(|(id, mut states)| {
            states.sort_by_key(|(order, _)| *order);
            WorkflowTimes {
                title: latest.get(&id).map(|d| d.title.clone()).unwrap_or(id.clone()),
                id,
                states: states.into_iter().map(|(_, r)| r).collect(),
            }
        })
        .collect();

    // The cases that entered a notice state, and when they did.
    let notice_states: Vec<(String, String)> = readable
        .iter()
        .filter_map(|d| Some((d.id.clone(), contract_of(d, latest.get(&d.id))?.notice.as_ref()?.state.to_string())))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let served_ids = app.cases_that_entered(reader, &notice_states).await?;
    let mut served: HashMap<i64, Vec<StateEntry>> = HashMap::new();
    for entry in app.state_entries(reader, Some(&served_ids)).await? {
        served.entry(entry.case_id).or_default().push(entry);
    }

    // The cases the lists below may show, read whole: those waiting where a way out asks
    // for an approval, those served notice, and those of the timers and messages below.
    let overdue = app.store().timers_due_before(now).await?;
    let troubled = app.store().messages_in_trouble().await?;
    let awaiting: Vec<(String, i32, String)> = readable
        .iter()
        .flat_map(|d| {
            d.states.keys().filter(|s| asks_for_approval(d, s)).map(|s| (d.id.clone(), d.version as i32, s.to_string()))
        })
        .collect();
    let waiting_rows =
        app.all_cases_where(reader, &CaseFilter { in_states: Some(awaiting), ..CaseFilter::default() }).await?;
    let mut ids: Vec<i64> = served.keys().copied().collect();
    ids.extend(overdue.iter().map(|t| t.timer.case_id));
    ids.extend(troubled.iter().filter_map(|m| m.case_id));
    let listed_rows = app.all_cases_where(reader, &CaseFilter { ids: Some(ids), ..CaseFilter::default() }).await?;
    let mut rows: BTreeMap<i64, CaseRow> = listed_rows.into_iter().map(|r| (r.id, r)).collect();
    let waiting: Vec<i64> = waiting_rows.iter().map(|r| r.id).collect();
    rows.extend(waiting_rows.into_iter().map(|r| (r.id, r)));
    let mut pinned: HashMap<i64, Arc<Definition>> = HashMap::new();
    let mut fields = HashMap::new();
    for row in rows.values() {
        let def = app.definition(row)?;
        let f = codec::fields_from_text(&def, &row.fields)
            .map_err(|m| AppError::Internal(gatehouse_adapters::store::StoreError::Corrupt(m)))?;
        fields.insert(row.id, f);
        pinned.insert(row.id, def);
    }
    let service = |id: i64| -> Option<String> { pinned.get(&id)?.service_of(fields.get(&id)?) };

    // Reminders past due, and messages in trouble.
    let when = |def: Option<&Arc<Definition>>, t: jiff::Timestamp| {
        let tz = def.map(|d| d.timezone.clone()).unwrap_or(jiff::tz::TimeZone::UTC);
        t.to_zoned(tz).strftime("%-d %B %Y %H:%M").to_string()
    };
    let overdue_timers = overdue
        .into_iter()
        .filter(|t| pinned.contains_key(&t.timer.case_id))
        .map(|t| {
            let def = pinned.get(&t.timer.case_id);
            let what = def
                .and_then(|d| d.timer(&t.timer.timer_id))
                .and_then(|d| d.title.clone())
                .unwrap_or_else(|| t.timer.timer_id.replace('_', " "));
            OverdueTimer {
                case_id: t.timer.case_id,
                service: service(t.timer.case_id),
                what,
                due: when(def, t.timer.due_at),
            }
        })
        .collect();
    let messages = troubled
        .into_iter()
        // A message of a case the reader may not read is not theirs to see; one of no
        // case (a workflow's schedule) is the oversight roles'.
        .filter(|m| match m.case_id {
            Some(id) => pinned.contains_key(&id),
            None => app.oversees(reader),
        })
        .map(|m| {
            let def = m.case_id.and_then(|id| pinned.get(&id));
            let (status, at) = match m.failed_at {
                Some(at) => ("failed", at),
                None => ("retrying", m.next_attempt_at),
            };
            TroubledMessage {
                case_id: m.case_id,
                template: m.template,
                status,
                attempts: m.attempts,
                when: when(def, at),
                error: m.last_error,
            }
        })
        .collect();

    // Approvals waiting, and notice given.
    let mut approvals: BTreeMap<String, AwaitedRole> = BTreeMap::new();
    let mut notices = Vec::new();
    for row in waiting.iter().map(|id| &rows[id]) {
        let def = &pinned[&row.id];
        if def.states.get(row.state.as_str()).is_some_and(|s| s.terminal) {
            continue;
        }
        let view = app.case(row.id).await?;
        let evaluator = Evaluator::new(def, &view.case, now);
        for t in def.outgoing(&view.case.state) {
            if evaluator.transition(t).applies.is_err() {
                continue;
            }
            let mut gates = Vec::new();
            t.gates.iter().for_each(|g| g.leaves(&mut gates));
            for g in gates {
                let GateKind::Approval(a) = &g.kind else { continue };
                if evaluator.holds(g) {
                    continue;
                }
                let role = approvals.entry(a.role.to_string()).or_insert_with(|| AwaitedRole {
                    role: a.role.to_string(),
                    title: def.roles.get(&a.role).map(|r| r.title.clone()).unwrap_or(a.role.to_string()),
                    cases: Vec::new(),
                });
                if !role.cases.iter().any(|c| c.case_id == row.id && c.transition == t.title) {
                    role.cases.push(WaitingCase {
                        case_id: row.id,
                        service: service(row.id),
                        workflow: def.title.clone(),
                        transition: t.title.clone(),
                    });
                }
            }
        }
    }
    for row in rows.values().filter(|r| served.contains_key(&r.id)) {
        let def = &pinned[&row.id];
        let Some(notice) = contract_of(def, latest.get(&row.workflow_id)).and_then(|c| c.notice.as_ref()) else {
            continue;
        };
        let Some(served) = entered_on(def, served.get(&row.id), notice.state.as_str()) else { continue };
        let verdict = notice.verdict(def, &fields[&row.id], served, now);
        let (until, given, result) = (verdict.until, verdict.given, verdict.result.name());
        notices.push(NoticeRow {
            case_id: row.id,
            service: service(row.id),
            workflow: def.title.clone(),
            served: served.to_string(),
            until: until.map(|d| d.to_string()),
            months_given: given.map(|g| g.months),
            months_required: notice.months,
            result,
            source: notice.source.clone(),
        });
    }

    Ok(Dashboard { counts, times, overdue_timers, messages, approvals: approvals.into_values().collect(), notices })
}

/// Whether a way out of `state` (not a terminal one) asks for an approval, under one of
/// its gates: only a case in such a state can be waiting for one.
fn asks_for_approval(def: &Definition, state: &gatehouse_engine::ids::StateId) -> bool {
    if def.states.get(state).is_some_and(|s| s.terminal) {
        return false;
    }
    def.outgoing(state).any(|t| {
        let mut gates = Vec::new();
        t.gates.iter().for_each(|g| g.leaves(&mut gates));
        gates.iter().any(|g| matches!(g.kind, GateKind::Approval(_)))
    })
}
