//! The raw commit rate: how many single-row inserts, each in its own transaction, a
//! fresh database commits per second. The connection is opened by `Store::connect`, so
//! SQLite runs with the store's settings (WAL, `synchronous=FULL`), checked here.

use crate::rate::Worker;
use crate::support::{Backend, TestDb, fresh_db};
use gatehouse_adapters::store::{Store, StoreConfig};
use sea_orm::sea_query::{Alias, ColumnDef, Query, Table};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};

/// A fresh database with one table to commit rows into.
pub struct RawTable {
    db: TestDb,
    conn: DatabaseConnection,
}

impl RawTable {
    /// The table, in a fresh database.
    pub async fn create(backend: Backend) -> anyhow::Result<RawTable> {
        let db = fresh_db(backend).await;
        let conn = Store::connect(&StoreConfig::new(&db.url)).await?.connection().clone();
        if backend == Backend::Sqlite {
            check_sqlite_durability(&conn).await?;
        }
        let id = ColumnDef::new(Alias::new(ID)).big_integer().not_null().auto_increment().primary_key().to_owned();
        let payload = ColumnDef::new(Alias::new(PAYLOAD)).text().not_null().to_owned();
        conn.execute(&Table::create().table(Alias::new(TABLE)).col(id).col(payload).to_owned()).await?;
        Ok(RawTable { db, conn })
    }

    /// `clients` workers, each committing one row per transaction.
    pub fn committers(&self, clients: usize) -> Vec<Committer> {
        (0..clients).map(|client| Committer { conn: self.conn.clone(), client, rows: 0 }).collect()
    }

    /// Close the connections and drop the database.
    pub async fn remove(self) -> anyhow::Result<()> {
        self.conn.close().await?;
        self.db.drop_database().await;
        Ok(())
    }
}

const TABLE: &str = "raw_commits";
const ID: &str = "id";
const PAYLOAD: &str = "payload";

/// Commits one row per step.
pub struct Committer {
    conn: DatabaseConnection,
    client: usize,
    rows: u64,
}

impl Worker for Committer {
    async fn step(&mut self) -> anyhow::Result<()> {
        self.rows += 1;
        // About the size of an audit event's payload.
        let payload = format!("client {}, row {}: {}", self.client, self.rows, "x".repeat(200));
        let insert = Query::insert()
            .into_table(Alias::new(TABLE))
            .columns([Alias::new(PAYLOAD)])
            .values_panic([payload.into()])
            .to_owned();
        let txn = self.conn.begin().await?;
        txn.execute(&insert).await?;
        txn.commit().await?;
        Ok(())
    }
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
