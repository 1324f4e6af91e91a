//! Read-only queries for the governance dashboard, the contracts register and the
//! workflow version history: counts, state entries from the audit trail, messages in
//! trouble, published versions. Plain sea-orm queries, the same on SQLite and PostgreSQL.

use super::entities::{case, definition, event, outbox};
use super::{Store, StoreError, codec};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::BTreeMap;

/// How many cases of a workflow are in a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateCount {
    /// The workflow.
    pub workflow_id: String,
    /// The state id.
    pub state: String,
    /// How many cases.
    pub cases: i64,
}

/// A case entering a state, from its audit trail: opened in it, moved to it, or sent
/// back to it by an amendment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEntry {
    /// The case.
    pub case_id: i64,
    /// Its workflow.
    pub workflow_id: String,
    /// The version of it the case is pinned to.
    pub workflow_version: i32,
    /// The state it entered (the initial state for `opened`).
    pub state: String,
    /// When.
    pub at: jiff::Timestamp,
}

/// A message that failed for good, or that is being retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTrouble {
    /// Row id.
    pub id: i64,
    /// The case it is about.
    pub case_id: Option<i64>,
    /// Its template.
    pub template: String,
    /// Attempts so far.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it failed for good; `None` while it is being retried.
    pub failed_at: Option<jiff::Timestamp>,
    /// When it is tried next (while it is being retried).
    pub next_attempt_at: jiff::Timestamp,
}

/// One published version of a workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedVersion {
    /// The version.
    pub version: i32,
    /// sha256 of its source, hex.
    pub sha256: String,
    /// When it was published.
    pub published_at: jiff::Timestamp,
    /// How many cases are pinned to it.
    pub cases: i64,
}

impl Store {
    /// How many cases each workflow has in each state, of the cases pinned to the
    /// `readable` (workflow, version) pairs (`None`: every case), by workflow and state.
    pub async fn state_counts(&self, readable: Option<&[(String, i32)]>) -> Result<Vec<StateCount>, StoreError> {
        // Counted per version and kept or not here: an OR over the readable pairs in the
        // statement leads SQLite to read the cases one pair at a time (six times slower
        // at 100,000 cases).
        let readable: Option<std::collections::HashSet<(&str, i32)>> =
            readable.map(|pairs| pairs.iter().map(|(w, v)| (w.as_str(), *v)).collect());
        let rows: Vec<(String, i32, String, i64)> = case::Entity::find()
            .select_only()
            .column(case::Column::WorkflowId)
            .column(case::Column::WorkflowVersion)
            .column(case::Column::State)
            .column_as(case::Column::Id.count(), "cases")
            // In the order of `ix_cases_workflow_state_version`, which holds all it reads.
            .group_by(case::Column::WorkflowId)
            .group_by(case::Column::State)
            .group_by(case::Column::WorkflowVersion)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut counts: BTreeMap<(String, String), i64> = BTreeMap::new();
        for (workflow_id, version, state, cases) in rows {
            if readable.as_ref().is_none_or(|r| r.contains(&(workflow_id.as_str(), version))) {
                *counts.entry((workflow_id, state)).or_default() += cases;
            }
        }
        Ok(counts.into_iter().map(|((workflow_id, state), cases)| StateCount { workflow_id, state, cases }).collect())
    }

    /// Every state entry (`opened` and `transitioned` events, and `amended` ones that sent
    /// the case back) of the cases pinned to the
    /// `readable` (workflow, version) pairs (`None`: every case), by case and in order.
    /// The state is read out of each event's payload by the database.
    /// With `ids`, of those cases only.
    pub async fn state_entries(
        &self,
        readable: Option<&[(String, i32)]>,
        ids: Option<&[i64]>,
    ) -> Result<Vec<StateEntry>, StoreError> {
        // Who may read what is checked here, on each row, rather than in the statement:
        // an OR over every readable (workflow, version) pair leads the planners to read
        // the cases by workflow for each pair, which costs far more than the check.
        let readable: Option<std::collections::HashSet<(&str, i32)>> =
            readable.map(|pairs| pairs.iter().map(|(w, v)| (w.as_str(), *v)).collect());
        let only = match ids {
            Some(ids) => Condition::all().add(event::Column::CaseId.is_in(ids.iter().copied())),
            None => Condition::all(),
        };
        let state = match self.backend() {
            sea_orm::DbBackend::Postgres => {
                "CASE events.kind WHEN 'opened' THEN CAST(events.payload AS JSON)->>'state' \
                 WHEN 'transitioned' THEN CAST(events.payload AS JSON)->>'to' \
                 ELSE CAST(events.payload AS JSON)->>'back_to' END"
            }
            _ => {
                "CASE events.kind WHEN 'opened' THEN json_extract(events.payload, '$.state') \
                 WHEN 'transitioned' THEN json_extract(events.payload, '$.to') \
                 ELSE json_extract(events.payload, '$.back_to') END"
            }
        };
        /// (case, workflow, version, state, when)
        type Row = (i64, String, i32, String, Option<String>, chrono::DateTime<chrono::Utc>);
        let rows: Vec<Row> = event::Entity::find()
            .join(
                sea_orm::JoinType::InnerJoin,
                event::Entity::belongs_to(case::Entity).from(event::Column::CaseId).to(case::Column::Id).into(),
            )
            .filter(only)
            .filter(event::Column::Kind.is_in(["opened", "transitioned", "amended"]))
            .select_only()
            .column(event::Column::CaseId)
            .column(case::Column::WorkflowId)
            .column(case::Column::WorkflowVersion)
            .column(event::Column::Kind)
            .column_as(sea_orm::sea_query::Expr::cust(state), "state")
            .column(event::Column::At)
            .order_by_asc(event::Column::CaseId)
            .order_by_asc(event::Column::Seq)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (case_id, workflow_id, version, kind, state, at) in rows {
            if readable.as_ref().is_some_and(|r| !r.contains(&(workflow_id.as_str(), version))) {
                continue;
            }
            let state = match state {
                Some(state) => state,
                // An amendment that did not send the case back entered no state.
                None if kind == "amended" => continue,
                None => return Err(StoreError::Corrupt(format!("case {case_id}: an event names no state"))),
            };
            out.push(StateEntry { case_id, workflow_id, workflow_version: version, state, at: codec::to_jiff(at) });
        }
        Ok(out)
    }

    /// Messages that failed for good or are being retried (not sent, tried at least
    /// once), oldest first.
    pub async fn messages_in_trouble(&self) -> Result<Vec<MessageTrouble>, StoreError> {
        let rows = outbox::Entity::find()
            .filter(outbox::Column::SentAt.is_null())
            .filter(Condition::any().add(outbox::Column::FailedAt.is_not_null()).add(outbox::Column::Attempts.gt(0)))
            .order_by_asc(outbox::Column::Id)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|m| MessageTrouble {
                id: m.id,
                case_id: m.case_id,
                template: m.template,
                attempts: m.attempts.max(0) as u32,
                last_error: m.last_error,
                failed_at: m.failed_at.map(codec::to_jiff),
                next_attempt_at: codec::to_jiff(m.next_attempt_at),
            })
            .collect())
    }

    /// Every published version of a workflow, oldest first, with how many cases are
    /// pinned to each.
    pub async fn published_versions(&self, workflow_id: &str) -> Result<Vec<PublishedVersion>, StoreError> {
        let versions = definition::Entity::find()
            .filter(definition::Column::WorkflowId.eq(workflow_id))
            .order_by_asc(definition::Column::Version)
            .all(&self.db)
            .await?;
        let pinned: BTreeMap<i32, i64> = case::Entity::find()
            .select_only()
            .column(case::Column::WorkflowVersion)
            .column_as(case::Column::Id.count(), "cases")
            .filter(case::Column::WorkflowId.eq(workflow_id))
            .group_by(case::Column::WorkflowVersion)
            .into_tuple::<(i32, i64)>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        Ok(versions
            .into_iter()
            .map(|v| PublishedVersion {
                cases: pinned.get(&v.version).copied().unwrap_or(0),
                version: v.version,
                sha256: v.sha256,
                published_at: codec::to_jiff(v.published_at),
            })
            .collect())
    }
}
