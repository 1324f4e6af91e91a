//! The contracts register, asked of the database: which cases it lists, filtered by the
//! fields each workflow's `contract:` names (read out of `cases.fields` by the database),
//! counted, and a page at a time, so that a page costs what it shows rather than every
//! case stored.

use super::cases::CaseRow;
use super::entities::case;
use super::{Store, StoreError};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ColumnTrait, Condition, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

/// One workflow version on the register: its cases, the states kept, and which of its
/// fields hold the directorate and the end date.
#[derive(Debug, Clone)]
pub struct RegisterVersion {
    /// The workflow.
    pub workflow: String,
    /// Its version.
    pub version: i32,
    /// Only cases in these states (`None`: any).
    pub states: Option<Vec<String>>,
    /// The field holding the directorate.
    pub directorate: Option<String>,
    /// The field holding the contract's end date.
    pub ends: Option<String>,
}

/// Which cases the register lists.
#[derive(Debug, Clone, Default)]
pub struct RegisterFilter {
    /// The versions whose cases are contracts the reader may read.
    pub versions: Vec<RegisterVersion>,
    /// Only this directorate (any letter case, spaces around ignored).
    pub directorate: Option<String>,
    /// Only contracts ending before this day (YYYY-MM-DD).
    pub ends_before: Option<String>,
}

impl Store {
    /// How many cases the register lists.
    pub async fn register_count(&self, filter: &RegisterFilter) -> Result<u64, StoreError> {
        let Some(condition) = self.register_condition(filter) else { return Ok(0) };
        Ok(case::Entity::find().filter(condition).count(&self.db).await?)
    }

    /// The cases the register lists, in case order: those after case `after` (if
    /// given), skipping the first `offset`, `limit` of them.
    pub async fn register_page(
        &self,
        filter: &RegisterFilter,
        after: Option<i64>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<CaseRow>, StoreError> {
        let Some(mut condition) = self.register_condition(filter) else { return Ok(Vec::new()) };
        if let Some(after) = after {
            condition = Condition::all().add(condition).add(case::Column::Id.gt(after));
        }
        Ok(case::Entity::find()
            .filter(condition)
            .order_by_asc(case::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await?)
    }

    /// Every directorate named by a case of `versions`, each once, sorted.
    pub async fn register_directorates(&self, versions: &[RegisterVersion]) -> Result<Vec<String>, StoreError> {
        let mut out = std::collections::BTreeSet::new();
        for v in versions {
            let Some(field) = &v.directorate else { continue };
            let names: Vec<Option<String>> = case::Entity::find()
                .filter(case::Column::WorkflowId.eq(v.workflow.as_str()))
                .filter(case::Column::WorkflowVersion.eq(v.version))
                .select_only()
                .column_as(self.field_text(field), "directorate")
                .distinct()
                .into_tuple()
                .all(&self.db)
                .await?;
            out.extend(names.into_iter().flatten().filter(|n| !n.trim().is_empty()));
        }
        Ok(out.into_iter().collect())
    }

    /// The condition on `cases` for `filter`; `None` when it keeps no case.
    fn register_condition(&self, filter: &RegisterFilter) -> Option<Condition> {
        let mut any = Condition::any();
        let mut some = false;
        for v in &filter.versions {
            let mut all = Condition::all()
                .add(case::Column::WorkflowId.eq(v.workflow.as_str()))
                .add(case::Column::WorkflowVersion.eq(v.version));
            if let Some(states) = &v.states {
                if states.is_empty() {
                    continue;
                }
                all = all.add(case::Column::State.is_in(states.iter().map(String::as_str)));
            }
            if let Some(wanted) = &filter.directorate {
                let Some(field) = &v.directorate else { continue };
                all = all.add(self.field_folded(field).eq(wanted.trim().to_lowercase()));
            }
            if let Some(before) = &filter.ends_before {
                let Some(field) = &v.ends else { continue };
                // Dates are held as YYYY-MM-DD, which sort as text in date order.
                all = all.add(self.field_text(field).lt(before.as_str()));
            }
            any = any.add(all);
            some = true;
        }
        some.then_some(any)
    }

    /// The text of field `field` of a case row, read out of its JSON by the database.
    fn field_text(&self, field: &str) -> Expr {
        match self.backend() {
            DbBackend::Postgres => Expr::cust_with_values("(CAST(cases.fields AS JSON) ->> $1)", [field.to_string()]),
            _ => Expr::cust_with_values("json_extract(cases.fields, ?)", [format!("$.{field}")]),
        }
    }

    /// [`Store::field_text`] trimmed and in lower case, to compare as people do.
    fn field_folded(&self, field: &str) -> Expr {
        match self.backend() {
            DbBackend::Postgres => {
                Expr::cust_with_values("LOWER(TRIM(CAST(cases.fields AS JSON) ->> $1))", [field.to_string()])
            }
            _ => Expr::cust_with_values("LOWER(TRIM(json_extract(cases.fields, ?)))", [format!("$.{field}")]),
        }
    }
}
