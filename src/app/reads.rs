//! What people read: the cases they may read (by the engine's reading rule, or every
//! case for an oversight role), the governance reports' figures over those cases, a
//! case's audit trail and its emails.

use super::{App, AppError, hidden, not_found};
use gatehouse_adapters::store::{BrokenLink, CaseFilter, CaseRow, StateCount};
use gatehouse_engine::snapshot::Actor;

impl App {
    /// The (workflow, version) pairs whose cases `actor` may read, or `None` when they
    /// read every case.
    fn readable(&self, actor: &Actor) -> Option<Vec<(String, i32)>> {
        if self.oversight.covers(actor) {
            return None;
        }
        let definitions = self.definitions.read().expect("definitions lock");
        Some(definitions.all().filter(|d| self.may_read(actor, d)).map(|d| (d.id.clone(), d.version as i32)).collect())
    }

    /// Whether `actor` holds one of the installation's oversight roles, and so reads
    /// every case (and what belongs to no case, such as a schedule's messages).
    pub fn oversees(&self, actor: &Actor) -> bool {
        self.oversight.covers(actor)
    }

    /// How many cases `reader` may read in each workflow and state.
    pub async fn state_counts(&self, reader: &Actor) -> Result<Vec<StateCount>, AppError> {
        Ok(self.store.state_counts(self.readable(reader).as_deref()).await?)
    }

    /// The cases matching `filter` that `actor` may read.
    pub async fn list_cases(&self, actor: &Actor, filter: &CaseFilter) -> Result<Vec<CaseRow>, AppError> {
        let filter = CaseFilter { readable: self.readable(actor), ..filter.clone() };
        Ok(self.store.list_cases(&filter).await?)
    }

    /// Every case `actor` may read, oldest first, read a page at a time.
    pub async fn all_cases(&self, actor: &Actor) -> Result<Vec<CaseRow>, AppError> {
        self.all_cases_where(actor, &CaseFilter::default()).await
    }

    /// Every case `actor` may read that `filter` keeps (its paging aside), oldest first,
    /// read a page at a time; a list of ids is asked for a slice at a time.
    pub async fn all_cases_where(&self, actor: &Actor, filter: &CaseFilter) -> Result<Vec<CaseRow>, AppError> {
        const PAGE: usize = 1000;
        let readable = self.readable(actor);
        let mut out: Vec<CaseRow> = Vec::new();
        let mut ids: Vec<i64> = filter.ids.clone().unwrap_or_default();
        ids.sort_unstable();
        ids.dedup();
        let slices: Vec<Option<Vec<i64>>> = match &filter.ids {
            None => vec![None],
            Some(_) => ids.chunks(PAGE).map(|c| Some(c.to_vec())).collect(),
        };
        for slice in slices {
            let mut after_id = None;
            loop {
                let page = CaseFilter {
                    after_id,
                    before_id: None,
                    newest_first: false,
                    limit: Some(PAGE as u64),
                    ids: slice.clone(),
                    readable: readable.clone(),
                    ..filter.clone()
                };
                let rows = self.store.list_cases(&page).await?;
                let done = rows.len() < PAGE;
                after_id = rows.last().map(|c| c.id);
                out.extend(rows);
                if done {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The state entries (from the audit trail) of every case `actor` may read, by case
    /// and in order.
    /// With `ids`, of those cases only.
    pub async fn state_entries(
        &self,
        actor: &Actor,
        ids: Option<&[i64]>,
    ) -> Result<Vec<gatehouse_adapters::store::StateEntry>, AppError> {
        Ok(self.store.state_entries(self.readable(actor).as_deref(), ids).await?)
    }

    /// Each workflow's time in each state, as of `now`, over the cases `actor` may read.
    pub async fn state_times(
        &self,
        actor: &Actor,
        now: jiff::Timestamp,
    ) -> Result<Vec<gatehouse_adapters::store::StateTime>, AppError> {
        Ok(self.store.state_times(self.readable(actor).as_deref(), now).await?)
    }

    /// The cases `actor` may read that have been in one of `states` ((workflow, state)).
    pub async fn cases_that_entered(&self, actor: &Actor, states: &[(String, String)]) -> Result<Vec<i64>, AppError> {
        Ok(self.store.cases_that_entered(self.readable(actor).as_deref(), states).await?)
    }

    /// A case's audit trail and the first broken link of its chain, if any.
    pub async fn audit_trail(
        &self,
        actor: &Actor,
        case_id: i64,
    ) -> Result<(Vec<gatehouse_adapters::store::entities::event::Model>, Option<BrokenLink>), AppError> {
        let row = self.store.case_row(case_id).await.map_err(not_found)?;
        if !self.may_read(actor, &*self.definition(&row)?) {
            return Err(hidden(case_id));
        }
        let events = self.store.events(case_id).await?;
        let broken = gatehouse_adapters::store::check_chain(case_id, &events);
        Ok((events, broken))
    }

    /// The emails about case `case_id` and where each stands, for whom may read it.
    pub async fn case_messages(
        &self,
        actor: &Actor,
        case_id: i64,
    ) -> Result<Vec<(gatehouse_adapters::store::OutboxMessage, gatehouse_adapters::store::Delivery)>, AppError> {
        let row = self.store.case_row(case_id).await.map_err(not_found)?;
        if !self.may_read(actor, &*self.definition(&row)?) {
            return Err(hidden(case_id));
        }
        Ok(self.store.case_messages(case_id).await?)
    }
}
