//! The published workflow versions the app holds: the latest of each, the version a case
//! is pinned to, what changed between two, and reading them again when another node
//! published one.

use super::{App, AppError};
use gatehouse_adapters::store::{CaseRow, StoreError};
use gatehouse_engine::Definition;
use gatehouse_engine::snapshot::Actor;
use std::sync::Arc;

impl App {
    /// Read the published versions again when another node (or `gatehouse workflows
    /// publish`) published one since they were last read: new cases then open on it at
    /// once, without a restart. Returns the versions now loaded that were not before.
    pub async fn refresh_definitions(&self) -> Result<Vec<(String, u32)>, AppError> {
        use std::sync::atomic::Ordering;
        let count = self.store.published_count().await?;
        if count == self.published.load(Ordering::Acquire) {
            return Ok(Vec::new());
        }
        let (fresh, problems) = self.store.definitions(&self.library).await?;
        for p in problems {
            tracing::warn!("{p}");
        }
        let mut definitions = self.definitions.write().expect("definitions lock");
        let added: Vec<(String, u32)> = fresh
            .all()
            .filter(|d| definitions.get(&d.id, d.version).is_none())
            .map(|d| (d.id.clone(), d.version))
            .collect();
        *definitions = fresh;
        self.published.store(count, Ordering::Release);
        Ok(added)
    }

    /// The latest version of every workflow.
    pub fn workflows(&self) -> Vec<Arc<Definition>> {
        self.definitions.read().expect("definitions lock").all_latest()
    }

    /// The latest version of one workflow.
    pub fn workflow(&self, id: &str) -> Result<Arc<Definition>, AppError> {
        self.definitions
            .read()
            .expect("definitions lock")
            .latest(id)
            .ok_or_else(|| AppError::NotFound(format!("unknown workflow `{id}`")))
    }

    /// What changed in workflow `id` from version `from` to version `to`, in words; each
    /// must be a published version.
    pub fn changes(&self, id: &str, from: u32, to: u32) -> Result<Vec<String>, AppError> {
        let definitions = self.definitions.read().expect("definitions lock");
        let version = |v: u32| {
            definitions
                .get(id, v)
                .ok_or_else(|| AppError::NotFound(format!("workflow `{id}` has no published version {v}")))
        };
        let (before, after) = (version(from)?, version(to)?);
        Ok(gatehouse_engine::changes::changes(&before, &after))
    }

    /// The definition a case row is pinned to.
    pub fn definition(&self, row: &CaseRow) -> Result<Arc<Definition>, AppError> {
        self.definitions
            .read()
            .expect("definitions lock")
            .get(&row.workflow_id, row.workflow_version as u32)
            .ok_or_else(|| {
                AppError::Internal(StoreError::Corrupt(format!(
                    "case {} is on {} v{}, which is not loaded",
                    row.id, row.workflow_id, row.workflow_version
                )))
            })
    }

    /// Every workflow version loaded whose cases `actor` may read.
    pub fn readable_definitions(&self, actor: &Actor) -> Vec<Arc<Definition>> {
        let definitions = self.definitions.read().expect("definitions lock");
        definitions.all().filter(|d| self.may_read(actor, d)).cloned().collect()
    }

    /// The published versions of workflow `id`, oldest first.
    pub async fn published_versions(
        &self,
        id: &str,
    ) -> Result<Vec<gatehouse_adapters::store::PublishedVersion>, AppError> {
        Ok(self.store.published_versions(id).await?)
    }
}
