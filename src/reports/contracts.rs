//! The contracts register: every case's contract across workflows, read through each
//! workflow's `contract:` block (which field holds the service, provider, value, end
//! date and directorate), with the date notice was served when it was. A case on a
//! version without a `contract:` block is read with its workflow's latest block.

use crate::app::{App, AppError};
use gatehouse_adapters::store::{StateEntry, codec};
use gatehouse_engine::contract::Contract;
use gatehouse_engine::definition::Definition;
use gatehouse_engine::ids::FieldId;
use gatehouse_engine::snapshot::{Actor, FieldValue};
use jiff::civil::Date;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One case's contract.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContractRow {
    /// The case.
    pub case_id: i64,
    /// Its workflow's id.
    pub workflow_id: String,
    /// Its workflow's title.
    pub workflow: String,
    /// The service.
    pub service: Option<String>,
    /// The provider.
    pub provider: Option<String>,
    /// The annual value, in pence.
    pub value_pence: Option<i64>,
    /// The annual value for people (£650,000).
    pub value: Option<String>,
    /// When the contract ends.
    pub ends: Option<String>,
    /// The directorate.
    pub directorate: Option<String>,
    /// The case's state id.
    pub state_id: String,
    /// The case's state, for people.
    pub state: String,
    /// The day notice was served (the case last entered the notice state), if it was.
    pub notice_served: Option<String>,
}

/// Which contracts to list. Empty means any.
#[derive(Debug, Clone, Default)]
pub struct ContractFilter {
    /// Workflow id.
    pub workflow: Option<String>,
    /// Directorate, exactly.
    pub directorate: Option<String>,
    /// State id or title (case does not matter).
    pub state: Option<String>,
    /// Only contracts ending before this day.
    pub ends_before: Option<Date>,
}

impl ContractFilter {
    /// Whether `row` passes.
    pub fn keeps(&self, row: &ContractRow) -> bool {
        let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
        self.workflow.as_deref().is_none_or(|w| row.workflow_id == w)
            && self.directorate.as_deref().is_none_or(|d| row.directorate.as_deref().is_some_and(|x| same(x, d)))
            && self.state.as_deref().is_none_or(|s| same(&row.state_id, s) || same(&row.state, s))
            && self.ends_before.is_none_or(|before| {
                row.ends.as_deref().and_then(|e| e.parse::<Date>().ok()).is_some_and(|e| e < before)
            })
    }
}

/// The contract mapping for a case pinned to `def`: its own, or its workflow's latest.
pub fn contract_of<'a>(def: &'a Definition, latest: Option<&'a Arc<Definition>>) -> Option<&'a Contract> {
    def.contract.as_ref().or_else(|| latest.and_then(|l| l.contract.as_ref()))
}

/// Each case's state entries, by case id.
pub fn entries_by_case(entries: Vec<StateEntry>) -> HashMap<i64, Vec<StateEntry>> {
    let mut out: HashMap<i64, Vec<StateEntry>> = HashMap::new();
    for e in entries {
        out.entry(e.case_id).or_default().push(e);
    }
    out
}

/// The day a case last entered `state`, in the workflow's zone.
pub fn entered_on(def: &Definition, entries: Option<&Vec<StateEntry>>, state: &str) -> Option<Date> {
    entries?.iter().rev().find(|e| e.state == state).map(|e| e.at.to_zoned(def.timezone.clone()).date())
}

/// Every contract of the cases `reader` may read, in case order, that `filter` keeps.
pub async fn register(app: &App, reader: &Actor, filter: &ContractFilter) -> Result<Vec<ContractRow>, AppError> {
    let rows = app.all_cases(reader).await?;
    let entries = entries_by_case(app.state_entries(reader).await?);
    let latest: BTreeMap<String, Arc<Definition>> = app.workflows().into_iter().map(|d| (d.id.clone(), d)).collect();
    let mut out = Vec::new();
    for row in rows {
        let def = app.definition(&row)?;
        let Some(contract) = contract_of(&def, latest.get(&row.workflow_id)) else { continue };
        let fields = codec::fields_from_text(&def, &row.fields)
            .map_err(|m| AppError::Internal(gatehouse_adapters::store::StoreError::Corrupt(m)))?;
        let text = |f: &Option<FieldId>| f.as_ref().and_then(|f| fields.get(f)).map(FieldValue::display);
        let value_pence = contract.value.as_ref().and_then(|f| match fields.get(f) {
            Some(FieldValue::Pence(p)) => Some(*p),
            _ => None,
        });
        let notice_served = contract
            .notice
            .as_ref()
            .and_then(|n| entered_on(&def, entries.get(&row.id), n.state.as_str()))
            .map(|d| d.to_string());
        let c = ContractRow {
            case_id: row.id,
            workflow_id: row.workflow_id.clone(),
            workflow: def.title.clone(),
            service: text(&contract.service),
            provider: text(&contract.provider),
            value: text(&contract.value),
            value_pence,
            ends: text(&contract.ends),
            directorate: text(&contract.directorate),
            state: def.states.get(row.state.as_str()).map(|s| s.title.clone()).unwrap_or(row.state.clone()),
            state_id: row.state.clone(),
            notice_served,
        };
        if filter.keeps(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

/// Pence as plain pounds for a spreadsheet: 65000000 as `650000`, 1050 as `10.50`.
pub fn plain_pounds(pence: i64) -> String {
    let sign = if pence < 0 { "-" } else { "" };
    let p = pence.unsigned_abs();
    if p.is_multiple_of(100) { format!("{sign}{}", p / 100) } else { format!("{sign}{}.{:02}", p / 100, p % 100) }
}

/// A cell made safe to open in a spreadsheet: text that starts with `=`, `+`, `-`, `@`
/// (or a tab or carriage return) would be read as a formula, so it gets a leading
/// apostrophe (OWASP, "CSV Injection").
pub fn spreadsheet_safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}") } else { cell.to_string() }
}

/// The register as CSV, with a header row.
pub fn csv(rows: &[ContractRow]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "case",
        "workflow",
        "service",
        "provider",
        "annual_value_pounds",
        "contract_end",
        "directorate",
        "state",
        "notice_served",
    ])?;
    for r in rows {
        let cells = [
            r.case_id.to_string(),
            r.workflow_id.clone(),
            r.service.clone().unwrap_or_default(),
            r.provider.clone().unwrap_or_default(),
            r.value_pence.map(plain_pounds).unwrap_or_default(),
            r.ends.clone().unwrap_or_default(),
            r.directorate.clone().unwrap_or_default(),
            r.state_id.clone(),
            r.notice_served.clone().unwrap_or_default(),
        ];
        w.write_record(cells.iter().map(|c| spreadsheet_safe(c)))?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("+1"), "'+1");
        assert_eq!(spreadsheet_safe("-1"), "'-1");
        assert_eq!(spreadsheet_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet_safe("Day centre"), "Day centre");
        assert_eq!(plain_pounds(65_000_000), "650000");
        assert_eq!(plain_pounds(1050), "10.50");
    }
}
