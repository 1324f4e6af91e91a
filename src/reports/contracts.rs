//! The contracts register: every case's contract across workflows, read through each
//! workflow's `contract:` block (which field holds the service, provider, value, end
//! date and directorate), with the date notice was served when it was. A case on a
//! version without a `contract:` block is read with its workflow's latest block.

use crate::app::{App, AppError};
use gatehouse_adapters::store::{CaseRow, RegisterFilter, RegisterVersion, StateEntry, codec};
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

/// One page of the register, with what the page around it shows.
#[derive(Debug, Clone)]
pub struct RegisterPage {
    /// Its rows.
    pub rows: Vec<ContractRow>,
    /// How many rows the filter keeps, over every page.
    pub total: u64,
    /// Which page it is, from 0: the one asked for, or the last when that is past it.
    pub page: u64,
}

/// The register's query for what `reader` may read and `filter` keeps: the versions of
/// the workflows with a contract, each with its states, directorate and end fields.
fn register_filter(app: &App, reader: &Actor, filter: &ContractFilter) -> RegisterFilter {
    let latest: BTreeMap<String, Arc<Definition>> = app.workflows().into_iter().map(|d| (d.id.clone(), d)).collect();
    let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    let versions = app
        .readable_definitions(reader)
        .iter()
        .filter(|d| filter.workflow.as_deref().is_none_or(|w| d.id == w))
        .filter_map(|d| {
            let contract = contract_of(d, latest.get(&d.id))?;
            let states = filter.state.as_deref().map(|wanted| {
                d.states
                    .iter()
                    .filter(|(id, s)| same(id.as_str(), wanted) || same(&s.title, wanted))
                    .map(|(id, _)| id.to_string())
                    .collect()
            });
            Some(RegisterVersion {
                workflow: d.id.clone(),
                version: d.version as i32,
                states,
                directorate: contract.directorate.as_ref().map(|f| f.to_string()),
                ends: contract.ends.as_ref().map(|f| f.to_string()),
            })
        })
        .collect();
    RegisterFilter {
        versions,
        directorate: filter.directorate.clone(),
        ends_before: filter.ends_before.map(|d| d.to_string()),
    }
}

/// Page `page` (from 0; the last, when it is past it) of `per_page` rows of the register of what `reader` may read and
/// `filter` keeps, in case order; the database filters and counts, and only the page's
/// cases are read.
pub async fn register_page(
    app: &App,
    reader: &Actor,
    filter: &ContractFilter,
    page: u64,
    per_page: u64,
) -> Result<RegisterPage, AppError> {
    let query = register_filter(app, reader, filter);
    let total = app.store().register_count(&query).await?;
    let page = page.min(total.div_ceil(per_page).max(1) - 1);
    let cases = app.store().register_page(&query, None, page * per_page, per_page).await?;
    Ok(RegisterPage { rows: contract_rows(app, reader, cases).await?, total, page })
}

/// Every directorate a contract `reader` may read names, for the register's filter.
pub async fn directorates(app: &App, reader: &Actor) -> Result<Vec<String>, AppError> {
    let query = register_filter(app, reader, &ContractFilter::default());
    Ok(app.store().register_directorates(&query.versions).await?)
}

/// The register of what `reader` may read and `filter` keeps, in case order, as CSV
/// with a header row, made and sent [`CSV_PAGE`] cases at a time: the whole register is
/// never held at once.
pub fn csv_stream(app: Arc<App>, reader: Actor, filter: ContractFilter) -> crate::app::DocumentStream {
    let query = register_filter(&app, &reader, &filter);
    let header = csv(&[]).map_err(std::io::Error::other);
    let first = futures_util::stream::once(async move { header.map(axum::body::Bytes::from) });
    let pages = futures_util::stream::try_unfold(Some(None), move |after: Option<Option<i64>>| {
        let (app, reader, query) = (app.clone(), reader.clone(), query.clone());
        async move {
            let Some(after) = after else { return Ok(None) };
            let cases = app.store().register_page(&query, after, 0, CSV_PAGE).await.map_err(std::io::Error::other)?;
            let next = (cases.len() as u64 == CSV_PAGE).then(|| cases.last().map(|c| c.id));
            let rows = contract_rows(&app, &reader, cases).await.map_err(std::io::Error::other)?;
            let mut body = csv(&rows).map_err(std::io::Error::other)?;
            // Each page's own header row is cut: the first line.
            let start = body.iter().position(|b| *b == b'\n').map_or(body.len(), |i| i + 1);
            body.drain(..start);
            Ok(Some((axum::body::Bytes::from(body), next)))
        }
    });
    Box::pin(futures_util::StreamExt::chain(first, pages))
}

/// How many cases a piece of the CSV is made from.
const CSV_PAGE: u64 = 1000;

/// The contract rows of `cases` (which the register's query chose), with the day each
/// was served notice.
async fn contract_rows(app: &App, reader: &Actor, cases: Vec<CaseRow>) -> Result<Vec<ContractRow>, AppError> {
    let ids: Vec<i64> = cases.iter().map(|c| c.id).collect();
    let entries = entries_by_case(app.state_entries(reader, Some(&ids)).await?);
    let latest: BTreeMap<String, Arc<Definition>> = app.workflows().into_iter().map(|d| (d.id.clone(), d)).collect();
    let mut out = Vec::new();
    for row in cases {
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
        out.push(ContractRow {
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
        });
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
