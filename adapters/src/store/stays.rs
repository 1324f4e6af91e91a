//! Time in states, kept by the decisions that move cases (`state_stays`, written in
//! `writes.rs`), and read here for the governance dashboard: each state's cases, median
//! and longest stay worked out by the database, so that the dashboard's cost does not
//! grow with what it would take to carry every case's stays out of the database.

use super::entities::{case, stay};
use super::writes::Params;
use super::{StateEntry, Store, StoreError};
use gatehouse_engine::dwell;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect, QueryTrait,
    Statement,
};
use std::collections::{BTreeMap, HashSet};

/// One workflow's time in one state, across the cases read.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct StateTime {
    /// The workflow.
    pub workflow_id: String,
    /// The state id.
    pub state: String,
    /// Cases that have been, or are, in the state.
    pub cases: i64,
    /// Of those, the ones there now.
    pub current: i64,
    /// The median of the cases' time there (each case's visits summed; a visit not over
    /// counts up to now), in milliseconds: the mean of the middle two when the count is
    /// even.
    pub median_ms: i64,
    /// The longest, in milliseconds.
    pub longest_ms: i64,
}

/// One version's figures for a state, as [`Store::state_times`] reads them.
#[derive(Debug, FromQueryResult)]
struct Group {
    workflow_id: String,
    state: String,
    workflow_version: i32,
    cases: i64,
    current: i64,
    shortest_ms: i64,
    longest_ms: i64,
}

/// A stay in the middle of a state's stays.
#[derive(Debug, FromQueryResult)]
struct Middle {
    ms: i64,
}

/// A case's time in a state as of `now_ms`: its visits that are over, and the one that
/// is not, up to now (never below nothing, were the clock to go back).
fn stay_sql(q: &mut Params, now_ms: i64) -> String {
    let (a, b) = (q.param(now_ms), q.param(now_ms));
    format!("ms + CASE WHEN entered_ms IS NULL OR entered_ms > {a} THEN 0 ELSE {b} - entered_ms END")
}

/// Cases whose stays are rebuilt from the audit trail in one transaction.
const FILL_BATCH: usize = 1000;

impl Store {
    /// Each workflow's time in each state, as of `now`, over the cases pinned to the
    /// `readable` (workflow, version) pairs (`None`: every case), by workflow and state.
    ///
    /// One statement counts each state's cases per version (from the index on
    /// `state_stays` alone); the versions the reader may not read are left out here, and
    /// a state's median is then read from its sorted stays by a statement of its own
    /// (one with more than two cases): ranking every stay in one statement with window
    /// functions took three times as long at 100,000 cases on SQLite.
    pub async fn state_times(
        &self,
        readable: Option<&[(String, i32)]>,
        now: jiff::Timestamp,
    ) -> Result<Vec<StateTime>, StoreError> {
        let backend = self.backend();
        let readable: Option<HashSet<(&str, i32)>> =
            readable.map(|r| r.iter().map(|(w, v)| (w.as_str(), *v)).collect());
        let now_ms = now.as_millisecond();
        let mut q = Params::new(backend);
        let group = format!(
            "SELECT workflow_id, state, workflow_version, COUNT(*) AS cases, \
               SUM(CASE WHEN entered_ms IS NULL THEN 0 ELSE 1 END) AS current, \
               MIN({shortest}) AS shortest_ms, MAX({longest}) AS longest_ms \
             FROM state_stays GROUP BY workflow_id, state, workflow_version",
            shortest = stay_sql(&mut q, now_ms),
            longest = stay_sql(&mut q, now_ms),
        );
        let groups =
            Group::find_by_statement(Statement::from_sql_and_values(backend, group, q.values)).all(&self.db).await?;
        // (workflow, state) → its versions read, and the figures over them.
        let mut merged: BTreeMap<(String, String), (Vec<i32>, Group)> = BTreeMap::new();
        for g in groups {
            if readable.as_ref().is_some_and(|r| !r.contains(&(g.workflow_id.as_str(), g.workflow_version))) {
                continue;
            }
            match merged.entry((g.workflow_id.clone(), g.state.clone())) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert((vec![g.workflow_version], g));
                }
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    let (versions, m) = o.get_mut();
                    versions.push(g.workflow_version);
                    m.cases += g.cases;
                    m.current += g.current;
                    m.shortest_ms = m.shortest_ms.min(g.shortest_ms);
                    m.longest_ms = m.longest_ms.max(g.longest_ms);
                }
            }
        }
        let mut out = Vec::with_capacity(merged.len());
        for ((workflow_id, state), (versions, g)) in merged {
            let median_ms = match g.cases {
                1 | 2 => (g.shortest_ms + g.longest_ms) / 2,
                n => {
                    // The middle stay, or the middle two: sorted, skipping those before.
                    let mut q = Params::new(backend);
                    let stay = stay_sql(&mut q, now_ms);
                    let workflow = q.param(workflow_id.as_str());
                    let state_p = q.param(state.as_str());
                    let versions: Vec<String> = versions.iter().map(|v| q.param(*v)).collect();
                    let (take, skip) = (q.param(2 - n % 2), q.param((n - 1) / 2));
                    let sql = format!(
                        "SELECT {stay} AS ms FROM state_stays \
                         WHERE workflow_id = {workflow} AND state = {state_p} AND workflow_version IN ({}) \
                         ORDER BY ms LIMIT {take} OFFSET {skip}",
                        versions.join(", ")
                    );
                    let middle = Middle::find_by_statement(Statement::from_sql_and_values(backend, sql, q.values))
                        .all(&self.db)
                        .await?;
                    if middle.is_empty() {
                        return Err(StoreError::Corrupt(format!("{workflow_id}: no stays in {state} after all")));
                    }
                    middle.iter().map(|m| m.ms).sum::<i64>() / middle.len() as i64
                }
            };
            out.push(StateTime {
                workflow_id,
                state,
                cases: g.cases,
                current: g.current,
                median_ms,
                longest_ms: g.longest_ms,
            });
        }
        Ok(out)
    }

    /// The cases, of those pinned to the `readable` (workflow, version) pairs (`None`:
    /// every case), that have been in one of `states` ((workflow, state) pairs), now or
    /// before.
    pub async fn cases_that_entered(
        &self,
        readable: Option<&[(String, i32)]>,
        states: &[(String, String)],
    ) -> Result<Vec<i64>, StoreError> {
        if states.is_empty() {
            return Ok(Vec::new());
        }
        // Who may read what is checked on each row, as in `state_entries`.
        let readable: Option<HashSet<(&str, i32)>> =
            readable.map(|r| r.iter().map(|(w, v)| (w.as_str(), *v)).collect());
        let wanted: HashSet<(&str, &str)> = states.iter().map(|(w, s)| (w.as_str(), s.as_str())).collect();
        let rows: Vec<(i64, String, i32, String)> = stay::Entity::find()
            .join(
                sea_orm::JoinType::InnerJoin,
                stay::Entity::belongs_to(case::Entity).from(stay::Column::CaseId).to(case::Column::Id).into(),
            )
            .filter(stay::Column::State.is_in(states.iter().map(|(_, s)| s.as_str())))
            .select_only()
            .column(stay::Column::CaseId)
            .column(case::Column::WorkflowId)
            .column(case::Column::WorkflowVersion)
            .column(stay::Column::State)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter(|(_, w, v, s)| {
                wanted.contains(&(w.as_str(), s.as_str())) && readable.as_ref().is_none_or(|r| r.contains(&(w, *v)))
            })
            .map(|(id, ..)| id)
            .collect())
    }

    /// Give the cases stored before stays were kept (or any case without them) their
    /// stays, from their audit trails, a batch of cases per transaction; the number of
    /// cases given them. Run by [`Store::migrate`], so it is done before a node serves.
    pub(super) async fn fill_missing_stays(&self) -> Result<usize, StoreError> {
        let mut filled = 0;
        loop {
            let missing = case::Entity::find()
                .select_only()
                .column(case::Column::Id)
                .filter(case::Column::Id.not_in_subquery(
                    sea_orm::sea_query::Query::select().column(stay::Column::CaseId).from(stay::Entity).to_owned(),
                ))
                .limit(FILL_BATCH as u64);
            let ids: Vec<i64> = missing.into_tuple().all(&self.db).await?;
            if ids.is_empty() {
                return Ok(filled);
            }
            let entries = self.state_entries(None, Some(&ids)).await?;
            let rows: Vec<stay::ActiveModel> =
                entries.chunk_by(|a, b| a.case_id == b.case_id).flat_map(rebuilt).collect();
            let given: HashSet<i64> = entries.iter().map(|e| e.case_id).collect();
            if given.is_empty() {
                // Cases without a single state entry: their trails are broken, which
                // `gatehouse verify` reports; nothing can be worked out from them.
                tracing::warn!(cases = ?ids, "cases without an opened event: their time in states is not shown");
                return Ok(filled);
            }
            let (txn, _turn) = self.begin_write().await?;
            for chunk in rows.chunks(200) {
                let insert = stay::Entity::insert_many(chunk.iter().cloned()).on_conflict(
                    OnConflict::columns([stay::Column::CaseId, stay::Column::State]).do_nothing().to_owned(),
                );
                txn.execute_raw(insert.build(self.backend())).await?;
            }
            txn.commit().await?;
            filled += given.len();
        }
    }
}

/// One case's stays from its state entries, in order.
fn rebuilt(entries: &[StateEntry]) -> Vec<stay::ActiveModel> {
    let mut kept: BTreeMap<String, (i64, Option<i64>)> = BTreeMap::new();
    let mut before: Option<(&str, jiff::Timestamp)> = None;
    for e in entries {
        for c in dwell::changes(before, &[e.state.as_str()], e.at) {
            let k = kept.entry(c.state).or_default();
            k.0 += c.time.as_millis() as i64;
            k.1 = c.entered.map(|t| t.as_millisecond());
        }
        before = Some((e.state.as_str(), e.at));
    }
    kept.into_iter()
        .map(|(state, (ms, entered_ms))| stay::ActiveModel {
            case_id: Set(entries[0].case_id),
            workflow_id: Set(entries[0].workflow_id.clone()),
            workflow_version: Set(entries[0].workflow_version),
            state: Set(state),
            ms: Set(ms),
            entered_ms: Set(entered_ms),
        })
        .collect()
}
