//! `gatehouse cases migrate`: move open cases to another published version of their
//! workflow, each in a transaction of its own (moved whole, or not at all), with
//! `--dry-run` to see first what each would meet.

use crate::cli::authoring::Status;
use crate::cli::service::published;
use anyhow::{Context, Result, bail};
use gatehouse_adapters::store::{CaseFilter, Store, StoreError};
use gatehouse_engine::Definition;
use gatehouse_engine::decide::Refusal;
use gatehouse_engine::migrate::migrate;
use gatehouse_engine::snapshot::{Actor, CaseSnapshot};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// What to move, and where.
#[derive(Debug, Clone)]
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
    /// Who moves them, for the audit trail.
    pub by: String,
    /// Say what would happen, and change nothing.
    pub dry_run: bool,
}

/// `gatehouse cases migrate`: one line per case, its impact under it; a summary last.
/// Fails (exit 1) when any case cannot be moved; those that can are moved all the same
/// (each on its own), unless `--dry-run`.
pub async fn migrate_cases(url: &str, workflows: &Path, req: &MigrateRequest, out: &mut dyn Write) -> Result<Status> {
    let (store, definitions) = published(url, workflows, out).await?;
    let Some(latest) = definitions.latest(&req.workflow) else {
        bail!("no version of workflow `{}` is published", req.workflow);
    };
    let to = match req.to {
        None => latest,
        Some(v) => definitions
            .get(&req.workflow, v)
            .with_context(|| format!("workflow `{}` has no published version {v}", req.workflow))?,
    };
    let map = mapping(&req.map)?;
    for (from, into) in &map {
        if !to.states.contains_key(into.as_str()) {
            bail!("`--map {from}={into}`: version {} of `{}` has no state `{into}`", to.version, to.id);
        }
    }
    let actor = Actor::user(req.by.clone(), Vec::<String>::new());
    let verb = if req.dry_run { "would move" } else { "moved" };
    let (mut moved, mut refused, mut page_after) = (0, 0, None);
    loop {
        let filter = CaseFilter {
            workflow: Some(req.workflow.clone()),
            ids: (!req.cases.is_empty()).then(|| req.cases.clone()),
            after_id: page_after,
            limit: Some(500),
            ..CaseFilter::default()
        };
        let rows = store.list_cases(&filter).await?;
        let Some(last) = rows.last() else { break };
        page_after = Some(last.id);
        for row in rows {
            if row.workflow_version as u32 == to.version {
                continue;
            }
            let Some(from) = definitions.get(&row.workflow_id, row.workflow_version as u32) else {
                writeln!(
                    out,
                    "case {}: version {} does not load here, so it cannot be moved",
                    row.id, row.workflow_version
                )?;
                refused += 1;
                continue;
            };
            let state = from.states.get(row.state.as_str());
            if state.is_none_or(|s| s.terminal) || (!req.states.is_empty() && !req.states.contains(&row.state)) {
                continue;
            }
            match move_one(&store, &from, &to, row.id, &map, &actor, req.dry_run).await? {
                Ok((case, impact)) => {
                    moved += 1;
                    writeln!(
                        out,
                        "case {}: {verb} from version {} to {} (in `{}`)",
                        row.id, from.version, to.version, case.state
                    )?;
                    for line in impact {
                        writeln!(out, "  - {line}")?;
                    }
                }
                Err(why) => {
                    refused += 1;
                    writeln!(out, "case {}: cannot be moved: {why}", row.id)?;
                }
            }
        }
    }
    let summary = format!("{moved} case(s) {verb} to version {} of {}", to.version, to.id);
    if refused > 0 {
        writeln!(out, "{summary}; {refused} cannot be moved")?;
        return Ok(Status::InputWrong);
    }
    writeln!(out, "{summary}")?;
    Ok(Status::Ok)
}

/// Move case `id` (on `from`) to `to`, or, with `dry_run`, only work out what would
/// happen. A case changed between read and write is read again, a few times.
async fn move_one(
    store: &Store,
    from: &Arc<Definition>,
    to: &Definition,
    id: i64,
    map: &BTreeMap<String, String>,
    actor: &Actor,
    dry_run: bool,
) -> Result<Result<(CaseSnapshot, Vec<String>), String>> {
    for _ in 0..5 {
        let loaded = store.load(id).await?;
        let head = loaded.head.clone();
        let mut before = loaded.snapshot(from)?;
        if !from.children.is_empty() {
            before.children = store.children_of(id).await?;
        }
        let now = jiff::Timestamp::now();
        let migrated = match migrate(from, to, &before, map, actor, now) {
            Ok(m) => m,
            Err(Refusal::Invalid(problems)) => {
                return Ok(Err(problems.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("; ")));
            }
            Err(refusal) => return Ok(Err(refusal.to_string())),
        };
        if dry_run {
            return Ok(Ok((migrated.decided.after, migrated.impact)));
        }
        match store.migrate_case(&before, &head, &migrated.decided, to.version).await {
            Ok(after) => return Ok(Ok((after, migrated.impact))),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Err("it kept changing while being moved; try again".into()))
}

/// `--map old=new` pairs.
fn mapping(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for pair in pairs {
        let Some((from, into)) = pair.split_once('=') else {
            bail!("`--map {pair}`: write it as old_state=new_state");
        };
        map.insert(from.trim().to_string(), into.trim().to_string());
    }
    Ok(map)
}
