//! The raw commit rate: how many single-row inserts, each in its own transaction, a
//! fresh database commits per second. The connection is opened by `Store::connect`, so
//! SQLite runs with the store's settings (WAL, `synchronous=FULL`), checked here.

use crate::support::{Backend, fresh_db};
use gatehouse_adapters::store::{Store, StoreConfig};
use sea_orm::sea_query::{Alias, ColumnDef, Query, Table};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};
use std::time::Instant;

/// Commits per second, `commits` in all, shared between `clients` concurrent clients.
pub async fn rate(backend: Backend, clients: usize, commits: usize) -> anyhow::Result<f64> {
    let db = fresh_db(backend).await;
    let store = Store::connect(&StoreConfig::new(&db.url)).await?;
    let conn = store.connection().clone();
    if backend == Backend::Sqlite {
        check_sqlite_durability(&conn).await?;
    }
    create_table(&conn).await?;
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let conn = conn.clone();
            let share = commits / clients;
            tokio::spawn(async move { insert_one_by_one(&conn, client, share).await })
        })
        .collect();
    let mut done = 0;
    for task in tasks {
        done += task.await??;
    }
    let rate = done as f64 / start.elapsed().as_secs_f64();
    drop((conn, store));
    db.drop_database().await;
    Ok(rate)
}

const TABLE: &str = "raw_commits";
const ID: &str = "id";
const PAYLOAD: &str = "payload";

async fn create_table(conn: &DatabaseConnection) -> anyhow::Result<()> {
    let id = ColumnDef::new(Alias::new(ID)).big_integer().not_null().auto_increment().primary_key().to_owned();
    let payload = ColumnDef::new(Alias::new(PAYLOAD)).text().not_null().to_owned();
    conn.execute(&Table::create().table(Alias::new(TABLE)).col(id).col(payload).to_owned()).await?;
    Ok(())
}

/// `n` transactions of one insert each; returns `n`.
async fn insert_one_by_one(conn: &DatabaseConnection, client: usize, n: usize) -> anyhow::Result<usize> {
    for i in 0..n {
        // About the size of an audit event's payload.
        let payload = format!("client {client}, row {i}: {}", "x".repeat(200));
        let insert = Query::insert().into_table(Alias::new(TABLE)).columns([Alias::new(PAYLOAD)]).values_panic([payload.into()]).to_owned();
        let txn = conn.begin().await?;
        txn.execute(&insert).await?;
        txn.commit().await?;
    }
    Ok(n)
}

/// The figure means something only if every commit reaches the disk.
async fn check_sqlite_durability(conn: &DatabaseConnection) -> anyhow::Result<()> {
    let journal = pragma(conn, "journal_mode").await?;
    // 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
    let synchronous = pragma(conn, "synchronous").await?;
    anyhow::ensure!(
        journal == "wal" && synchronous == "2",
        "SQLite runs with journal_mode={journal}, synchronous={synchronous}; expected wal and 2 (FULL)"
    );
    Ok(())
}

/// A SQLite setting, as text.
async fn pragma(conn: &DatabaseConnection, name: &str) -> anyhow::Result<String> {
    let statement = Statement::from_string(conn.get_database_backend(), format!("PRAGMA {name}"));
    let row = conn.query_one_raw(statement).await?.ok_or_else(|| anyhow::anyhow!("PRAGMA {name} returned nothing"))?;
    match row.try_get_by_index::<String>(0) {
        Ok(text) => Ok(text),
        Err(_) => Ok(row.try_get_by_index::<i64>(0)?.to_string()),
    }
}
