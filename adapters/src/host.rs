//! What the workers (the scheduler and the outbox dispatcher) need from the
//! application: the time, the definitions and cases, the templates, and firing a timer
//! through the engine. The application crate implements [`Host`]; adapters cannot call
//! it directly, since the application depends on adapters and not the other way round.

use gatehouse_engine::Definition;
use gatehouse_engine::snapshot::CaseSnapshot;
use gatehouse_engine::templates::TemplateSource;
use std::future::Future;
use std::sync::Arc;

/// Why the application could not do what a worker asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The case, workflow or timer no longer exists: do not try again.
    #[error("not found: {0}")]
    NotFound(String),
    /// The engine refused (the timer is not armed or not due, say): do not try again now.
    #[error("refused: {0}")]
    Refused(String),
    /// Something failed that may pass (the database, a lost race): try again later.
    #[error("{0}")]
    Failed(String),
}

/// The application, as the workers see it.
pub trait Host: Send + Sync + 'static {
    /// Now (a fixed clock in tests).
    fn now(&self) -> jiff::Timestamp;

    /// Fire a due timer: load the case, ask the engine what firing means, apply the
    /// decision in one transaction.
    fn fire_timer(&self, case_id: i64, timer: &str) -> impl Future<Output = Result<(), HostError>> + Send;

    /// Fire several due timers, given as (case, timer): one answer each, in order. Each
    /// is decided on its own; an application may commit the decisions together. By
    /// default, one [`Host::fire_timer`] after another.
    fn fire_timers(&self, timers: &[(i64, String)]) -> impl Future<Output = Vec<Result<(), HostError>>> + Send {
        async move {
            let mut answers = Vec::with_capacity(timers.len());
            for (case_id, timer) in timers {
                answers.push(self.fire_timer(*case_id, timer).await);
            }
            answers
        }
    }

    /// A case and the definition it is pinned to.
    fn case(&self, case_id: i64) -> impl Future<Output = Result<(Arc<Definition>, CaseSnapshot), HostError>> + Send;

    /// The latest version of a workflow.
    fn workflow(&self, id: &str) -> Option<Arc<Definition>>;

    /// The latest version of every workflow (for their schedules).
    fn workflows(&self) -> Vec<Arc<Definition>>;

    /// An email template by name.
    fn template(&self, name: &str) -> Option<TemplateSource>;
}

/// A worker step failed in a way the loop around it can only log and wait out.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl From<sea_orm::DbErr> for WorkerError {
    fn from(e: sea_orm::DbErr) -> Self {
        WorkerError::Store(e.into())
    }
}
