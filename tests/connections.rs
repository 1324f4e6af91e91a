//! Clients that misbehave, against the real `gatehouse serve`: uploads cut off, dropped
//! or refused leave nothing behind in `files/.incoming/`; connections that send part of
//! their headers and stop, or sit idle, are closed, and at the connection cap a new
//! client still gets in, so `/health` keeps answering.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};
use support::Backend;
use support::server::{Options, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn incoming(server: &Server) -> PathBuf {
    server.data_dir().join("files/.incoming")
}

fn count(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// How many files are left in `files/.incoming/`; they are removed, so that the next
/// step starts from an empty folder.
fn left(server: &Server) -> usize {
    let entries: Vec<_> = std::fs::read_dir(incoming(server)).unwrap().flatten().collect();
    for e in &entries {
        std::fs::remove_file(e.path()).unwrap();
    }
    entries.len()
}

/// Wait up to `limit` for `ok`; whether it came true.
async fn within(limit: Duration, ok: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ok()
}

const BOUNDARY: &str = "gatehouse-test-boundary";

/// The request head and the multipart body up to the middle of the file part.
fn upload_start(server: &Server, case: i64, token: &str, evidence: &str, framing: &str) -> (String, Vec<u8>) {
    let host = server.base.trim_start_matches("http://");
    let head = format!(
        "POST /api/cases/{case}/evidence HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{framing}\r\n"
    );
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\n{evidence}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"half.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    body.extend(std::iter::repeat_n(b'%', 64 * 1024));
    (head, body)
}

/// The status line of the answer read from `stream`.
async fn status_line(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "the connection closed without an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).lines().next().unwrap().to_string()
}

/// An upload whose body ends in the middle of the file (400), one whose client goes
/// away in the middle of the file, one the request timeout cuts off, one the workflow
/// refuses and one with a wrong part after the file: each leaves `files/.incoming/`
/// empty at once, not an hour later.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_that_fail_leave_nothing_behind() {
    let options = Options { env: vec![("GATEHOUSE_REQUEST_TIMEOUT".into(), "3".into())], ..Default::default() };
    let server = Server::start_with(Backend::Sqlite, options).await;
    let (id, alice) = server.leeds_case().await;
    let address = server.base.trim_start_matches("http://").to_string();
    assert_eq!(count(&incoming(&server)), 0);
    let mut wrong = Vec::new();

    // Cut off: a chunked body that ends inside the file part.
    let (head, body) = upload_start(&server, id, &alice, "needs_assessment", "Transfer-Encoding: chunked\r\n");
    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(format!("{:x}\r\n", body.len()).as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    stream.write_all(b"\r\n0\r\n\r\n").await.unwrap();
    let status = status_line(&mut stream).await;
    assert!(status.contains(" 400 "), "{status}");
    if left(&server) > 0 {
        wrong.push("a body cut off mid-file left its partial file");
    }

    // Gone: the client disconnects once the file has started arriving.
    let (head, body) = upload_start(&server, id, &alice, "needs_assessment", "Content-Length: 10000000\r\n");
    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    assert!(within(Duration::from_secs(5), || count(&incoming(&server)) == 1).await, "the upload never started");
    drop(stream);
    if !within(Duration::from_secs(2), || count(&incoming(&server)) == 0).await {
        wrong.push("a client that went away mid-upload left its partial file");
        left(&server);
    }

    // Stalled: the client stops sending and the request timeout (3 s) answers 408.
    let (head, body) = upload_start(&server, id, &alice, "needs_assessment", "Content-Length: 10000000\r\n");
    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    assert!(within(Duration::from_secs(5), || count(&incoming(&server)) == 1).await, "the upload never started");
    let status = status_line(&mut stream).await;
    assert!(status.contains(" 408 "), "{status}");
    if left(&server) > 0 {
        wrong.push("an upload the request timeout cut off left its partial file");
    }

    // Refused by the workflow: the provider's response comes from the provider only.
    let refused = server.upload(Some(&alice), id, "provider_response", "views.pdf", b"%PDF views".to_vec()).await;
    refused.problem(403, "forbidden");
    if left(&server) > 0 {
        wrong.push("an upload the workflow refused left its file");
    }

    // A part the route does not take, after the whole file.
    let form = reqwest::multipart::Form::new()
        .text("type", "needs_assessment")
        .part("file", reqwest::multipart::Part::bytes(b"%PDF needs".to_vec()).file_name("needs.pdf"))
        .text("comment", "not a part of this route");
    let extra = server
        .send(server.client.post(server.url(&format!("/api/cases/{id}/evidence"))).bearer_auth(&alice).multipart(form))
        .await;
    extra.problem(422, "invalid-input");
    if left(&server) > 0 {
        wrong.push("an upload refused after its file left the file");
    }
    assert!(wrong.is_empty(), "{wrong:#?}");

    // Nothing was stored, and an upload that succeeds still does.
    assert_eq!(support::documents_in(&server.db.url).await, (0, 0));
    server.upload(Some(&alice), id, "needs_assessment", "needs.pdf", b"%PDF needs".to_vec()).await.expect(201);
    assert_eq!(support::documents_in(&server.db.url).await, (1, 1));
    assert_eq!(count(&incoming(&server)), 0);
}

/// Sockets open in process `pid` (Linux).
fn open_sockets(pid: u32) -> usize {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return 0 };
    fds.flatten()
        .filter(|fd| std::fs::read_link(fd.path()).is_ok_and(|to| to.to_string_lossy().starts_with("socket:")))
        .count()
}

/// A connection that sends part of a request head and stops.
async fn stalled(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: gatehouse\r\nX-Slow: ").await.unwrap();
    stream
}

/// Whether the server closed `stream` (end of file, or reset) within `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // An answer (408, say) before the close.
            Ok(Ok(_)) => continue,
        }
    }
}

/// `GET /health` on a connection of its own, answered in how long.
async fn health(server: &Server) -> Duration {
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let start = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(30), client.get(server.url("/health")).send())
        .await
        .expect("/health answers within 30 s")
        .expect("/health answers");
    assert_eq!(r.status(), 200);
    start.elapsed()
}

/// 300 connections that send part of their headers and stop, and one that sends a byte
/// every 200 ms, against a server capped at 20 connections with a 2-second header
/// timeout: the server never holds more than the cap, `/health` answers at once
/// throughout (a new connection takes the place of one that has not sent a whole
/// request), every slow connection is closed by the header timeout, and SIGTERM with
/// slow connections open still stops the server promptly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_clients_are_closed_and_health_keeps_answering() {
    let env = [("GATEHOUSE_MAX_CONNECTIONS", "20"), ("GATEHOUSE_HEADER_TIMEOUT_SECS", "2")];
    let options = Options { env: env.map(|(k, v)| (k.into(), v.into())).to_vec(), ..Default::default() };
    let mut server = Server::start_with(Backend::Sqlite, options).await;
    let address = server.base.trim_start_matches("http://").to_string();
    health(&server).await;
    let baseline = open_sockets(server.pid());

    let trickler = {
        let address = address.clone();
        tokio::spawn(async move {
            let mut stream = TcpStream::connect(&address).await.unwrap();
            let start = Instant::now();
            for byte in b"GET /health HTTP/1.1\r\nHost: gatehouse\r\nX-Slow: ".iter().cycle() {
                if stream.write_all(&[*byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                if start.elapsed() > Duration::from_secs(20) {
                    break;
                }
            }
            start.elapsed()
        })
    };
    let mut slow = Vec::new();
    for _ in 0..300 {
        slow.push(stalled(&address).await);
    }
    let opened = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut most_open = 0;
    while opened.elapsed() < Duration::from_millis(1500) {
        slowest = slowest.max(health(&server).await);
        most_open = most_open.max(open_sockets(server.pid()));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "300 slow connections: slowest /health {slowest:?}, at most {most_open} sockets open (baseline {baseline})"
    );
    assert!(slowest < Duration::from_millis(1000), "/health took {slowest:?} with 300 slow connections open");
    // The cap, and one accepted connection waiting for a place.
    assert!(most_open <= baseline + 21, "{most_open} sockets open with a cap of 20 connections (baseline {baseline})");

    let mut still_open = 0;
    for stream in &mut slow {
        if !closed_within(stream, Duration::from_secs(4).saturating_sub(opened.elapsed())).await {
            still_open += 1;
        }
    }
    assert_eq!(still_open, 0, "slow connections open 4 s after the last one stalled, with a 2-second header timeout");
    let trickled = trickler.await.unwrap();
    assert!(trickled < Duration::from_secs(4), "a connection sending its head a byte at a time lasted {trickled:?}");

    // SIGTERM with slow connections open: the server does not wait for them.
    let mut slow = Vec::new();
    for _ in 0..5 {
        slow.push(stalled(&address).await);
    }
    let start = Instant::now();
    let exit = tokio::task::block_in_place(|| server.terminate());
    assert!(exit.success(), "gatehouse serve exited with {exit}");
    eprintln!("SIGTERM with 5 slow connections open: stopped in {:?}", start.elapsed());
    assert!(start.elapsed() < Duration::from_secs(4), "shutting down took {:?}", start.elapsed());
}

/// An idle keep-alive connection is kept past the header timeout (it is not in the
/// middle of a request) and closed after the idle timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let env = [("GATEHOUSE_HEADER_TIMEOUT_SECS", "1"), ("GATEHOUSE_IDLE_TIMEOUT_SECS", "3")];
    let options = Options { env: env.map(|(k, v)| (k.into(), v.into())).to_vec(), ..Default::default() };
    let server = Server::start_with(Backend::Sqlite, options).await;
    let address = server.base.trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let request = b"GET /health HTTP/1.1\r\nHost: gatehouse\r\n\r\n";

    stream.write_all(request).await.unwrap();
    assert!(status_line(&mut stream).await.contains(" 200 "));
    tokio::time::sleep(Duration::from_millis(1800)).await;
    stream.write_all(request).await.unwrap();
    assert!(status_line(&mut stream).await.contains(" 200 "), "an idle connection was closed by the header timeout");

    let idle = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(6)).await, "an idle connection was kept 6 s");
    let kept = idle.elapsed();
    eprintln!("an idle keep-alive connection was closed after {kept:?} (idle timeout 3 s)");
    assert!(kept > Duration::from_millis(2500) && kept < Duration::from_millis(4500), "closed after {kept:?} idle");
}
