//! Delivery under concurrency and crashes: several workers on one database fire each
//! due timer once and send each message once; a worker killed with SIGKILL while it
//! sends loses nothing; the worker loops wake when poked.

mod support;

use gatehouse::app::App;
use gatehouse::app::workers::start_workers;
use gatehouse::clock::{Clock, FixedClock};
use gatehouse_adapters::mail::{self, MailOutcome};
use gatehouse_adapters::scheduler::Wake;
use gatehouse_adapters::scheduler::timers::{self, TimerOutcome};
use gatehouse_adapters::store::entities::outbox;
use gatehouse_engine::snapshot::Actor;
use sea_orm::EntityTrait;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use support::smtp::{SmtpOptions, SmtpServer};
use support::workers::{SECRET, rig, settings};
use support::{Backend, fresh_db, lcc_fields};

/// Cases in `engagement` whose contract ends within seven months: each has queued the
/// early engagement letter (to the provider) and has a timer due at once (the notice
/// deadline, to the commissioner).
async fn cases_with_due_timers(app: &App, n: usize) -> Vec<i64> {
    let a = Actor::user("alice@leeds.example", ["commissioner"]);
    let mut ids = Vec::new();
    for _ in 0..n {
        let id = app.create_case(&a, "lcc-decommissioning", &lcc_fields(650_000, "2026-06-30")).await.unwrap().case.id;
        app.attach_document(&a, id, "needs_assessment", "needs.pdf", "application/pdf", b"needs").await.unwrap();
        app.request_transition(&a, id, "start_engagement", None).await.unwrap();
        ids.push(id);
    }
    ids
}

/// Every outbox row is sent, each Message-ID reached the server at least once, and
/// returns how many arrived more than once.
async fn all_sent_once_or_more(app: &App, smtp: &SmtpServer, expected_rows: usize) -> usize {
    let rows = outbox::Entity::find().all(app.store().connection()).await.unwrap();
    assert_eq!(rows.len(), expected_rows, "one message per case event, no timer fired twice");
    let unsent: Vec<_> =
        rows.iter().filter(|r| r.sent_at.is_none()).map(|r| (&r.idempotency_key, &r.last_error)).collect();
    assert_eq!(unsent, Vec::<(&String, &Option<String>)>::new(), "every message is sent");
    let received = smtp.messages();
    let ids: BTreeSet<String> = received.iter().map(|m| m.message_id().to_string()).collect();
    assert_eq!(ids.len(), expected_rows, "every message reached the server");
    received.len() - ids.len()
}

async fn race(backend: Backend) {
    let db = fresh_db(backend).await;
    let smtp = SmtpServer::start(SmtpOptions::default());
    let clock = Arc::new(FixedClock::new(support::start()));
    let s = settings(Some(smtp.url()), db.dir.path());
    let mut rigs = Vec::new();
    for name in ["worker-1", "worker-2", "worker-3"] {
        rigs.push(Arc::new(rig(&db, &s, clock.clone(), name).await));
    }
    rigs[0].add_user("alice@leeds.example", &["commissioner"]).await;
    let n = 40;
    cases_with_due_timers(&rigs[0].app, n).await;

    // Three workers, each with its own connection pool, race for the same rows.
    let mut tasks = Vec::new();
    for r in &rigs {
        let r = r.clone();
        tasks.push(tokio::spawn(async move {
            let (mut fired, mut sent) = (0, 0);
            loop {
                let t = timers::try_run_due(&r.timers).await.unwrap();
                let m = mail::try_run_due(&r.mail).await.unwrap();
                fired += t.iter().filter(|t| matches!(t, TimerOutcome::Fired { .. })).count();
                sent += m.iter().filter(|m| matches!(m, MailOutcome::Sent { .. })).count();
                assert!(t.iter().all(|t| matches!(t, TimerOutcome::Fired { .. } | TimerOutcome::Idle { .. })), "{t:?}");
                assert!(m.iter().all(|m| matches!(m, MailOutcome::Sent { .. } | MailOutcome::Idle { .. })), "{m:?}");
                if matches!((t.as_slice(), m.as_slice()), ([TimerOutcome::Idle { .. }], [MailOutcome::Idle { .. }])) {
                    return (fired, sent);
                }
            }
        }));
    }
    let mut totals = (0, 0);
    let mut per_worker = Vec::new();
    for t in tasks {
        let (f, s) = t.await.unwrap();
        per_worker.push((f, s));
        totals = (totals.0 + f, totals.1 + s);
    }
    assert_eq!(totals, (n, 2 * n), "every timer fired once and every message was sent once: {per_worker:?}");
    assert_eq!(all_sent_once_or_more(&rigs[0].app, &smtp, 2 * n).await, 0, "no message was sent twice");
    db.drop_database().await;
}
on_both!(workers_racing_on_one_database_fire_and_send_everything_once, race);

fn worker() -> PathBuf {
    support::example("outbox_worker")
}

async fn killed(backend: Backend) {
    let db = fresh_db(backend).await;
    let smtp = SmtpServer::start(SmtpOptions::default());
    let clock = Arc::new(FixedClock::new(support::start()));
    let s = settings(Some(smtp.url()), db.dir.path());
    let setup = rig(&db, &s, clock.clone(), "setup").await;
    setup.add_user("alice@leeds.example", &["commissioner"]).await;
    let n = 60;
    cases_with_due_timers(&setup.app, n).await;

    let exe = worker();
    let data = db.dir.path().to_path_buf();
    let mut kills = 0;
    // Eight kills, and more if a slow machine got no mail out before them.
    for round in 0..40u64 {
        if round >= 8 && !smtp.messages().is_empty() {
            break;
        }
        let mut child = Command::new(&exe)
            .args([
                &db.url,
                &support::workflows_dir().display().to_string(),
                &data.display().to_string(),
                &smtp.url(),
                SECRET,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the worker started");
        // Kill it in the middle of its work: a different moment each round.
        tokio::time::sleep(Duration::from_millis(150 + round * 131 % 400)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
    }
    assert!(!smtp.messages().is_empty(), "the killed workers got some mail out before they were killed");

    // Restart once the dead workers' leases have run out: everything due goes out.
    clock.set(jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_hours(1)).unwrap());
    let restarted = rig(&db, &s, clock.clone(), "restarted").await;
    restarted.fire_due_timers().await;
    restarted.send_due_mail().await;
    let twice = all_sent_once_or_more(&restarted.app, &smtp, 2 * n).await;
    // The messages a killed worker sent are marked sent together at the end of their
    // batch, so a kill resends at most the batch it fell in.
    assert!(
        twice <= kills * mail::dispatch::BATCH,
        "a message is sent twice only when a kill fell between the server's acceptance and the end of its batch: {twice} duplicates for {kills} kills"
    );
    let (_, broken) = restarted.app.store().verify_audit().await.unwrap();
    assert_eq!(broken, vec![], "every audit chain is intact");
    db.drop_database().await;
}
on_both!(a_worker_killed_while_sending_loses_no_message, killed);

async fn poked(backend: Backend) {
    let db = fresh_db(backend).await;
    let smtp = SmtpServer::start(SmtpOptions::default());
    let (app, clock) = db.app().await;
    let app = Arc::new(app);
    let wake = Wake::new();
    let s = settings(Some(smtp.url()), db.dir.path());
    let workers = start_workers(app.clone(), clock.clone() as Arc<dyn Clock>, &s, db.dir.path(), wake.clone()).unwrap();
    // The workers looked, found nothing, and sleep (for up to a minute). A decision
    // queues a message; the poke wakes them and it goes out at once.
    tokio::task::yield_now().await;
    let a = Actor::user("alice@leeds.example", ["commissioner"]);
    let id = app.create_case(&a, "lcc-decommissioning", &lcc_fields(650_000, "2027-03-31")).await.unwrap().case.id;
    app.attach_document(&a, id, "needs_assessment", "needs.pdf", "application/pdf", b"needs").await.unwrap();
    app.request_transition(&a, id, "start_engagement", None).await.unwrap();
    wake.poke();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while smtp.messages().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the poked workers did not send the message");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    workers.shutdown().await;
    assert_eq!(smtp.messages().len(), 1);
    db.drop_database().await;
}
on_both!(the_worker_loops_wake_when_poked, poked);
