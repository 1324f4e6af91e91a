//! The store: cases, their evidence, approvals, audit trail, timers and outbox, in
//! SQLite (the embedded default) or PostgreSQL, through sea-orm. Every engine decision
//! is applied in ONE transaction, with a compare-and-set on the case version.

mod audit;
mod cases;
pub mod codec;
mod definitions;
pub mod documents;
pub mod drafts;
pub mod entities;
pub mod files;
mod group;
mod lease;
mod load;
pub mod objects;
mod outbox;
mod register;
mod reports;
mod schedules;
pub mod sessions;
pub mod sign_in;
pub mod stays;
mod timers;
pub mod tokens;
pub mod users;
mod writer;
mod writes;

pub use audit::{AuditHead, BrokenLink, chain_hash, check_chain};
pub use cases::{CaseFilter, CaseRow};
pub use definitions::{Definitions, Published};
pub use files::FileStore;
pub use load::LoadedCase;
pub use outbox::{Delivery, NewMessage, OutboxMessage};
pub use register::{RegisterFilter, RegisterVersion};
pub use reports::{MessageTrouble, PublishedVersion, StateCount, StateEntry};
pub use stays::StateTime;
pub use timers::{ArmedTimerRow, DueTimer};
pub use users::{User, UserError};

use gatehouse_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};
use std::sync::Arc;
use std::time::Duration;

/// What can go wrong in the store, grouped by what the caller must do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such case (or other row).
    #[error("{0} not found")]
    NotFound(String),
    /// The case changed since it was loaded: reload and try again.
    #[error("the case changed: it was at version {expected} when loaded and is now at version {actual}")]
    Conflict {
        /// The version the decision was made against.
        expected: i64,
        /// The version in the database.
        actual: i64,
    },
    /// A workflow file changed without its version being bumped.
    #[error(
        "{file}: `{workflow}` version {version} is already published with different content{}; bump `version:` to publish the change",
        .by_draft.map(|d| format!(" (published in the product from draft {d})")).unwrap_or_default()
    )]
    VersionNotBumped {
        /// The file.
        file: String,
        /// The workflow id.
        workflow: String,
        /// The version.
        version: u32,
        /// The draft that published that version in the product, when one did.
        by_draft: Option<i64>,
    },
    /// A template or calendar a published version uses changed in the folder without
    /// the version being bumped: the version keeps the words it was published with.
    #[error(
        "{file}: `{workflow}` version {version} was published with other {what}; a changed letter or calendar is a \
         new version: bump `version:` to publish it"
    )]
    LettersNotBumped {
        /// The file.
        file: String,
        /// The workflow id.
        workflow: String,
        /// The version.
        version: u32,
        /// What differs, in words (``words for letter `chase` (templates/chase.txt)``).
        what: String,
    },
    /// A stored row cannot be read back (edited by hand, or a bug).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The database could not be reached at start.
    #[error("cannot open the database at {url}: {reason}")]
    Unreachable {
        /// The URL, without its password.
        url: String,
        /// Why: the error of the connection that was tried. (Not `source`: the message
        /// already says it, and a chain of causes would say it again.)
        reason: String,
    },
    /// Any other database error.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// The file store failed.
    #[error("file store: {0}")]
    Io(#[from] std::io::Error),
    /// The document store named by `--document-store` cannot be used as given.
    #[error("--document-store {url}: {reason}")]
    DocumentStoreSetting {
        /// The setting.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The object store documents are kept in failed: it could not be reached, it
    /// refused the request, or it answered with an error.
    #[error("document store: {0}")]
    Objects(#[from] object_store::Error),
    /// SQLite's writer thread failed (`writer.rs`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl StoreError {
    /// Whether the database cannot do this now, through no fault of the request: it
    /// cannot be reached, the connection was lost (a restarted server), it failed to
    /// read or write its files, or another process held SQLite's lock past the busy
    /// timeout. Nothing was written; worth trying again later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unreachable { .. } => true,
            StoreError::Objects(_) => true,
            StoreError::Sqlite(e) => matches!(sqlite_trouble(e), Some(Trouble::Unavailable)),
            StoreError::Db(e) => matches!(trouble(e), Some(Trouble::Unavailable)),
            _ => false,
        }
    }

    /// Whether the disk under the database or the evidence files is full (or the quota
    /// is used up). Nothing was written.
    pub fn is_out_of_space(&self) -> bool {
        match self {
            StoreError::Db(e) => matches!(trouble(e), Some(Trouble::OutOfSpace)),
            StoreError::Io(e) => files::is_out_of_space(e),
            StoreError::Sqlite(e) => matches!(sqlite_trouble(e), Some(Trouble::OutOfSpace)),
            _ => false,
        }
    }
}

/// What a database error says about the database rather than the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trouble {
    Unavailable,
    OutOfSpace,
}

/// What an error of SQLite's writer thread says about the database.
fn sqlite_trouble(e: &rusqlite::Error) -> Option<Trouble> {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code()? {
        ErrorCode::DiskFull => Some(Trouble::OutOfSpace),
        ErrorCode::DatabaseBusy
        | ErrorCode::DatabaseLocked
        | ErrorCode::ReadOnly
        | ErrorCode::SystemIoFailure
        | ErrorCode::CannotOpen => Some(Trouble::Unavailable),
        _ => None,
    }
}

fn trouble(e: &DbErr) -> Option<Trouble> {
    use sea_orm::RuntimeErr;
    match e {
        DbErr::ConnectionAcquire(_) => Some(Trouble::Unavailable),
        // Whatever stopped a connection from being made or kept.
        DbErr::Conn(RuntimeErr::SqlxError(e)) => Some(sqlx_trouble(e).unwrap_or(Trouble::Unavailable)),
        DbErr::Conn(_) => Some(Trouble::Unavailable),
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => sqlx_trouble(e),
        _ => None,
    }
}

fn sqlx_trouble(e: &sea_orm::sqlx::Error) -> Option<Trouble> {
    use sea_orm::sqlx::Error;
    match e {
        Error::Io(_)
        | Error::Tls(_)
        | Error::Protocol(_)
        | Error::PoolTimedOut
        | Error::PoolClosed
        | Error::WorkerCrashed => Some(Trouble::Unavailable),
        Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>().is_some() {
                // The primary result code is the low byte of the extended one.
                match code.parse::<i32>().map(|c| c & 0xff) {
                    Ok(13) => Some(Trouble::OutOfSpace), // SQLITE_FULL
                    // BUSY, LOCKED, READONLY (the file system went read-only), IOERR, CANTOPEN
                    Ok(5 | 6 | 8 | 10 | 14) => Some(Trouble::Unavailable),
                    _ => None,
                }
            } else {
                // PostgreSQL's SQLSTATE: disk_full; connection exceptions, the server
                // shutting down or starting, insufficient resources.
                match &*code {
                    "53100" => Some(Trouble::OutOfSpace),
                    c if c.starts_with("08") || c.starts_with("57P") || c.starts_with("53") => {
                        Some(Trouble::Unavailable)
                    }
                    _ => None,
                }
            }
        }
        _ => None,
    }
}

/// How long a pooled PostgreSQL connection may sit idle before it is pinged at checkout.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// How long opening the database waits for PostgreSQL to answer, at start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to the database.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// On SQLite, this process's writers take turns here, first come first served,
    /// before they ask SQLite for its write lock (see [`Store::begin_write`]).
    writers: Arc<tokio::sync::Mutex<()>>,
    /// On SQLite, decisions waiting to be committed together by the next writer.
    queue: Arc<group::Queue>,
    /// Where new documents' bytes go: an object store, or (`None`) the database.
    objects: Option<objects::Objects>,
    /// On SQLite (a file), the thread that writes decisions (`writer.rs`).
    writer: Option<Arc<writer::Writer>>,
}

/// A writer's turn: held until its transaction has committed or rolled back.
pub(crate) type WriteTurn = Option<tokio::sync::OwnedMutexGuard<()>>;

/// How to open the database.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `sqlite://gatehouse.db` or `postgres://…`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// Where new documents' bytes are kept: `None` (or `database`) in the database,
    /// `s3://bucket/prefix` in an S3-compatible object store ([`objects`]).
    pub document_store: Option<String>,
    /// Settings for the object store beside those in the environment (`AWS_ENDPOINT`,
    /// …, as the environment names them).
    pub document_store_settings: Vec<(String, String)>,
}

impl StoreConfig {
    /// The defaults for `url`: 16 connections to PostgreSQL; 8 to SQLite, whose one
    /// writer at a time and in-process reads gain nothing from more, while each
    /// connection keeps a page cache of its own.
    pub fn new(url: impl Into<String>) -> StoreConfig {
        let url = url.into();
        let max_connections = if url.starts_with("sqlite:") { 8 } else { 16 };
        StoreConfig { url, max_connections, document_store: None, document_store_settings: Vec::new() }
    }
}

/// The file a `sqlite:` URL names; `None` for another database or an in-memory one.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    use std::str::FromStr as _;
    if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let options = sea_orm::sqlx::sqlite::SqliteConnectOptions::from_str(url).ok()?;
    Some(options.get_filename().to_path_buf())
}

/// `postgres://user:secret@host/db` as `postgres://user:***@host/db`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Connect to PostgreSQL once, waiting [`CONNECT_TIMEOUT`] at most, to report why it
/// cannot be reached. The pool would keep trying until its acquire timeout (30 s) and
/// then say only "pool timed out".
async fn probe_postgres(url: &str) -> Result<(), StoreError> {
    use sea_orm::sqlx::{ConnectOptions as _, Connection as _, postgres::PgConnectOptions};
    let unreachable = |reason: String| StoreError::Unreachable { url: redact(url), reason };
    let options: PgConnectOptions = url.parse().map_err(|e: sea_orm::sqlx::Error| unreachable(e.to_string()))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()))),
    }
}

/// The pool's check on a connection given back: keep it only if it is out of any
/// transaction.
///
/// A transaction dropped unfinished (its commit failed, or a statement in it did) is
/// rolled back on the connection as it is given back. When that rollback fails, the
/// connection still counts itself in a transaction, and must not be used again. That
/// is what a full disk does to SQLite: a `COMMIT` that fails with `SQLITE_FULL` has
/// rolled the transaction back itself, so the `ROLLBACK` after it fails ("no
/// transaction is active") and sqlx's count of open transactions stays at 1. The next
/// user of the connection then began with `SAVEPOINT` instead of `BEGIN IMMEDIATE`
/// and "committed" with `RELEASE`; once one such transaction had failed and been
/// undone with `ROLLBACK TO`, which leaves it open, every later "commit" only released
/// a nested savepoint: writes answered 201 were never committed, the connection held
/// SQLite's write lock (others waited out the busy timeout), and the next failure
/// rolled them all back, their case ids to be handed out again. Closed here, such a
/// connection is replaced by a fresh one.
fn only_if_out_of_transaction<C: sea_orm::sqlx::Connection>(
    connection: &mut C,
) -> std::pin::Pin<Box<dyn Future<Output = Result<bool, sea_orm::sqlx::Error>> + Send + '_>> {
    Box::pin(async move {
        if !connection.is_in_transaction() {
            return Ok(true);
        }
        // The rollback is queued on the connection: the ping comes back after it.
        connection.ping().await?;
        if connection.is_in_transaction() {
            tracing::warn!("closing a database connection whose transaction could not be rolled back");
            return Ok(false);
        }
        Ok(true)
    })
}

impl Store {
    /// Open the database. SQLite is opened in WAL mode with `synchronous=FULL`, a busy
    /// timeout and foreign keys on, and the file is created when missing.
    pub async fn connect(config: &StoreConfig) -> Result<Store, StoreError> {
        let mut url = config.url.clone();
        if url.starts_with("sqlite:") && !url.contains("mode=") && !url.contains(":memory:") {
            url.push_str(if url.contains('?') { "&mode=rwc" } else { "?mode=rwc" });
        }
        let sqlite = url.starts_with("sqlite:");
        let mut opts = ConnectOptions::new(url);
        if sqlite {
            // A connection to a file cannot be dropped by a server, a proxy or a
            // firewall: nothing to test, and sqlx's ping before every checkout is a round
            // trip to the connection's thread.
            opts.test_before_acquire(false);
        } else {
            // A connection in use a moment ago is alive; one idle for longer is pinged
            // before it is handed out (the server may have restarted, a firewall may
            // have dropped it). A ping on every checkout is a round trip per statement.
            opts.test_before_acquire_if_idle_for(IDLE_BEFORE_PING);
        }
        if !sqlite {
            probe_postgres(&config.url).await?;
        }
        // A connection goes back to the pool only if it is out of its transaction; see
        // `only_if_out_of_transaction`.
        opts.map_sqlx_sqlite_pool_opts(|pool| pool.after_release(|c, _| only_if_out_of_transaction(c)));
        opts.map_sqlx_postgres_pool_opts(|pool| pool.after_release(|c, _| only_if_out_of_transaction(c)));
        opts.max_connections(config.max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(30))
                    .foreign_keys(true)
                    // 1 MiB of page cache per connection (SQLite's default is 2 MiB); the
                    // operating system's file cache keeps the rest of the file warm.
                    .pragma("cache_size", "-1024")
            });
        let objects = match config.document_store.as_deref() {
            None | Some("" | "database") => None,
            Some(url) => Some(objects::Objects::open(url, &config.document_store_settings)?),
        };
        let db = Database::connect(opts)
            .await
            .map_err(|e| StoreError::Unreachable { url: redact(&config.url), reason: e.to_string() })?;
        let writer = match sqlite_file(&config.url) {
            Some(file) => Some(Arc::new(writer::Writer::start(file)?)),
            None => None,
        };
        Ok(Store { db, writers: Arc::default(), queue: Arc::default(), objects, writer })
    }

    /// Apply pending migrations. Returns how many were applied.
    ///
    /// With nothing pending it only reads, so that a command run beside a busy server
    /// (`gatehouse users add` while `serve` writes) does not contend for SQLite's write
    /// lock at all.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let pending = Migrator::get_pending_migrations(&self.db).await?.len();
        if pending > 0 {
            Migrator::up(&self.db, None).await?;
        }
        let filled = self.fill_missing_stays().await?;
        if filled > 0 {
            tracing::info!(
                cases = filled,
                "time in states worked out from the audit trail of cases stored before it was kept"
            );
        }
        Ok(pending)
    }

    /// Whether the database answers (for `/health`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await?;
        Ok(())
    }

    /// Begin a transaction that will write, and the turn to hold until it ends. On SQLite
    /// it is `BEGIN IMMEDIATE`: it takes the write lock at once (waiting up to the busy
    /// timeout for it), so a transaction that reads before it writes cannot fail with
    /// `database is locked` when another connection commits in between, which a deferred
    /// `BEGIN` does without waiting. Before that, the writers of this process queue for
    /// their turn, in order: SQLite's own wait for a busy lock sleeps and polls, backing
    /// off up to 100 ms between tries, so under load a waiting writer could lose the lock
    /// to newcomers again and again (requests of over a second in the mixed HTTP bench).
    /// Another process (`gatehouse users add` beside `serve`) still waits SQLite's way.
    pub(crate) async fn begin_write(&self) -> Result<(sea_orm::DatabaseTransaction, WriteTurn), sea_orm::DbErr> {
        use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
        let turn = self.write_turn().await;
        let txn = self
            .db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await?;
        Ok((txn, turn))
    }

    /// On SQLite, wait for this process's turn to write (see [`Store::begin_write`]);
    /// every write takes one, a transaction or a single statement. None on PostgreSQL.
    pub(crate) async fn write_turn(&self) -> WriteTurn {
        match self.backend() {
            DbBackend::Sqlite => Some(self.writers.clone().lock_owned().await),
            _ => None,
        }
    }

    /// The underlying connection (for tests and benchmarks).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// SQLite or PostgreSQL.
    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }
}
