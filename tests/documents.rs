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
use support::s3::S3Server;
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
    killed_mid_upload_to(backend, None).await
}

/// [`killed_mid_upload`], with the documents going to `objects` when given.
async fn killed_mid_upload_to(backend: Backend, objects: Option<&S3Server>) {
    let options = || Options { env: objects.map(S3Server::env).unwrap_or_default(), ..Options::default() };
    let mut server = Server::start_with(backend, options()).await;
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
        server = Server::start_on(db, options()).await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 4, "the uploads got some work done: {} acknowledged", acknowledged.len());

    let store = store_for(&server.db.url, objects).await;
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

/// The store a test reads back through: keeping documents in `objects` when given, as
/// the server did.
async fn store_for(url: &str, objects: Option<&S3Server>) -> Store {
    let mut config = StoreConfig::new(url);
    if let Some(objects) = objects {
        config.document_store = Some(objects.url());
        config.document_store_settings = objects.env().into_iter().filter(|(k, _)| k.starts_with("AWS_")).collect();
    }
    Store::connect(&config).await.unwrap()
}

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
    assert!(printed.ends_with("1 moved, 0 already stored, 1 refused\n"), "{printed}");
    assert!(!folder.join(&sha256).exists(), "a moved file is removed from the folder");
    assert!(server.data_dir().join("files/ab").join(&bad).exists(), "a refused file is kept");
    assert_eq!(download(&server, &alice, id, "needs_assessment").await, (200, old), "read from the database");

    std::fs::remove_file(server.data_dir().join("files/ab").join(&bad)).unwrap();
    let out = migrate();
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{printed}");
    assert_eq!(printed, "0 moved, 0 already stored, 0 refused\n");
}
on_both!(files_migrate_moves_a_data_directory_into_the_database_checked, files_migrate);

/// Where the documents' rows say their bytes are: `(documents in the database, in the
/// object store)`.
async fn places(url: &str) -> (i64, i64) {
    use sea_orm::ConnectionTrait as _;
    let db = sea_orm::Database::connect(url).await.unwrap();
    let count = |place: &'static str| {
        let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM documents WHERE place = '{place}'");
        let statement = sea_orm::Statement::from_string(db.get_database_backend(), sql);
        let db = &db;
        async move { db.query_one_raw(statement).await.unwrap().unwrap().try_get::<i64>("", "n").unwrap() }
    };
    (count("database").await, count("objects").await)
}

/// With an S3-compatible object store, two `gatehouse serve` processes on one PostgreSQL
/// database: a document uploaded through one (a small one in one request, a large one
/// in parts) is downloaded whole through the other; its bytes are in the object store,
/// not in the database nor in either node's data directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_document_in_the_object_store_is_read_through_another_node() {
    let objects = S3Server::start();
    let options = || Options { env: objects.env(), ..Options::default() };
    let one = Server::start_with(Backend::Postgres, options()).await;
    let shared = TestDb { url: one.db.url.clone(), dir: tempfile::tempdir().unwrap(), backend: Backend::Postgres };
    let other = Server::start_on(shared, options()).await;
    let (id, alice) = one.leeds_case().await;

    let small = document(1, 300 * 1024);
    one.upload(Some(&alice), id, "needs_assessment", "needs.pdf", small.clone()).await.expect(201);
    assert_eq!(download(&other, &alice, id, "needs_assessment").await, (200, small));
    let large = document(2, 9 * 1024 * 1024); // over the 8 MiB that goes in one request
    other.upload(Some(&alice), id, "equality_impact_assessment", "eia.pdf", large.clone()).await.expect(201);
    let (status, read) = download(&one, &alice, id, "equality_impact_assessment").await;
    assert_eq!(status, 200);
    assert!(read == large, "read {} bytes, not the {} uploaded", read.len(), large.len());

    assert_eq!(objects.documents().len(), 2, "both documents are in the object store");
    assert_eq!(places(&one.db.url).await, (0, 2), "both rows say the object store has the bytes");
    assert_eq!(support::documents_in(&one.db.url).await, (2, 0), "no bytes in the database");
    for node in [&one, &other] {
        assert_eq!(support::files_under(&node.data_dir().join("files")), 0, "a node kept a document");
    }
}

/// An object store that is down: the upload is answered 503 `unavailable` and nothing
/// is recorded; once it is back, the same upload is stored.
async fn object_store_down(backend: Backend) {
    let mut objects = S3Server::start();
    let server = Server::start_with(backend, Options { env: objects.env(), ..Options::default() }).await;
    let (id, alice) = server.leeds_case().await;
    objects.stop();

    let bytes = document(3, 100 * 1024);
    let form = reqwest::multipart::Form::new()
        .text("type", "needs_assessment")
        .part("file", reqwest::multipart::Part::bytes(bytes.clone()).file_name("needs.pdf"));
    let reply = server
        .client
        .post(server.url(&format!("/api/cases/{id}/evidence")))
        .bearer_auth(&alice)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 503);
    let problem: serde_json::Value = reply.json().await.unwrap();
    assert!(problem["type"].as_str().unwrap_or_default().ends_with("unavailable"), "{problem}");
    assert!(problem["detail"].as_str().unwrap_or_default().contains("document store"), "{problem}");
    assert_eq!(support::documents_in(&server.db.url).await, (0, 0), "nothing recorded");
    assert_eq!(download(&server, &alice, id, "needs_assessment").await.0, 404, "no evidence row");

    objects.restart();
    server.upload(Some(&alice), id, "needs_assessment", "needs.pdf", bytes.clone()).await.expect(201);
    assert_eq!(download(&server, &alice, id, "needs_assessment").await, (200, bytes));
}
on_both!(an_object_store_that_is_down_stores_nothing_and_says_so, object_store_down);

/// [`killed_mid_upload`] with the documents going to an object store: no row names an
/// object that is not there whole.
async fn killed_mid_upload_to_objects(backend: Backend) {
    let objects = S3Server::start();
    killed_mid_upload_to(backend, Some(&objects)).await
}
on_both!(a_node_killed_mid_upload_to_the_object_store_leaves_no_row_without_its_object, killed_mid_upload_to_objects);

/// `gatehouse files migrate --document-store s3://…` moves the documents kept in the
/// database to the object store, each checked by its sha256 before its chunks are
/// dropped; a server over the object store then serves them; run again, it finds
/// nothing left to move.
async fn files_migrate_to_objects(backend: Backend) {
    let server = Server::start(backend).await;
    let (id, alice) = server.leeds_case().await;
    let bytes = document(9, 600 * 1024);
    server.upload(Some(&alice), id, "needs_assessment", "needs.pdf", bytes.clone()).await.expect(201);
    let sha256 = gatehouse_adapters::store::files::sha256_hex(&bytes);
    let db = server.stop();
    assert_eq!(places(&db.url).await, (1, 0));

    let objects = S3Server::start();
    let migrate = || {
        gatehouse()
            .args(["files", "migrate", "--database-url", &db.url, "--data-dir"])
            .arg(db.dir.path().join("data"))
            .envs(objects.env())
            .output()
            .unwrap()
    };
    let out = migrate();
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{printed}{}", String::from_utf8_lossy(&out.stderr));
    assert!(printed.contains(&format!("moved to {}: {sha256}", objects.url())), "{printed}");
    assert!(printed.ends_with("1 moved, 0 already stored, 0 refused\n"), "{printed}");
    assert_eq!(places(&db.url).await, (0, 1), "the row says the object store has it");
    assert_eq!(support::documents_in(&db.url).await, (1, 0), "its chunks are dropped");
    assert_eq!(objects.documents().len(), 1);

    let out = migrate();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0 moved, 0 already stored, 0 refused\n");

    let server = Server::start_on(db, Options { env: objects.env(), ..Options::default() }).await;
    assert_eq!(download(&server, &alice, id, "needs_assessment").await, (200, bytes));
}
on_both!(files_migrate_moves_documents_to_the_object_store_checked, files_migrate_to_objects);
