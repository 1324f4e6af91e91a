//! Test helpers: a fresh, uuid-named database per test on real SQLite and real
//! PostgreSQL, and an app over the shipped workflows with a fixed clock.
#![allow(dead_code)]

pub mod browser;
pub mod oidc;
pub mod pg_cluster;
pub mod s3;
pub mod server;
pub mod smtp;
pub mod tls;
pub mod tmpfs;
pub mod web;
pub mod workers;

use gatehouse::app::{App, AppConfig};
use gatehouse::clock::FixedClock;
use gatehouse_adapters::store::{Store, StoreConfig};
use gatehouse_engine::fields::Input;
use gatehouse_engine::snapshot::Actor;
use sea_orm::{ConnectionTrait, Database};
use std::path::PathBuf;
use std::sync::Arc;

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database; the temporary directory (SQLite file, evidence files) lives as long as this.
pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    pub backend: Backend,
}

/// The PostgreSQL server tests use: `GATEHOUSE_TEST_DATABASE_URL` (set by `cargo xtask
/// test`), else the server on 127.0.0.1:5432.
pub fn postgres_server() -> String {
    std::env::var("GATEHOUSE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub async fn fresh_db(backend: Backend) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("gatehouse.db").display()),
        Backend::Postgres => {
            let server = postgres_server();
            let admin = Database::connect(&server)
                .await
                .unwrap_or_else(|e| panic!("no PostgreSQL at {server} ({e}); run the tests with `cargo xtask test`"));
            let name = format!("gatehouse_test_{}", uuid::Uuid::new_v4().simple());
            admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
            // The server's URL with its database swapped: `…/postgres?host=/run/postgresql`
            // (a Unix socket) keeps its query.
            let (path, query) =
                server.split_once('?').map_or((server.as_str(), String::new()), |(p, q)| (p, format!("?{q}")));
            let (base, _) = path.rsplit_once('/').unwrap();
            format!("{base}/{name}{query}")
        }
    };
    TestDb { url, dir, backend }
}

impl TestDb {
    pub async fn store(&self) -> Store {
        let store = Store::connect(&StoreConfig::new(&self.url)).await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    pub fn config(&self) -> AppConfig {
        AppConfig {
            database_url: self.url.clone(),
            workflows: workflows_dir(),
            data_dir: self.dir.path().join("data"),
            max_upload_bytes: 1024 * 1024,
            oversight_roles: Vec::new(),
        }
    }

    /// Drop the PostgreSQL database (tests leave theirs for inspection; benchmarks fill
    /// theirs with millions of rows). `WITH (FORCE)` ends connections a pool still holds.
    /// A SQLite file goes with the temporary directory.
    pub async fn drop_database(self) {
        if self.backend == Backend::Sqlite {
            return;
        }
        let path = self.url.split_once('?').map_or(self.url.as_str(), |(p, _)| p);
        let (_, name) = path.rsplit_once('/').unwrap();
        let admin = Database::connect(&postgres_server()).await.unwrap();
        admin.execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)")).await.unwrap();
    }

    /// An app over the shipped workflows, at 09:00 on Monday 5 January 2026.
    pub async fn app(&self) -> (App, Arc<FixedClock>) {
        let clock = Arc::new(FixedClock::new(start()));
        let (app, _) = App::new(self.store().await, &self.config(), clock.clone()).await.unwrap();
        (app, clock)
    }
}

pub fn start() -> jiff::Timestamp {
    jiff::civil::date(2026, 1, 5).at(9, 0, 0, 0).in_tz("Europe/London").unwrap().timestamp()
}

pub fn workflows_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("workflows")
}

pub fn alice() -> Actor {
    Actor::user("alice@leeds.example", ["commissioner"])
}

pub fn text(s: &str) -> Input {
    Input::Text(s.into())
}

/// Fields for a Leeds decommissioning case. A key decision's forward-plan notice and its
/// published decision notice are long past (2025), so a key decision may be taken and
/// acted on at once.
pub fn lcc_fields(annual_value: i64, contract_end: &str) -> Vec<(String, Input)> {
    vec![
        ("service_name".into(), text("Day opportunities for older people")),
        ("provider_name".into(), text("Kirkstall Day Centre Trust")),
        ("provider_email".into(), text("director@kirkstall.example.org")),
        ("directorate".into(), text("Adults and Health")),
        ("annual_value".into(), Input::Int(annual_value)),
        ("contract_end".into(), text(contract_end)),
        ("forward_plan_published_on".into(), text("2025-10-01")),
        ("decision_meeting_on".into(), text("2030-12-31")),
        ("decision_reference".into(), text("D-2025-1101-01")),
        ("decision_published_on".into(), text("2025-11-03")),
    ]
}

/// The day `days` days before today, in England.
pub fn days_ago(days: i64) -> String {
    let today = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::get("Europe/London").unwrap()).date();
    today.checked_sub(jiff::Span::new().days(days)).unwrap().to_string()
}

/// Runs the test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                $body(support::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                $body(support::Backend::Postgres).await
            }
        }
    };
}

/// An example binary of this package, built on demand (a filtered `cargo test` does not
/// build examples). Returns its path: `target/<profile>/examples/<name>`.
pub fn example(name: &str) -> PathBuf {
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--quiet", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "building the {name} example");
    // target/debug/deps/<test>-… → target/debug/examples/<name>
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("examples").join(name)
}

/// How many documents the database at `url` holds, and how many of their chunks.
#[allow(dead_code)]
pub async fn documents_in(url: &str) -> (i64, i64) {
    let db = Database::connect(url).await.unwrap();
    let count = |table: &str| {
        let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {table}");
        let statement = sea_orm::Statement::from_string(db.get_database_backend(), sql);
        let db = &db;
        async move { db.query_one_raw(statement).await.unwrap().unwrap().try_get::<i64>("", "n").unwrap() }
    };
    (count("documents").await, count("document_chunks").await)
}

/// How many files (not folders) there are under `dir`; 0 when it does not exist.
pub fn files_under(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() { files_under(&p) } else { 1 }
        })
        .sum()
}

/// The `version:` of a workflow file's text.
#[allow(dead_code)]
pub fn workflow_version(text: &str) -> u32 {
    text.lines()
        .find_map(|l| l.strip_prefix("version:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("the workflow has a top-level version")
}

/// Copy the folder `from` into `to`, sub-folders and all (a workflows folder to change
/// and publish).
#[allow(dead_code)]
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Leeds decommissioning's text with its first state, `proposal`, renamed `preparing` and
/// its version set to `version`: a change its scenarios still pass, that moves no open
/// case without a mapping.
#[allow(dead_code)]
pub fn lcc_first_state_renamed(source: &str, version: u32) -> String {
    source
        .replacen(&format!("version: {}", workflow_version(source)), &format!("version: {version}"), 1)
        .replacen("\n  proposal:\n    initial: true", "\n  preparing:\n    initial: true", 1)
        .replacen("from: proposal\n", "from: preparing\n", 1)
        .replacen("from: [proposal, engagement", "from: [preparing, engagement", 1)
}
