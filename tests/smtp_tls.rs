//! SMTP over TLS and with a login, end to end: the dispatcher sends the outbox through
//! the transport `WorkerSettings` makes (as `gatehouse serve` does) to the real SMTP
//! server on loopback (python3-aiosmtpd), speaking STARTTLS or TLS from the first byte
//! with a certificate of its own CA (self-signed, made by rcgen) that Gatehouse trusts
//! only through the CA file (`GATEHOUSE_SMTP_CA_FILE`). On real SQLite and PostgreSQL,
//! with a fixed clock; the tests call the worker steps directly.

mod support;

use gatehouse::app::App;
use gatehouse::app::workers::WorkerSettings;
use gatehouse::clock::FixedClock;
use gatehouse_adapters::mail::MailOutcome;
use gatehouse_adapters::store::Delivery;
use jiff::ToSpan;
use std::path::Path;
use std::sync::Arc;
use support::smtp::{ServerTls, SmtpOptions, SmtpServer, TlsMode};
use support::tls::LoopbackCert;
use support::workers::{Rig, rig, sent_keys, settings};
use support::{Backend, TestDb, alice, fresh_db, lcc_fields};

const PROVIDER: &str = "director@kirkstall.example.org";
const USER: &str = "gatehouse";
const PASSWORD: &str = "s3cret";

/// A Leeds decommissioning case taken to `engagement`: the early engagement letter is
/// queued for the provider. Returns its idempotency key.
async fn letter_queued(app: &App) -> String {
    let a = alice();
    let id = app.create_case(&a, "lcc-decommissioning", &lcc_fields(650_000, "2027-03-31")).await.unwrap().case.id;
    app.attach_document(&a, id, "needs_assessment", "needs.pdf", "application/pdf", b"needs").await.unwrap();
    app.request_transition(&a, id, "start_engagement", None).await.unwrap();
    format!("case/{id}/1/early_engagement_letter/1")
}

/// Settings sending to `url`, trusting `ca_file` beside the webpki roots.
fn smtp_settings(db: &TestDb, url: String, ca_file: Option<&Path>) -> WorkerSettings {
    WorkerSettings { smtp_ca_file: ca_file.map(Path::to_path_buf), ..settings(Some(url), db.dir.path()) }
}

async fn worker(db: &TestDb, settings: &WorkerSettings) -> Rig {
    rig(db, settings, Arc::new(FixedClock::new(support::start())), "worker-1").await
}

/// The one outcome of a step that did not send: its error.
fn retried(outcomes: &[MailOutcome]) -> String {
    match outcomes {
        [MailOutcome::Retry { error, .. }] => error.clone(),
        other => panic!("expected one message to be retried, got {other:?}"),
    }
}

/// The message is still queued after `attempts` failed attempts, `error` kept.
async fn still_queued(rig: &Rig, key: &str, attempts: u32, error: &str) {
    let (_, delivery) = rig.app.store().message_by_key(key).await.unwrap().unwrap();
    assert!(
        matches!(&delivery, Delivery::Pending { attempts: a, last_error: Some(e), .. } if *a == attempts && e == error),
        "{delivery:?}"
    );
}

async fn starttls(backend: Backend) {
    let cert = LoopbackCert::new();
    let smtp = SmtpServer::start(SmtpOptions {
        tls: Some(ServerTls::new(TlsMode::StartTls, &cert)),
        ..SmtpOptions::default()
    });
    let db = fresh_db(backend).await;
    let url = format!("smtp://127.0.0.1:{}?tls=required", smtp.port);
    let rig = worker(&db, &smtp_settings(&db, url, Some(&cert.cert))).await;
    let key = letter_queued(&rig.app).await;

    assert_eq!(sent_keys(&rig.send_due_mail().await), [key]);
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].rcpt_to, [PROVIDER]);
    assert!(mail[0].tls().starts_with("starttls TLSv1."), "sent after STARTTLS, not {:?}", mail[0].tls());
    assert_eq!(mail[0].login(), "none");
    db.drop_database().await;
}
on_both!(a_message_goes_over_starttls_to_a_relay_whose_ca_is_in_the_ca_file, starttls);

async fn implicit(backend: Backend) {
    let cert = LoopbackCert::new();
    let smtp = SmtpServer::start(SmtpOptions {
        tls: Some(ServerTls::new(TlsMode::Implicit, &cert)),
        login: Some((USER.into(), PASSWORD.into())),
        ..SmtpOptions::default()
    });
    let db = fresh_db(backend).await;
    let url = format!("smtps://{USER}:{PASSWORD}@127.0.0.1:{}", smtp.port);
    let rig = worker(&db, &smtp_settings(&db, url, Some(&cert.cert))).await;
    let key = letter_queued(&rig.app).await;

    assert_eq!(sent_keys(&rig.send_due_mail().await), [key]);
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].rcpt_to, [PROVIDER]);
    assert!(mail[0].tls().starts_with("implicit TLSv1."), "sent over TLS from the first byte, not {:?}", mail[0].tls());
    assert_eq!(mail[0].login(), USER);
    db.drop_database().await;
}
on_both!(a_message_goes_over_implicit_tls_with_a_login, implicit);

/// A wrong password is Gatehouse's misconfiguration, not the message's fault: the
/// server's 535 keeps the message queued with the error (retried with backoff, never
/// failed or escalated), and once the password is put right it goes out.
async fn login(backend: Backend) {
    let cert = LoopbackCert::new();
    let smtp = SmtpServer::start(SmtpOptions {
        tls: Some(ServerTls::new(TlsMode::StartTls, &cert)),
        login: Some((USER.into(), PASSWORD.into())),
        ..SmtpOptions::default()
    });
    let db = fresh_db(backend).await;
    let url = |password: &str| format!("smtp://{USER}:{password}@127.0.0.1:{}?tls=required", smtp.port);
    let wrong = worker(&db, &smtp_settings(&db, url("wrong"), Some(&cert.cert))).await;
    let key = letter_queued(&wrong.app).await;

    let error = retried(&wrong.send_due_mail().await);
    assert!(error.contains("refused Gatehouse's login") && error.contains("535"), "{error}");
    assert!(!error.contains("wrong"), "the password is not in the error: {error}");
    still_queued(&wrong, &key, 1, &error).await;
    assert_eq!(smtp.messages().len(), 0, "nothing was delivered");

    let right = worker(&db, &smtp_settings(&db, url(PASSWORD), Some(&cert.cert))).await;
    right.advance(31.seconds());
    assert_eq!(sent_keys(&right.send_due_mail().await), [key]);
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1);
    assert_eq!((mail[0].login(), mail[0].rcpt_to.as_slice()), (USER, [PROVIDER.to_string()].as_slice()));
    assert!(mail[0].tls().starts_with("starttls TLSv1."), "{:?}", mail[0].tls());
    db.drop_database().await;
}
on_both!(a_wrong_smtp_password_keeps_the_message_queued_until_it_is_put_right, login);

/// Without the CA file the relay's certificate is not trusted: the handshake fails, the
/// certificate error is kept on the queued message, and nothing goes out in clear. With
/// the CA file configured, the message goes at its next attempt.
async fn untrusted(backend: Backend, mode: TlsMode) {
    let cert = LoopbackCert::new();
    let smtp = SmtpServer::start(SmtpOptions { tls: Some(ServerTls::new(mode, &cert)), ..SmtpOptions::default() });
    let db = fresh_db(backend).await;
    let url = match mode {
        TlsMode::StartTls => format!("smtp://127.0.0.1:{}?tls=required", smtp.port),
        TlsMode::Implicit => format!("smtps://127.0.0.1:{}", smtp.port),
    };
    let without = worker(&db, &smtp_settings(&db, url.clone(), None)).await;
    let key = letter_queued(&without.app).await;

    let error = retried(&without.send_due_mail().await);
    assert!(error.contains("certificate") && error.contains("UnknownIssuer"), "{error}");
    still_queued(&without, &key, 1, &error).await;
    assert_eq!(smtp.messages().len(), 0, "nothing was delivered");

    let with = worker(&db, &smtp_settings(&db, url, Some(&cert.cert))).await;
    with.advance(31.seconds());
    assert_eq!(sent_keys(&with.send_due_mail().await), [key]);
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1);
    assert_ne!(mail[0].tls(), "none");
    db.drop_database().await;
}

async fn untrusted_starttls(backend: Backend) {
    untrusted(backend, TlsMode::StartTls).await
}
on_both!(without_the_ca_file_starttls_to_an_internal_relay_fails_and_the_message_waits, untrusted_starttls);

async fn untrusted_implicit(backend: Backend) {
    untrusted(backend, TlsMode::Implicit).await
}
on_both!(without_the_ca_file_implicit_tls_to_an_internal_relay_fails_and_the_message_waits, untrusted_implicit);

/// `gatehouse serve` with a CA file that is not there stops at start, exit code 2,
/// saying which file and why; it neither panics nor serves.
#[test]
fn serve_with_a_missing_ca_file_stops_at_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("relay-ca.pem");
    let mut child = support::server::gatehouse()
        .arg("serve")
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.path().join("gatehouse.db").display()))
        .arg("--workflows")
        .arg(support::workflows_dir())
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--listen", "127.0.0.1:0", "--smtp-url", "smtp://127.0.0.1:25?tls=required"])
        .arg("--smtp-ca-file")
        .arg(&missing)
        .env_remove("GATEHOUSE_SMTP_URL")
        .env_remove("GATEHOUSE_SMTP_CA_FILE")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("gatehouse serve started although its CA file is missing");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    let expected = format!("GATEHOUSE_SMTP_CA_FILE `{}` is not usable: it cannot be read", missing.display());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
