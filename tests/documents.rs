//! Evidence documents live in the database, against the real `gatehouse serve`: every
//! node sharing a database reads what any of them stored; a node killed while uploads
//! are under way leaves no evidence row without its whole document; `gatehouse files
//! migrate` moves what an earlier version kept in its data directory, checked, and can
//! be run again.

mod support;

use gatehouse_adapters::store::{Store, StoreConfig};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use support::server::{Options, Server, gatehouse};
use support::{Backend, TestDb};

/// A document of `size` bytes that differs with `n`: over several chunks when large.
fn document(n: usize, size: usize) -> Vec<u8> {
    let mut bytes = format!("%PDF needs assessment {n}\n").into_bytes();
    bytes.extend((0..size).map(|i| (i * 31 + n) as u8));
    bytes
}

async fn download(server: &Server, token: &str, case: i64, evidence: &str) -> (u16, Vec<u8>) {
    let url = server.url(&format!("/api/cases/{case}/evidence/{evidence}/file"));
    let reply = server.client.get(url).bearer_auth(token).send().await.unwrap();
    (reply.status().as_u16(), reply.bytes().await.unwrap().to_vec())
}

/// Two `gatehouse serve` processes, each with a data directory of its own, on one
/// PostgreSQL database: a document uploaded through one is downloaded, whole, through
/// the other, and neither keeps it in its data directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_document_uploaded_through_one_node_is_read_through_another() {
    let one = Server::start(Backend::Postgres).await;
    let shared = TestDb { url: one.db.url.clone(), dir: tempfile::tempdir().unwrap(), backend: Backend::Postgres };
    let other = Server::start_on(shared, Options::default()).await;
    let (id, alice) = one.leeds_case().await;

    let bytes = document(1, 700 * 1024); // three chunks
    one.upload(Some(&alice), id, "needs_assessment", "needs.pdf", bytes.clone()).await.expect(201);
    let (status, read) = download(&other, &alice, id, "needs_assessment").await;
    assert_eq!(status, 200);
    assert!(read == bytes, "the other node read {} bytes, not the {} uploaded", read.len(), bytes.len());

    // And the other way round, replacing it.
    let again = document(2, 10);
    other.upload(Some(&alice), id, "needs_assessment", "needs-v2.pdf", again.clone()).await.expect(201);
    assert_eq!(download(&one, &alice, id, "needs_assessment").await, (200, again));
    for node in [&one, &other] {
        let kept = support::files_under(&node.data_dir().join("files"));
        assert_eq!(kept, 0, "a node kept a document in its own data directory");
    }
    assert_eq!(support::documents_in(&one.db.url).await, (2, 4));
}

/// Uploads run back to back from three clients while the server is killed (SIGKILL)
/// at a different moment each round; once it is started again, every evidence row that
/// names a document has that document whole, and every upload it acknowledged is there.
async fn killed_mid_upload(backend: Backend) {
    let mut server = Server::start(backend).await;
    let (id, alice) = server.leeds_case().await;
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sent = Arc::new(AtomicUsize::new(0));
    for round in 0..4u64 {
        let mut uploads = Vec::new();
        for client in 0..3 {
            let (base, http, alice, acknowledged, sent) =
                (server.base.clone(), server.client.clone(), alice.clone(), acknowledged.clone(), sent.clone());
            uploads.push(tokio::spawn(async move {
                loop {
                    let n = sent.fetch_add(1, Ordering::Relaxed);
                    let evidence = ["needs_assessment", "equality_impact_assessment"][client % 2];
                    let bytes = document(n, 300 * 1024 + n);
                    let form = reqwest::multipart::Form::new()
                        .text("type", evidence)
                        .part("file", reqwest::multipart::Part::bytes(bytes.clone()).file_name(format!("{n}.pdf")));
                    let url = format!("{base}/api/cases/{id}/evidence");
                    match http.post(url).bearer_auth(&alice).multipart(form).send().await {
                        Ok(reply) if reply.status() == 201 => acknowledged.lock().unwrap().push(bytes),
                        Ok(reply) if reply.status().is_success() => panic!("an upload answered {}", reply.status()),
                        // 409 (another client's upload moved the case on first) and the
                        // like: try the next one.
                        Ok(reply) if reply.status().is_client_error() => {}
                        // The server is gone.
                        _ => return,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(400 + round * 170)).await;
        let db = server.kill();
        for upload in uploads {
            upload.await.unwrap();
        }
        server = Server::start_on(db, Options::default()).await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 4, "the uploads got some work done: {} acknowledged", acknowledged.len());

    let store = Store::connect(&StoreConfig::new(&server.db.url)).await.unwrap();
    use gatehouse_adapters::store::entities::evidence;
    use sea_orm::EntityTrait as _;
    let rows = evidence::Entity::find().all(store.connection()).await.unwrap();
    for row in &rows {
        let sha256 = row.file_sha256.as_deref().expect("every evidence row here names a document");
        assert!(
            store.verify_document(sha256).await.unwrap(),
            "evidence row {} names a document not stored whole",
            row.id
        );
    }
    for bytes in &acknowledged {
        let sha256 = gatehouse_adapters::store::files::sha256_hex(bytes);
        assert!(
            rows.iter().any(|r| r.file_sha256.as_deref() == Some(sha256.as_str())),
            "an acknowledged upload is lost"
        );
    }
    // Nothing stored that no row names: the documents are the rows' documents.
    let (documents, _) = support::documents_in(&server.db.url).await;
    let named: std::collections::BTreeSet<_> = rows.iter().filter_map(|r| r.file_sha256.clone()).collect();
    assert_eq!(documents as usize, named.len(), "a document no evidence row names was stored");
}
on_both!(a_node_killed_mid_upload_leaves_no_row_without_its_document, killed_mid_upload);

/// `gatehouse files migrate` moves the documents an earlier version kept under the data
/// directory into the database: each is then served from there and its file removed; a
/// file whose bytes are not what its name says is refused and kept; run again, it finds
/// nothing left to move.
async fn files_migrate(backend: Backend) {
    let server = Server::start(backend).await;
    let (id, alice) = server.leeds_case().await;
    // A case whose needs assessment an earlier version stored in the data directory:
    // the same bytes are uploaded, then moved out of the database into the folder.
    let old = document(7, 600 * 1024);
    server.upload(Some(&alice), id, "needs_assessment", "needs.pdf", old.clone()).await.expect(201);
    let sha256 = gatehouse_adapters::store::files::sha256_hex(&old);
    let db = server.stop();
    let folder = db.dir.path().join("data/files").join(&sha256[..2]);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join(&sha256), &old).unwrap();
    let bad = "ab".repeat(32);
    std::fs::create_dir_all(db.dir.path().join("data/files/ab")).unwrap();
    std::fs::write(db.dir.path().join("data/files/ab").join(&bad), b"not what its name says").unwrap();
    let raw = sea_orm::Database::connect(&db.url).await.unwrap();
    use sea_orm::ConnectionTrait as _;
    raw.execute_unprepared("DELETE FROM document_chunks").await.unwrap();
    raw.execute_unprepared("DELETE FROM documents").await.unwrap();
    let server = Server::start_on(db, Options::default()).await;
    assert_eq!(download(&server, &alice, id, "needs_assessment").await, (200, old.clone()), "read from the folder");

    let migrate = || {
        gatehouse()
            .args(["files", "migrate", "--database-url", &server.db.url, "--data-dir"])
            .arg(server.data_dir())
            .output()
            .unwrap()
    };
    let out = migrate();
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "a refused file fails the run:\n{printed}");
    assert!(printed.contains(&format!("moved: {sha256}")), "{printed}");
    assert!(printed.contains("refused: ") && printed.contains(&bad), "{printed}");
    assert!(printed.ends_with("1 moved, 0 already in the database, 1 refused\n"), "{printed}");
    assert!(!folder.join(&sha256).exists(), "a moved file is removed from the folder");
    assert!(server.data_dir().join("files/ab").join(&bad).exists(), "a refused file is kept");
    assert_eq!(download(&server, &alice, id, "needs_assessment").await, (200, old), "read from the database");

    std::fs::remove_file(server.data_dir().join("files/ab").join(&bad)).unwrap();
    let out = migrate();
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{printed}");
    assert_eq!(printed, "0 moved, 0 already in the database, 0 refused\n");
}
on_both!(files_migrate_moves_a_data_directory_into_the_database_checked, files_migrate);
