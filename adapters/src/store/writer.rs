//! SQLite's decisions written by one thread that owns a connection of its own.
//!
//! sqlx runs each SQLite connection on a worker thread and hands it every statement over
//! a channel: a decision visits it for `BEGIN`, the compare-and-set, its rows and
//! `COMMIT`, two thread switches each. Here a whole group of decisions (`group.rs`) is
//! handed over once, runs on this thread against a rusqlite connection whose statements
//! are prepared once and kept, and its answer comes back once. Measured on its own
//! (`examples/writer_thread.rs`), that is 2.2 to 2.5 times the decisions per second with
//! one client, and the group commit keeps its gain with several.
//!
//! Every guarantee stays: the group is one `BEGIN IMMEDIATE` transaction, each decision
//! with its own compare-and-set; `COMMIT` returns once SQLite has fsynced (WAL,
//! `synchronous=FULL`, as every connection of the store); the writer still takes this
//! process's turn to write ([`Store::write_turn`], held by the caller while the group is
//! written), so it never contends with the store's other writers for SQLite's lock. The
//! values bound are encoded as sqlx encodes them, so what one driver writes the other
//! reads back the same.

use super::StoreError;
use super::documents::QueuedDocument;
use gatehouse_engine::snapshot::CaseSnapshot;
use sea_orm::Statement;
use std::path::PathBuf;
use tokio::sync::oneshot;

/// A decision as the writer thread runs it: its compare-and-set, its rows, its document.
pub(super) struct SyncPlan {
    pub(super) cas: Statement,
    pub(super) rows: Vec<Statement>,
    pub(super) document: Option<QueuedDocument>,
    pub(super) after: CaseSnapshot,
}

/// Why a group wrote nothing.
pub(super) enum Failed {
    /// A statement failed (or `BEGIN` did): it may be one decision's doing.
    Statement(StoreError),
    /// Every statement ran, and `COMMIT` failed.
    Commit(StoreError),
}

struct Job {
    plans: Vec<SyncPlan>,
    answer: oneshot::Sender<Result<Vec<Option<CaseSnapshot>>, Failed>>,
}

/// The thread, and how to reach it.
#[derive(Debug)]
pub(super) struct Writer {
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
}

impl Writer {
    /// Open `file` (as the store's connections are opened) on a thread of its own.
    pub(super) fn start(file: PathBuf) -> Result<Writer, StoreError> {
        let connection = open(&file).map_err(sqlite)?;
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("gatehouse-sqlite-writer".into())
            .spawn(move || {
                while let Ok(job) = queue.recv() {
                    let outcome = in_one_transaction(&connection, &job.plans);
                    let _ = job.answer.send(outcome);
                }
            })
            .map_err(StoreError::Io)?;
        Ok(Writer { jobs: std::sync::Mutex::new(jobs) })
    }

    /// Apply `plans` in order in one transaction and commit it: each decision's case as
    /// it leaves it, or `None` where its case had moved on. An error applies none.
    pub(super) async fn write(&self, plans: Vec<SyncPlan>) -> Result<Vec<Option<CaseSnapshot>>, Failed> {
        let (answer, answered) = oneshot::channel();
        let sent = self.jobs.lock().unwrap_or_else(|p| p.into_inner()).send(Job { plans, answer });
        if sent.is_err() {
            return Err(Failed::Statement(stopped()));
        }
        answered.await.unwrap_or_else(|_| Err(Failed::Statement(stopped())))
    }
}

fn stopped() -> StoreError {
    StoreError::Db(sea_orm::DbErr::Custom("the database writer stopped before answering; read the case again".into()))
}

/// A rusqlite error as the store reports it: out of space, unavailable (busy, I/O), or
/// anything else, as [`StoreError::Sqlite`].
fn sqlite(e: rusqlite::Error) -> StoreError {
    StoreError::Sqlite(e)
}

fn open(file: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open(file)?;
    c.busy_timeout(std::time::Duration::from_secs(30))?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "FULL")?;
    c.pragma_update(None, "foreign_keys", "ON")?;
    c.pragma_update(None, "cache_size", "-1024")?;
    c.set_prepared_statement_cache_capacity(64);
    Ok(c)
}

fn in_one_transaction(c: &rusqlite::Connection, plans: &[SyncPlan]) -> Result<Vec<Option<CaseSnapshot>>, Failed> {
    c.execute_batch("BEGIN IMMEDIATE").map_err(|e| Failed::Statement(sqlite(e)))?;
    let applied: Result<Vec<_>, StoreError> = plans.iter().map(|plan| apply(c, plan)).collect();
    match applied {
        Ok(applied) => match c.execute_batch("COMMIT") {
            Ok(()) => Ok(applied),
            Err(e) => {
                let _ = c.execute_batch("ROLLBACK");
                Err(Failed::Commit(sqlite(e)))
            }
        },
        Err(e) => {
            let _ = c.execute_batch("ROLLBACK");
            Err(Failed::Statement(e))
        }
    }
}

/// One decision: the compare-and-set, then (when it matched) its rows and document.
fn apply(c: &rusqlite::Connection, plan: &SyncPlan) -> Result<Option<CaseSnapshot>, StoreError> {
    if execute(c, &plan.cas)? != 1 {
        return Ok(None);
    }
    for statement in &plan.rows {
        execute(c, statement)?;
    }
    if let Some(document) = &plan.document {
        document.write_sync(c)?;
    }
    Ok(Some(plan.after.clone()))
}

/// Run `statement`, its values bound by number (`$1`, `?1`) or in order (`?`). Returns
/// the rows it changed.
pub(super) fn execute(c: &rusqlite::Connection, statement: &Statement) -> Result<usize, StoreError> {
    let mut prepared = c.prepare_cached(&statement.sql).map_err(sqlite)?;
    let values = statement.values.as_ref().map(|v| v.0.as_slice()).unwrap_or_default();
    for i in 1..=prepared.parameter_count() {
        let at = match prepared.parameter_name(i) {
            Some(name) => name.get(1..).and_then(|n| n.parse::<usize>().ok()).unwrap_or(i),
            None => i,
        };
        let value = values.get(at - 1).ok_or_else(|| {
            StoreError::Corrupt(format!("a statement has a parameter {at} but {} values", values.len()))
        })?;
        prepared.raw_bind_parameter(i, bound(value)?).map_err(sqlite)?;
    }
    prepared.raw_execute().map_err(sqlite)
}

/// `value` as sqlx binds it for SQLite: integers, reals, text (dates and times in the
/// formats sqlx writes, JSON as its text), blobs, NULL.
fn bound(value: &sea_orm::Value) -> Result<rusqlite::types::Value, StoreError> {
    use rusqlite::types::Value as R;
    use sea_orm::Value as V;
    fn int(v: Option<i64>) -> R {
        v.map_or(R::Null, R::Integer)
    }
    fn text(v: Option<String>) -> R {
        v.map_or(R::Null, R::Text)
    }
    use chrono::SecondsFormat::AutoSi;
    Ok(match value {
        V::Bool(b) => int(b.map(i64::from)),
        V::TinyInt(x) => int(x.map(i64::from)),
        V::SmallInt(x) => int(x.map(i64::from)),
        V::Int(x) => int(x.map(i64::from)),
        V::BigInt(x) => int(*x),
        V::TinyUnsigned(x) => int(x.map(i64::from)),
        V::SmallUnsigned(x) => int(x.map(i64::from)),
        V::Unsigned(x) => int(x.map(i64::from)),
        V::BigUnsigned(x) => match x {
            Some(x) => R::Integer(i64::try_from(*x).map_err(|_| StoreError::Corrupt("an integer too large".into()))?),
            None => R::Null,
        },
        V::Float(x) => x.map_or(R::Null, |x| R::Real(f64::from(x))),
        V::Double(x) => x.map_or(R::Null, R::Real),
        V::String(s) => text(s.clone()),
        V::Char(c) => text(c.map(String::from)),
        V::Bytes(b) => b.clone().map_or(R::Null, R::Blob),
        V::Json(j) => text(j.as_ref().map(|j| j.to_string())),
        V::ChronoDate(d) => text(d.map(|d| d.format("%F").to_string())),
        V::ChronoTime(t) => text(t.map(|t| t.format("%T%.f").to_string())),
        V::ChronoDateTime(t) => text(t.map(|t| t.format("%F %T%.f").to_string())),
        V::ChronoDateTimeUtc(t) => text(t.map(|t| t.to_rfc3339_opts(AutoSi, false))),
        V::ChronoDateTimeLocal(t) => text(t.map(|t| t.to_rfc3339_opts(AutoSi, false))),
        V::ChronoDateTimeWithTimeZone(t) => text(t.map(|t| t.to_rfc3339_opts(AutoSi, false))),
        other => return Err(StoreError::Corrupt(format!("the SQLite writer cannot bind {other:?}"))),
    })
}
