//! A process killed at any point (SIGKILL, in a loop) leaves every case either before
//! or after an operation: its audit chain intact, its snapshot loadable, and no
//! evidence row pointing at a file that is not there.

mod support;

use gatehouse_adapters::store::entities::{case, event, evidence};
use gatehouse_adapters::store::{Store, StoreConfig};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{Backend, fresh_db};

fn writer() -> PathBuf {
    support::example("crash_writer")
}

async fn killed_writers(backend: Backend) {
    let db = fresh_db(backend).await;
    let data = db.dir.path().join("data");
    let exe = writer();
    let mut kills = 0;
    for round in 0..8u64 {
        let mut child = Command::new(&exe)
            .args([&db.url, &support::workflows_dir().display().to_string(), &data.display().to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the writer started");
        // Kill it somewhere in the middle of its work: a different moment each round.
        tokio::time::sleep(Duration::from_millis(50 + round * 37 % 200)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
    }
    assert_eq!(kills, 8);

    let store = Store::connect(&StoreConfig::new(&db.url)).await.unwrap();
    let db_conn = store.connection();
    let cases = case::Entity::find().all(db_conn).await.unwrap();
    assert!(cases.len() >= 8, "the writers got some work done: {} cases", cases.len());
    let (checked, broken) = store.verify_audit().await.unwrap();
    assert_eq!(checked as usize, cases.len());
    assert_eq!(broken, vec![], "every audit chain is intact");
    for c in &cases {
        let events = event::Entity::find().filter(event::Column::CaseId.eq(c.id)).all(db_conn).await.unwrap();
        let transitions = events.iter().filter(|e| e.kind == "transitioned").count() as i32;
        assert_eq!(transitions, c.visit, "case {}: its state matches its trail", c.id);
        assert!(events.len() as i64 >= c.version, "case {}: every applied decision is in the trail", c.id);
        for e in evidence::Entity::find().filter(evidence::Column::CaseId.eq(c.id)).all(db_conn).await.unwrap() {
            if let Some(sha) = e.file_sha256 {
                let bytes = store.document_bytes(&sha).await.unwrap_or_else(|err| {
                    panic!("case {}: evidence row {} points at a document not stored whole: {err}", c.id, e.id)
                });
                assert_eq!(gatehouse_adapters::store::files::sha256_hex(&bytes), sha);
            }
        }
    }
}
on_both!(a_writer_killed_at_any_moment_leaves_every_case_whole, killed_writers);
