//! The raw commit rate of the disk under the HTTP lifecycle benchmark (`cargo xtask
//! bench --only http`): single-row inserts into a table of its own, each its own
//! committed transaction, through the same SQLite connection settings as the store (WAL,
//! `synchronous=FULL`), from CLIENTS tasks for SECONDS. Prints `commits_per_second N`.
//!
//! Usage: raw_commits DATABASE_URL CLIENTS SECONDS

use gatehouse_adapters::store::{Store, StoreConfig};
use sea_orm::{ConnectionTrait, Statement};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, clients, seconds] = args.as_slice() else {
        anyhow::bail!("usage: raw_commits DATABASE_URL CLIENTS SECONDS")
    };
    let (clients, seconds): (usize, u64) = (clients.parse()?, seconds.parse()?);
    let store = Store::connect(&StoreConfig::new(url.as_str())).await?;
    let db = store.connection().clone();
    db.execute_unprepared("CREATE TABLE IF NOT EXISTS raw_commits (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        .await?;
    let commits = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (db, commits) = (db.clone(), commits.clone());
            tokio::spawn(async move {
                let sql = "INSERT INTO raw_commits (n) VALUES ($1)";
                while Instant::now() < until {
                    let n = commits.load(Ordering::Relaxed) as i64;
                    db.execute_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, [n.into()])).await?;
                    commits.fetch_add(1, Ordering::Relaxed);
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let rate = commits.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!("commits_per_second {rate:.0}");
    Ok(())
}
