//! A write is answered 2xx only once it is committed, and stays: the real `gatehouse
//! serve` under several writing clients while its disk fills up and frees again
//! (SQLite on a tmpfs), and while its PostgreSQL server restarts. Afterwards every write
//! that was acknowledged is there and every write that was refused is not.

mod support;

use gatehouse_adapters::store::entities::case;
use gatehouse_adapters::store::{Store, StoreConfig};
use sea_orm::EntityTrait;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::server::{Options, Reply, Server, auth};
use support::{Backend, TestDb};

/// What became of one write.
#[derive(Debug, Clone)]
enum Outcome {
    /// 2xx: the case now carries `marker`, at `version`; `opened` when the write opened it.
    Acknowledged { case: i64, marker: String, version: i64, opened: bool },
    /// Refused (a problem+json answer): `marker` must be nowhere.
    Refused { marker: String, status: u16, slug: String },
    /// No answer reached the client: either way is right.
    Unknown,
}

/// What the clients share: when to stop, and how many writes were refused so far.
#[derive(Default)]
struct Load {
    stop: AtomicBool,
    refused: AtomicUsize,
}

/// One client's writes, in order: it opens a case and changes its fields a few times,
/// then opens the next; when opening one is refused, it goes on changing the last one
/// it opened. Each write names itself in `service_name` (`marker`, then padding).
async fn client(server: Arc<Server>, token: String, client: usize, padding: usize, load: Arc<Load>) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let pad = "x".repeat(padding);
    let mut case = None;
    let mut n = 0;
    while !load.stop.load(Ordering::Relaxed) {
        n += 1;
        let marker = format!("c{client}-{n}");
        let body = new_case(&format!("{marker} {pad}"));
        let reply = send(server.client.post(server.url("/api/cases")), &token, body).await;
        let opened = outcome(reply, marker, true, &load);
        if let Outcome::Acknowledged { case: id, .. } = opened {
            case = Some(id);
        }
        outcomes.push(opened);
        let Some(case) = case else { continue };
        for k in 1..=3 {
            let marker = format!("c{client}-{n}-{k}");
            let path = format!("/api/cases/{case}/fields");
            let body = json!({"fields": {"service_name": format!("{marker} {pad}")}});
            let changed =
                outcome(send(server.client.patch(server.url(&path)), &token, body).await, marker, false, &load);
            let acknowledged = matches!(changed, Outcome::Acknowledged { .. });
            outcomes.push(changed);
            if !acknowledged || load.stop.load(Ordering::Relaxed) {
                break;
            }
        }
    }
    outcomes
}

fn new_case(service_name: &str) -> serde_json::Value {
    json!({"workflow": "lcc-decommissioning", "fields": {
        "service_name": service_name,
        "provider_name": "Kirkstall Day Centre Trust",
        "provider_email": "director@kirkstall.example.org",
        "directorate": "Adults and Health",
        "annual_value": 650000,
        "contract_end": "2030-09-30",
    }})
}

/// Send; None when no answer came (unlike `Server::send`, which panics then).
async fn send(request: reqwest::RequestBuilder, token: &str, body: serde_json::Value) -> Option<Reply> {
    let response = auth(request, Some(token)).json(&body).timeout(Duration::from_secs(60)).send().await.ok()?;
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let text = response.text().await.ok()?;
    let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    Some(Reply { status, content_type, request_id: String::new(), text, json })
}

fn outcome(reply: Option<Reply>, marker: String, opened: bool, load: &Load) -> Outcome {
    let Some(reply) = reply else { return Outcome::Unknown };
    if (200..300).contains(&reply.status) {
        let case = reply.json["id"].as_i64().unwrap_or_else(|| panic!("a 2xx without a case: {}", reply.text));
        let version = reply.json["version"].as_i64().unwrap();
        return Outcome::Acknowledged { case, marker, version, opened };
    }
    load.refused.fetch_add(1, Ordering::Relaxed);
    let slug = reply.json["type"].as_str().unwrap_or_default().trim_start_matches("urn:gatehouse:problem:").to_string();
    assert_eq!(reply.content_type, "application/problem+json", "a refusal is a problem: {}", reply.text);
    Outcome::Refused { marker, status: reply.status, slug }
}

/// Check the cases in the database against what the clients were told: every
/// acknowledged write is there (a case holds its last acknowledged change, at its
/// version), no refused one is, and no two acknowledged cases share an id. Returns how
/// many writes were acknowledged and how many refused.
async fn check(url: &str, outcomes: &[Outcome]) -> (usize, usize) {
    let store = Store::connect(&StoreConfig::new(url)).await.unwrap();
    let stored: BTreeMap<i64, case::Model> =
        case::Entity::find().all(store.connection()).await.unwrap().into_iter().map(|c| (c.id, c)).collect();
    let marker_of = |c: &case::Model| {
        let fields: serde_json::Value = serde_json::from_str(&c.fields).unwrap();
        let text = fields["service_name"].as_str().or_else(|| fields["service_name"]["value"].as_str());
        let text = text.unwrap_or_else(|| panic!("case {}: no service_name in {}", c.id, c.fields));
        text.split(' ').next().unwrap().to_string()
    };
    let stored_markers: BTreeSet<String> = stored.values().map(marker_of).collect();
    // The last acknowledged write of each case: a case is written by one client, one
    // write at a time.
    let mut last: BTreeMap<i64, (&str, i64)> = BTreeMap::new();
    let mut opened_by = BTreeMap::new();
    let (mut acknowledged, mut refused) = (0, 0);
    for o in outcomes {
        match o {
            Outcome::Acknowledged { case, marker, version, opened } => {
                acknowledged += 1;
                if *opened && let Some(other) = opened_by.insert(*case, marker.clone()) {
                    panic!("case id {case} was acknowledged twice: to {other} and to {marker}");
                }
                last.insert(*case, (marker, *version));
            }
            Outcome::Refused { marker, status, slug } => {
                refused += 1;
                assert!([503, 507].contains(status), "a write is refused with 503 or 507, not {status} ({slug})");
                assert!(!stored_markers.contains(marker), "{marker} was refused ({status} {slug}) but is stored");
            }
            Outcome::Unknown => {}
        }
    }
    for (case, (marker, version)) in &last {
        let row = stored.get(case).unwrap_or_else(|| panic!("case {case} ({marker}) was acknowledged but is gone"));
        assert_eq!(&marker_of(row), marker, "case {case}: its last acknowledged change");
        assert_eq!(row.version, *version, "case {case}: its version");
    }
    (acknowledged, refused)
}

/// Run `clients` writers against `server` until `load.stop` is set.
fn start_clients(
    server: &Arc<Server>,
    token: &str,
    clients: usize,
    padding: usize,
    load: &Arc<Load>,
) -> Vec<tokio::task::JoinHandle<Vec<Outcome>>> {
    (0..clients).map(|c| tokio::spawn(client(server.clone(), token.to_string(), c, padding, load.clone()))).collect()
}

async fn stop(load: &Load, clients: Vec<tokio::task::JoinHandle<Vec<Outcome>>>) -> Vec<Outcome> {
    load.stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for c in clients {
        all.extend(c.await.unwrap());
    }
    all
}

/// Upload a document, on a connection of its own: the server answers a refused upload
/// before reading all of it, and then closes the connection.
async fn upload(server: &Server, token: &str, case: i64, bytes: Vec<u8>) -> Reply {
    let form = reqwest::multipart::Form::new().text("type", "needs_assessment").part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name("needs.pdf").mime_str("application/pdf").unwrap(),
    );
    let request = reqwest::Client::new().post(server.url(&format!("/api/cases/{case}/evidence")));
    server.send(auth(request, Some(token)).multipart(form)).await
}

/// Open cases until one is acknowledged; how long that took. Panics after `limit`.
async fn writes_again(server: &Server, token: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let reply = send(server.client.post(server.url("/api/cases")), token, new_case("probe")).await;
        if reply.is_some_and(|r| r.status == 201) {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "the server does not write again within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_full_disk_refuses_writes_and_loses_no_acknowledged_one() {
    let disk = support::tmpfs::Tmpfs::mount(8);
    let dir = tempfile::tempdir_in(disk.path()).unwrap();
    let url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
    let db = TestDb { url: url.clone(), dir, backend: Backend::Sqlite };
    let server = Arc::new(Server::start_on(db, Options::default()).await);
    let token = server.user("alice@leeds.example", &["commissioner"]);
    let early = server.post(Some(&token), "/api/cases", new_case("early")).await;
    early.expect(201);
    let early = early.json["id"].as_i64().unwrap();

    // Room for a few cases of 150 KB, then the disk is full.
    let filler = disk.fill_leaving(1024 * 1024);
    let load = Arc::new(Load::default());
    let clients = start_clients(&server, &token, 4, 150_000, &load);
    let deadline = Instant::now() + Duration::from_secs(60);
    while load.refused.load(Ordering::Relaxed) < 12 {
        assert!(Instant::now() < deadline, "the disk did not fill up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // With the disk full an upload is refused as such, and leaves nothing behind.
    let before = support::documents_in(&server.db.url).await;
    let upload = upload(&server, &token, early, vec![b'%'; 1536 * 1024]).await;
    upload.problem(507, "insufficient-storage");
    assert_eq!(support::documents_in(&server.db.url).await, before, "a refused upload stores no document");
    let case = server.get(Some(&token), &format!("/api/cases/{early}")).await;
    assert_eq!(case.expect(200).json["evidence"], json!([]), "a refused upload leaves no evidence");

    // Space comes back: writes succeed again within seconds, with the same server.
    std::fs::remove_file(&filler).unwrap();
    let recovered = writes_again(&server, &token, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let outcomes = stop(&load, clients).await;

    // A prompt shutdown, and a restart on the same files.
    let server = Arc::into_inner(server).expect("the clients are done");
    let stopping = Instant::now();
    let db = server.stop();
    let stopped_in = stopping.elapsed();
    let _server = Server::start_on(db, Options::default()).await;
    let (acknowledged, refused) = check(&url, &outcomes).await;
    eprintln!(
        "{acknowledged} writes acknowledged, {refused} refused; writes succeeded {recovered:?} after space came \
         back; SIGTERM took {stopped_in:?}"
    );
    assert!(recovered < Duration::from_secs(5), "writes succeeded again only {recovered:?} after space came back");
    assert!(stopped_in < Duration::from_secs(5), "SIGTERM took {stopped_in:?}");
    let verify = support::server::gatehouse().args(["audit", "verify", "--database-url", &url]).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_mid_load_loses_no_acknowledged_write_and_is_reconnected_to() {
    let cluster = Arc::new(support::pg_cluster::PgCluster::start());
    let db = TestDb { url: cluster.url(), dir: tempfile::tempdir().unwrap(), backend: Backend::Postgres };
    let url = db.url.clone();
    let server = Arc::new(Server::start_on(db, Options::default()).await);
    let token = server.user("alice@leeds.example", &["commissioner"]);

    let load = Arc::new(Load::default());
    let clients = start_clients(&server, &token, 6, 2_000, &load);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let restarting = cluster.clone();
    tokio::task::spawn_blocking(move || restarting.restart()).await.unwrap();
    // The server is not touched: it writes again by itself.
    let reconnected = writes_again(&server, &token, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let outcomes = stop(&load, clients).await;

    let (acknowledged, refused) = check(&url, &outcomes).await;
    eprintln!(
        "{acknowledged} writes acknowledged, {refused} refused; writes succeeded {reconnected:?} after the restart"
    );
    assert!(acknowledged > 20, "the clients got work done: {acknowledged} writes acknowledged");
    assert!(reconnected < Duration::from_secs(5), "writes succeeded again only {reconnected:?} after the restart");
}
