//! Why a service call did not do what was asked, from the engine's refusals and the
//! store's errors.

use gatehouse_adapters::store::StoreError;
use gatehouse_engine::decide::{Problem, Refusal};
use gatehouse_engine::gates::Unmet;
use gatehouse_engine::ids::TransitionId;

/// Why a service call did not do what was asked, grouped by what the caller must do.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input is wrong.
    #[error("invalid input: {}", problems_text(.0))]
    Invalid(Vec<Problem>),
    /// No such case, workflow, transition...
    #[error("{0}")]
    NotFound(String),
    /// The actor may not do this.
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// Not possible in the case's current situation.
    #[error("not available: {0}")]
    NotAvailable(String),
    /// The transition's gates do not hold.
    #[error("`{transition}` is blocked: {}", unmet_text(.unmet))]
    Blocked {
        /// The transition.
        transition: TransitionId,
        /// Every unmet gate.
        unmet: Vec<Unmet>,
    },
    /// The case changed since the requester saw it.
    #[error("the case changed: you saw version {expected}, it is now at version {actual}")]
    Conflict {
        /// The version the requester saw.
        expected: i64,
        /// The current version.
        actual: i64,
    },
    /// What it would change was changed by someone else since it was read (a draft
    /// saved by another member): nothing was written.
    #[error("{0}")]
    Edited(String),
    /// Something broke on our side.
    #[error(transparent)]
    Internal(#[from] StoreError),
}

fn problems_text(p: &[Problem]) -> String {
    Problem::joined(p)
}

fn unmet_text(u: &[Unmet]) -> String {
    u.iter().map(|u| format!("{}: {}", u.gate, u.message)).collect::<Vec<_>>().join("; ")
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Invalid(p) => AppError::Invalid(p),
            Refusal::NotFound { what, id, hint } => AppError::NotFound(format!(
                "unknown {what} `{id}`{}",
                hint.map(|h| format!(" ({h})")).unwrap_or_default()
            )),
            Refusal::NotAllowed(m) => AppError::NotAllowed(m),
            Refusal::NotAvailable(m) => AppError::NotAvailable(m),
            Refusal::Blocked { transition, unmet } => AppError::Blocked { transition, unmet },
            Refusal::Conflict { expected, actual } => AppError::Conflict { expected, actual },
        }
    }
}
