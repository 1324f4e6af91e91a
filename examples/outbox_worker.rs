//! Fires due timers and sends due messages, as the workers of `gatehouse serve` do, one
//! step at a time until nothing is due, then prints `done`. `tests/delivery.rs` kills it
//! with SIGKILL at random moments while it sends, and checks that every message is
//! sent after a restart.
//!
//! Usage: outbox_worker DATABASE_URL WORKFLOWS_DIR DATA_DIR SMTP_URL SECRET

use gatehouse::app::workers::{AppHost, WorkerSettings};
use gatehouse::app::{App, AppConfig};
use gatehouse::clock::SystemClock;
use gatehouse_adapters::mail::{self, MailContext, MailOutcome};
use gatehouse_adapters::scheduler::Wake;
use gatehouse_adapters::scheduler::timers::{self, TimerContext, TimerOutcome};
use gatehouse_adapters::store::{Store, StoreConfig};
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, workflows, data, smtp, secret] = args.as_slice() else {
        anyhow::bail!("usage: outbox_worker DATABASE_URL WORKFLOWS_DIR DATA_DIR SMTP_URL SECRET")
    };
    let store = Store::connect(&StoreConfig::new(url.as_str())).await?;
    let config = AppConfig {
        database_url: url.clone(),
        workflows: workflows.into(),
        data_dir: data.into(),
        max_upload_bytes: 1 << 20,
        oversight_roles: Vec::new(),
    };
    let clock = Arc::new(SystemClock);
    let (app, _) = App::new(store.clone(), &config, clock.clone()).await?;
    let host = Arc::new(AppHost::new(Arc::new(app), clock));
    // The sender the tests use (tests/support/workers.rs), so Message-IDs match theirs.
    let settings = WorkerSettings {
        smtp_url: Some(smtp.clone()),
        secret: Some(secret.clone()),
        mail_from: "Gatehouse <gatehouse@leeds.example>".into(),
        ..WorkerSettings::default()
    };
    let owner = format!("outbox-worker-{}", std::process::id());
    let timers = TimerContext {
        store: store.clone(),
        host: host.clone(),
        owner: owner.clone(),
        lease: Duration::from_secs(300),
        retry: Duration::from_secs(60),
        wake: Wake::new(),
    };
    let mail = MailContext {
        store,
        host,
        transport: settings.transport()?,
        config: settings.mail_config(data.as_ref())?,
        owner,
    };
    println!("ready");
    loop {
        let t = timers::try_run_due(&timers).await?;
        let m = mail::try_run_due(&mail).await?;
        if matches!((t.as_slice(), m.as_slice()), ([TimerOutcome::Idle { .. }], [MailOutcome::Idle { .. }])) {
            break;
        }
    }
    println!("done");
    Ok(())
}
