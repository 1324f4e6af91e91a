//! Moving open cases of a workflow to another published version, for `gatehouse cases
//! migrate` and the workflow page: each case in a transaction of its own (moved whole,
//! or not at all), or, dry, what would happen to each.

use super::{App, AppError};
use gatehouse_adapters::store::{CaseFilter, Definitions, Store, StoreError};
use gatehouse_engine::Definition;
use gatehouse_engine::decide::{Problem, Refusal};
use gatehouse_engine::migrate::migrate;
use gatehouse_engine::snapshot::Actor;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What to move, and where.
#[derive(Debug, Clone, Default)]
pub struct MigrateRequest {
    /// The workflow.
    pub workflow: String,
    /// The version to move to; the latest published when `None`.
    pub to: Option<u32>,
    /// Only these cases (all open cases of the workflow when empty).
    pub cases: Vec<i64>,
    /// Only cases in these states (of the version they are on).
    pub states: Vec<String>,
    /// `old=new`: where a case in a state the new version renamed or removed goes.
    pub map: Vec<String>,
    /// Say what would happen, and change nothing.
    pub dry_run: bool,
}

/// What happened, or would, to one case.
#[derive(Debug, Clone)]
pub struct Move {
    /// The case.
    pub case_id: i64,
    /// The version it was on.
    pub from_version: u32,
    /// `Ok((state it is in after, what changed))`, or why it cannot be moved.
    pub outcome: Result<(String, Vec<String>), String>,
}

/// Every case a request looked at, and the version they go to.
#[derive(Debug, Clone)]
pub struct MigrateReport {
    /// The workflow.
    pub workflow: String,
    /// The version they go (or would go) to.
    pub to_version: u32,
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// One per open case chosen, in id order.
    pub moves: Vec<Move>,
}

impl MigrateReport {
    /// How many were (or would be) moved, and how many cannot be.
    pub fn counts(&self) -> (usize, usize) {
        let moved = self.moves.iter().filter(|m| m.outcome.is_ok()).count();
        (moved, self.moves.len() - moved)
    }
}

impl App {
    /// Move open cases as `req` asks, for a governance member (the workflow page).
    pub async fn migrate_cases(&self, actor: &Actor, req: &MigrateRequest) -> Result<MigrateReport, AppError> {
        self.govern(actor)?;
        let definitions = self.definitions.read().expect("definitions lock").clone();
        migrate_open_cases(&self.store, &definitions, req, actor, self.now()).await
    }
}

/// Move the open cases `req` chooses, read from `store` with `definitions`, as `actor`.
pub async fn migrate_open_cases(
    store: &Store,
    definitions: &Definitions,
    req: &MigrateRequest,
    actor: &Actor,
    now: jiff::Timestamp,
) -> Result<MigrateReport, AppError> {
    let invalid =
        |field: &str, message: String| AppError::Invalid(vec![Problem { field: Some(field.into()), message }]);
    let to = match req.to {
        None => definitions.latest(&req.workflow),
        Some(v) => definitions.get(&req.workflow, v),
    }
    .ok_or_else(|| AppError::NotFound(format!("workflow `{}` has no such published version", req.workflow)))?;
    let mut map = BTreeMap::new();
    for pair in &req.map {
        let Some((from, into)) = pair.split_once('=') else {
            return Err(invalid("map", format!("`{pair}`: write it as old_state=new_state")));
        };
        let (from, into) = (from.trim(), into.trim());
        if !to.states.contains_key(into) {
            return Err(invalid(
                "map",
                format!("`{pair}`: version {} of `{}` has no state `{into}`", to.version, to.id),
            ));
        }
        map.insert(from.to_string(), into.to_string());
    }
    let mut report =
        MigrateReport { workflow: to.id.clone(), to_version: to.version, dry_run: req.dry_run, moves: Vec::new() };
    let mut after = None;
    loop {
        let filter = CaseFilter {
            workflow: Some(req.workflow.clone()),
            ids: (!req.cases.is_empty()).then(|| req.cases.clone()),
            after_id: after,
            limit: Some(500),
            ..CaseFilter::default()
        };
        let rows = store.list_cases(&filter).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.id);
        for row in rows {
            let from_version = row.workflow_version as u32;
            if from_version == to.version {
                continue;
            }
            let Some(from) = definitions.get(&row.workflow_id, from_version) else {
                let why = format!("version {from_version} does not load here, so it cannot be moved");
                report.moves.push(Move { case_id: row.id, from_version, outcome: Err(why) });
                continue;
            };
            let state = from.states.get(row.state.as_str());
            if state.is_none_or(|s| s.terminal) || (!req.states.is_empty() && !req.states.contains(&row.state)) {
                continue;
            }
            let outcome = move_one(store, &from, &to, row.id, &map, actor, now, req.dry_run).await?;
            report.moves.push(Move { case_id: row.id, from_version, outcome });
        }
    }
    Ok(report)
}

/// Move case `id` (on `from`) to `to`, or, with `dry_run`, only work out what would
/// happen. A case changed between read and write is read again, a few times.
#[allow(clippy::too_many_arguments)]
async fn move_one(
    store: &Store,
    from: &Arc<Definition>,
    to: &Definition,
    id: i64,
    map: &BTreeMap<String, String>,
    actor: &Actor,
    now: jiff::Timestamp,
    dry_run: bool,
) -> Result<Result<(String, Vec<String>), String>, AppError> {
    for _ in 0..5 {
        let loaded = store.load(id).await?;
        let head = loaded.head.clone();
        let mut before = loaded.snapshot(from)?;
        if !from.children.is_empty() {
            before.children = store.children_of(id).await?;
        }
        let migrated = match migrate(from, to, &before, map, actor, now) {
            Ok(m) => m,
            Err(Refusal::Invalid(problems)) => return Ok(Err(Problem::joined(&problems))),
            Err(refusal) => return Ok(Err(refusal.to_string())),
        };
        if dry_run {
            return Ok(Ok((migrated.decided.after.state.to_string(), migrated.impact)));
        }
        match store.migrate_case(&before, &head, &migrated.decided, to.version).await {
            Ok(after) => return Ok(Ok((after.state.to_string(), migrated.impact))),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Err("it kept changing while being moved; try again".into()))
}
