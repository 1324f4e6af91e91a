//! A scheduler and outbox dispatcher over one app, with the steps called directly by
//! the tests (no loops, no sleeping) and the clock fixed.

use super::TestDb;
use gatehouse::app::App;
use gatehouse::app::workers::{AppHost, WorkerSettings};
use gatehouse::clock::FixedClock;
use gatehouse_adapters::links::LinkSigner;
use gatehouse_adapters::mail::{self, MailContext, MailOutcome, Transport};
use gatehouse_adapters::scheduler::Wake;
use gatehouse_adapters::scheduler::schedules::{self, ScheduleContext, ScheduleOutcome};
use gatehouse_adapters::scheduler::timers::{self, TimerContext, TimerOutcome};
use gatehouse_adapters::store::StoreConfig;
use std::sync::Arc;
use std::time::Duration;

/// The link secret the tests sign with.
pub const SECRET: &str = "a test secret that is long enough to sign with";

/// One "process": an app and its workers' contexts.
pub struct Rig {
    pub app: Arc<App>,
    pub clock: Arc<FixedClock>,
    pub timers: TimerContext<AppHost>,
    pub mail: MailContext<AppHost>,
    pub schedules: ScheduleContext<AppHost>,
    pub signer: LinkSigner,
}

/// Settings with a known secret and public address.
pub fn settings(smtp_url: Option<String>, outbox_dir: &std::path::Path) -> WorkerSettings {
    WorkerSettings {
        smtp_url,
        outbox_dir: outbox_dir.to_path_buf(),
        secret: Some(SECRET.into()),
        base_url: "https://gatehouse.test".into(),
        mail_from: "Gatehouse <gatehouse@leeds.example>".into(),
        ..WorkerSettings::default()
    }
}

/// A rig over `db`, with its own connection pool (as a separate process would have).
pub async fn rig(db: &TestDb, settings: &WorkerSettings, clock: Arc<FixedClock>, owner: &str) -> Rig {
    let store = gatehouse_adapters::store::Store::connect(&StoreConfig::new(&db.url)).await.unwrap();
    store.migrate().await.unwrap();
    let (app, _) = App::new(store.clone(), &db.config(), clock.clone()).await.unwrap();
    let app = Arc::new(app);
    let host = Arc::new(AppHost::new(app.clone(), clock.clone()));
    let transport: Arc<dyn Transport> = settings.transport().unwrap();
    let config = settings.mail_config(db.dir.path()).unwrap();
    Rig {
        timers: TimerContext {
            store: store.clone(),
            host: host.clone(),
            owner: owner.to_string(),
            lease: Duration::from_secs(300),
            retry: Duration::from_secs(60),
            wake: Wake::new(),
        },
        mail: MailContext { store: store.clone(), host: host.clone(), transport, config, owner: owner.to_string() },
        schedules: ScheduleContext { store, host },
        app,
        clock,
        signer: LinkSigner::new(SECRET.as_bytes()).unwrap(),
    }
}

impl Rig {
    /// Fire timers until none is due.
    pub async fn fire_due_timers(&self) -> Vec<TimerOutcome> {
        let mut out = Vec::new();
        for _ in 0..100_000 {
            match timers::try_run_due(&self.timers).await.unwrap().as_slice() {
                [TimerOutcome::Idle { .. }] => return out,
                done => out.extend_from_slice(done),
            }
        }
        panic!("timers never ran out: {out:?}");
    }

    /// Send messages until none is due.
    pub async fn send_due_mail(&self) -> Vec<MailOutcome> {
        let mut out = Vec::new();
        for _ in 0..100_000 {
            match mail::try_run_due(&self.mail).await.unwrap().as_slice() {
                [MailOutcome::Idle { .. }] => return out,
                done => out.extend_from_slice(done),
            }
        }
        panic!("the outbox never ran dry: {out:?}");
    }

    /// Fire schedules until none is due.
    pub async fn fire_due_schedules(&self) -> Vec<ScheduleOutcome> {
        let mut out = Vec::new();
        for _ in 0..1000 {
            match schedules::try_run_due(&self.schedules).await.unwrap() {
                ScheduleOutcome::Idle { .. } => return out,
                o => out.push(o),
            }
        }
        panic!("schedules never ran out: {out:?}");
    }

    /// Move the clock on.
    pub fn advance(&self, span: jiff::Span) {
        use gatehouse::clock::Clock;
        let next = self.clock.now().to_zoned(jiff::tz::TimeZone::UTC).checked_add(span).unwrap().timestamp();
        self.clock.set(next);
    }

    /// Add a user holding `roles`.
    pub async fn add_user(&self, email: &str, roles: &[&str]) {
        use gatehouse::clock::Clock;
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        self.app.store().add_user(email, email, &roles, self.clock.now()).await.unwrap();
    }
}

/// The idempotency keys of `outcomes`, each of which must be a sent message.
pub fn sent_keys(outcomes: &[MailOutcome]) -> Vec<String> {
    outcomes
        .iter()
        .map(|o| match o {
            MailOutcome::Sent { key, .. } => key.clone(),
            other => panic!("expected every message sent, got {other:?}"),
        })
        .collect()
}
