//! The write path's option "one writer thread that owns a SQLite connection", measured
//! against the driver the store uses (sqlx, through SeaORM), on the same disk and
//! settings (WAL, `synchronous=FULL`), with the same shape of work as a decision: read
//! the case, then `BEGIN IMMEDIATE`, the compare-and-set update, four inserted rows (its
//! audit events and timers) and `COMMIT`.
//!
//! - `sqlx`: as the store does it today. Every statement is a visit to sqlx's worker
//!   thread for the connection: the read, `BEGIN`, the update, the rows (one batch) and
//!   `COMMIT`, five visits.
//! - `writer`: a thread of its own owns a rusqlite connection; a decision is handed to
//!   it once and runs whole there (statements prepared once and kept), and the answer
//!   comes back once. With several clients, it commits every decision queued by then in
//!   one transaction, as the store's group commit does.
//! - `raw`: a single-row insert, its own transaction, on the writer thread: the disk's
//!   commit, for the ratio.
//!
//! Each runs CLIENTS tasks for SECONDS, in turn, ROUNDS times (the machine drifts: the
//! ratio within a round is the figure). Prints `name clients ops_per_second mean_us`.
//!
//! Usage: writer_thread DIR CLIENTS SECONDS ROUNDS

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sea_orm::sqlx::{self, Row};

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS cases (id INTEGER PRIMARY KEY, version INTEGER NOT NULL, state TEXT NOT NULL, fields TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL, hash TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS ix_events_case ON events (case_id, seq);
    CREATE TABLE IF NOT EXISTS timers (id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, timer_id TEXT NOT NULL, due_at TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS raw (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
";
const CASES: i64 = 1000;
const PAYLOAD: &str = r#"{"transition":"submit_delegated_decision","from":"engagement","to":"delegated_decision","relied_on":["annual_value","contract_end"]}"#;
const HASH: &str = "9f3f7488c72bbf4c6218a8b7d86c7a84cd1eebef171c4e4969ba9ceb175feb77";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, clients, seconds, rounds] = args.as_slice() else {
        anyhow::bail!("usage: writer_thread DIR CLIENTS SECONDS ROUNDS")
    };
    let (dir, clients, seconds, rounds) =
        (PathBuf::from(dir), clients.parse::<usize>()?, seconds.parse::<u64>()?, rounds.parse::<usize>()?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    for round in 0..rounds {
        for name in ["sqlx", "writer", "raw"] {
            let file = dir.join(format!("{name}-{round}.db"));
            let (ops, elapsed) = runtime.block_on(run(name, &file, clients, Duration::from_secs(seconds)))?;
            let rate = ops as f64 / elapsed.as_secs_f64();
            let mean_us = elapsed.as_secs_f64() * 1e6 * clients as f64 / ops.max(1) as f64;
            println!("{name} {clients} {rate:.0} {mean_us:.0}");
        }
    }
    Ok(())
}

/// Run `name` from `clients` tasks for `time`: how many operations, in how long.
async fn run(name: &str, file: &Path, clients: usize, time: Duration) -> anyhow::Result<(u64, Duration)> {
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + time;
    match name {
        "sqlx" => {
            let options = SqliteConnectOptions::new()
                .filename(file)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full);
            let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
            sqlx::raw_sql(SCHEMA).execute(&pool).await?;
            seed_sqlx(&pool).await?;
            // One writer at a time, as the store's turn does; reads from the pool.
            let turn = Arc::new(tokio::sync::Mutex::new(()));
            let started = Instant::now();
            let tasks: Vec<_> = (0..clients)
                .map(|client| {
                    let (pool, done, turn) = (pool.clone(), done.clone(), turn.clone());
                    tokio::spawn(async move {
                        let mut n = client as i64;
                        while Instant::now() < until {
                            let id = n % CASES + 1;
                            n += clients as i64;
                            let row = sqlx::query("SELECT version, fields FROM cases WHERE id = ?1")
                                .bind(id)
                                .fetch_one(&pool)
                                .await?;
                            let version: i64 = row.get(0);
                            let _turn = turn.lock().await;
                            let mut c = pool.acquire().await?;
                            sqlx::query("BEGIN IMMEDIATE").execute(&mut *c).await?;
                            let updated =
                                sqlx::query("UPDATE cases SET version = ?1, state = ?2 WHERE id = ?3 AND version = ?4")
                                    .bind(version + 1)
                                    .bind("delegated_decision")
                                    .bind(id)
                                    .bind(version)
                                    .execute(&mut *c)
                                    .await?;
                            anyhow::ensure!(updated.rows_affected() == 1, "lost a compare-and-set");
                            let rows = format!(
                                "INSERT INTO events (case_id, seq, kind, payload, hash) VALUES ({id}, {v}, 'transitioned', '{PAYLOAD}', '{HASH}');
                                 INSERT INTO events (case_id, seq, kind, payload, hash) VALUES ({id}, {v}, 'timer_stopped', '{PAYLOAD}', '{HASH}');
                                 INSERT INTO timers (case_id, timer_id, due_at) VALUES ({id}, 'decision_reminder', '2027-01-01T09:00:00Z');
                                 INSERT INTO timers (case_id, timer_id, due_at) VALUES ({id}, 'decision_escalation', '2027-02-01T09:00:00Z');",
                                v = version + 1
                            );
                            // Numbers and constants of this file only: nothing from outside.
                            sqlx::raw_sql(sqlx::AssertSqlSafe(rows)).execute(&mut *c).await?;
                            sqlx::query("COMMIT").execute(&mut *c).await?;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        anyhow::Ok(())
                    })
                })
                .collect();
            for task in tasks {
                task.await??;
            }
            pool.close().await;
            Ok((done.load(Ordering::Relaxed), started.elapsed()))
        }
        "writer" | "raw" => {
            let writer = Writer::start(file)?;
            let raw = name == "raw";
            let started_at = Instant::now();
            let tasks: Vec<_> = (0..clients)
                .map(|client| {
                    let (writer, done) = (writer.clone(), done.clone());
                    tokio::spawn(async move {
                        let mut n = client as i64;
                        while Instant::now() < until {
                            let id = n % CASES + 1;
                            n += clients as i64;
                            writer.decide(id, raw).await?;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        anyhow::Ok(())
                    })
                })
                .collect();
            for task in tasks {
                task.await??;
            }
            Ok((done.load(Ordering::Relaxed), started_at.elapsed()))
        }
        _ => anyhow::bail!("unknown run {name}"),
    }
}

async fn seed_sqlx(pool: &sqlx::SqlitePool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    for id in 1..=CASES {
        sqlx::query("INSERT OR IGNORE INTO cases (id, version, state, fields) VALUES (?1, 1, 'engagement', ?2)")
            .bind(id)
            .bind(PAYLOAD)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A decision for the writer thread, and where to answer.
struct Job {
    id: i64,
    raw: bool,
    answer: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// The thread that owns the connection.
#[derive(Clone)]
struct Writer {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl Writer {
    fn start(file: &Path) -> anyhow::Result<Writer> {
        let c = rusqlite::Connection::open(file)?;
        c.pragma_update(None, "journal_mode", "WAL")?;
        c.pragma_update(None, "synchronous", "FULL")?;
        c.execute_batch(SCHEMA)?;
        c.execute_batch("BEGIN")?;
        for id in 1..=CASES {
            c.execute(
                "INSERT OR IGNORE INTO cases (id, version, state, fields) VALUES (?1, 1, 'engagement', ?2)",
                rusqlite::params![id, PAYLOAD],
            )?;
        }
        c.execute_batch("COMMIT")?;
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        std::thread::spawn(move || {
            while let Ok(first) = queue.recv() {
                // Every decision queued by now goes in one transaction, one fsync.
                let mut group = vec![first];
                while let Ok(more) = queue.try_recv() {
                    group.push(more);
                }
                let outcome = apply(&c, &group).map_err(|e| e.to_string());
                for job in group {
                    let _ = job.answer.send(outcome.clone());
                }
            }
        });
        Ok(Writer { jobs })
    }

    async fn decide(&self, id: i64, raw: bool) -> anyhow::Result<()> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.jobs.send(Job { id, raw, answer }).map_err(|_| anyhow::anyhow!("the writer stopped"))?;
        answered.await?.map_err(|e| anyhow::anyhow!(e))
    }
}

/// One transaction for `group`: each decision reads its case, compares and sets, and
/// writes its rows; the statements are prepared once per connection and kept.
fn apply(c: &rusqlite::Connection, group: &[Job]) -> rusqlite::Result<()> {
    c.execute_batch("BEGIN IMMEDIATE")?;
    for job in group {
        if job.raw {
            c.prepare_cached("INSERT INTO raw (n) VALUES (?1)")?.execute([job.id])?;
            continue;
        }
        let version: i64 =
            c.prepare_cached("SELECT version FROM cases WHERE id = ?1")?.query_row([job.id], |r| r.get(0))?;
        let updated = c
            .prepare_cached("UPDATE cases SET version = ?1, state = ?2 WHERE id = ?3 AND version = ?4")?
            .execute(rusqlite::params![version + 1, "delegated_decision", job.id, version])?;
        if updated != 1 {
            continue;
        }
        let mut event =
            c.prepare_cached("INSERT INTO events (case_id, seq, kind, payload, hash) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        event.execute(rusqlite::params![job.id, version + 1, "transitioned", PAYLOAD, HASH])?;
        event.execute(rusqlite::params![job.id, version + 1, "timer_stopped", PAYLOAD, HASH])?;
        let mut timer = c.prepare_cached("INSERT INTO timers (case_id, timer_id, due_at) VALUES (?1, ?2, ?3)")?;
        timer.execute(rusqlite::params![job.id, "decision_reminder", "2027-01-01T09:00:00Z"])?;
        timer.execute(rusqlite::params![job.id, "decision_escalation", "2027-02-01T09:00:00Z"])?;
    }
    c.execute_batch("COMMIT")
}
