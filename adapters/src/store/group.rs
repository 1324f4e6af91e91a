//! Group commit on SQLite: decisions that arrive while another writer holds the turn
//! are committed together, in one transaction, by the next writer to get it.
//!
//! SQLite has one writer at a time, and this process's writers take turns for it
//! ([`Store::begin_write`]). A decision's turn is a handful of calls to the connection's
//! thread and a commit, which waits for `fsync`; with several requests at once, each
//! waited for every other's turn in full. Now a decision joins a queue and waits for the
//! turn; whoever gets it takes every decision queued by then and applies them one after
//! another in ONE transaction, each with its own compare-and-set, then commits once:
//! one `fsync` for all of them. The others find their answer ready and do not write.
//!
//! Each decision is still all or nothing: a decision whose case moved on writes nothing
//! and gets its conflict while the others are applied. An error in a statement rolls
//! the whole group back; the decisions are then applied again each in a transaction of
//! its own, so that the error reaches only the decision that caused it. A commit that
//! fails (a full disk, an I/O error) is no decision's doing: every decision of the group
//! gets the error, and none is answered as done, since none is.
//!
//! On a SQLite file the group is written by the store's writer thread (`writer.rs`),
//! which owns a connection of its own and runs the whole transaction in one visit; the
//! turn is held while it does. (An in-memory database has no file a second connection
//! could open: its groups go through the pool.)
//!
//! The group is written by a task of its own, which the caller waits for: a caller that
//! goes away (a client that hung up) must not stop a transaction carrying the decisions
//! of others. A caller that goes away while its decision still waits in the queue takes
//! it with it: the next writer leaves it out.

use super::cases::PreparedWrite;
use super::writer::Failed;
use super::{Store, StoreError};
use gatehouse_engine::snapshot::CaseSnapshot;
use sea_orm::{DatabaseConnection, DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait};
use std::sync::Mutex;
use tokio::sync::oneshot;

/// Decisions waiting for the next writer's turn.
#[derive(Default)]
pub(super) struct Queue {
    waiting: Mutex<Vec<Queued>>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

/// A decision, and where to send what became of it: the case after it, or `None` when
/// the case had moved on and nothing was written.
struct Queued {
    plan: PreparedWrite,
    answer: oneshot::Sender<Result<Option<CaseSnapshot>, StoreError>>,
}

impl Queue {
    fn push(&self, queued: Queued) {
        self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(queued);
    }

    /// Every decision queued, but those whose caller has gone away while it waited (a
    /// client that hung up): nobody will hear of it, and applying it later, when some
    /// other write came, would record as done what its author saw fail. Dropped here,
    /// it is as if the caller had gone before it was queued.
    fn take(&self) -> Vec<Queued> {
        let mut waiting = std::mem::take(&mut *self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        waiting.retain(|queued| !queued.answer.is_closed());
        waiting
    }
}

impl Store {
    /// SQLite: apply `plan` in the next group to be committed (see the module's doc).
    pub(super) async fn apply_in_group(&self, plan: PreparedWrite) -> Result<Option<CaseSnapshot>, StoreError> {
        let (answer, mut answered) = oneshot::channel();
        self.queue.push(Queued { plan, answer });
        tokio::select! {
            biased;
            // Another writer took it with its group.
            done = &mut answered => return done.unwrap_or_else(|_| Err(stopped())),
            turn = self.writers.clone().lock_owned() => {
                // Empty when a writer before took this decision: its answer is sent.
                let group = self.queue.take();
                if !group.is_empty() {
                    let (db, writer) = (self.db.clone(), self.writer.clone());
                    tokio::spawn(async move {
                        match &writer {
                            Some(writer) => write(Via::Thread(writer), group).await,
                            None => write(Via::Pool(&db), group).await,
                        }
                        drop(turn);
                    });
                }
            }
        }
        answered.await.unwrap_or_else(|_| Err(stopped()))
    }
}

/// Where a group is written: SQLite's writer thread (`writer.rs`), or the pool (an
/// in-memory database, which no second connection could open).
enum Via<'a> {
    Thread(&'a super::writer::Writer),
    Pool(&'a DatabaseConnection),
}

impl Via<'_> {
    /// Apply `plans` in order in one transaction and commit it.
    async fn apply(&self, plans: &[&PreparedWrite]) -> Result<Vec<Option<CaseSnapshot>>, Failed> {
        match self {
            Via::Thread(writer) => writer.write(plans.iter().map(|p| p.sync_plan()).collect()).await,
            Via::Pool(db) => in_one_transaction(db, plans.iter().copied()).await,
        }
    }
}

/// Write `group` and send each decision its answer.
async fn write(via: Via<'_>, group: Vec<Queued>) {
    if group.len() > 1 {
        let plans: Vec<&PreparedWrite> = group.iter().map(|q| &q.plan).collect();
        match via.apply(&plans).await {
            Ok(applied) => {
                for (queued, applied) in group.into_iter().zip(applied) {
                    let _ = queued.answer.send(Ok(applied));
                }
                return;
            }
            Err(Failed::Commit(e)) => {
                tracing::error!(error = %e, decisions = group.len(), "a group commit failed; none of its decisions was applied");
                for queued in group {
                    let _ = queued.answer.send(Err(like(&e)));
                }
                return;
            }
            Err(Failed::Statement(e)) => {
                tracing::warn!(error = %e, decisions = group.len(), "a group commit failed; applying its decisions one at a time")
            }
        }
    }
    for queued in group {
        let answer = match via.apply(&[&queued.plan]).await {
            Ok(mut applied) => Ok(applied.pop().flatten()),
            Err(Failed::Statement(e) | Failed::Commit(e)) => Err(e),
        };
        let _ = queued.answer.send(answer);
    }
}

/// An error like `e`, a commit's, for each decision of its group: the same words, and
/// classed the same (out of space, unavailable).
fn like(e: &StoreError) -> StoreError {
    use rusqlite::ffi;
    match e {
        StoreError::Db(e) => StoreError::Db(e.clone()),
        other => {
            let code = if other.is_out_of_space() {
                ffi::SQLITE_FULL
            } else if other.is_unavailable() {
                ffi::SQLITE_IOERR
            } else {
                ffi::SQLITE_ERROR
            };
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(ffi::Error::new(code), Some(other.to_string())))
        }
    }
}

/// Apply `plans` in order in one `BEGIN IMMEDIATE` transaction and commit it. An error
/// rolls back all of them (the transaction is dropped uncommitted).
async fn in_one_transaction<'p>(
    db: &DatabaseConnection,
    plans: impl Iterator<Item = &'p PreparedWrite>,
) -> Result<Vec<Option<CaseSnapshot>>, Failed> {
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    let txn = db.begin_with_options(options).await.map_err(|e| Failed::Statement(e.into()))?;
    let mut applied = Vec::new();
    for plan in plans {
        applied.push(plan.run_each(&txn).await.map_err(Failed::Statement)?);
    }
    txn.commit().await.map_err(|e| Failed::Commit(e.into()))?;
    Ok(applied)
}

/// The writing task ended without an answer (it panicked, or the runtime is shutting
/// down). Whether the decision was applied is unknown to this caller; the case, when
/// read again, tells.
fn stopped() -> StoreError {
    StoreError::Db(DbErr::Custom("the database writer stopped before answering; read the case again".into()))
}
