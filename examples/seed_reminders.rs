//! Seeds the reminders benchmark (`cargo xtask bench --only mail`): a user holding
//! `review_lead`, and COUNT cases of the shipped `annual-code-review` workflow opened
//! through the app services, each its own committed transaction with its audit event.
//! The app's clock is set [`BACK`] before now, so that each case's
//! `chase_impact_evidence` reminder (due three weeks after the case opens, then weekly)
//! is due when `gatehouse serve` starts on the real clock. Prints `seeded COUNT`.
//!
//! Usage: seed_reminders DATABASE_URL WORKFLOWS_DIR DATA_DIR COUNT

use gatehouse::app::{App, AppConfig};
use gatehouse::clock::FixedClock;
use gatehouse_adapters::store::{Store, StoreConfig};
use gatehouse_engine::fields::Input;
use gatehouse_engine::snapshot::Actor;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How far back the cases are opened: the reminder is due three weeks after, so a day
/// before now.
const BACK: jiff::SignedDuration = jiff::SignedDuration::from_hours(22 * 24);
/// The workflow, and the role its reminder goes to.
const WORKFLOW: &str = "annual-code-review";
const LEAD: &str = "review_lead";
const LEAD_EMAIL: &str = "review-lead@leeds.example";
/// Cases opened at once (SQLite serialises the commits; a few in flight keep it busy).
const TASKS: usize = 8;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, workflows, data, count] = args.as_slice() else {
        anyhow::bail!("usage: seed_reminders DATABASE_URL WORKFLOWS_DIR DATA_DIR COUNT")
    };
    let count: usize = count.parse()?;
    let store = Store::connect(&StoreConfig::new(url.as_str())).await?;
    store.migrate().await?;
    let config = AppConfig {
        database_url: url.clone(),
        workflows: workflows.into(),
        data_dir: data.into(),
        max_upload_bytes: 1 << 20,
        oversight_roles: Vec::new(),
    };
    let opened = jiff::Timestamp::now().checked_sub(BACK)?;
    let clock = Arc::new(FixedClock::new(opened));
    let (app, _) = App::new(store.clone(), &config, clock).await?;
    store.add_user(LEAD_EMAIL, "Review lead", &[LEAD.to_string()], opened).await?;
    let app = Arc::new(app);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let (app, next) = (app.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let actor = Actor::user(LEAD_EMAIL, [LEAD]);
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    return anyhow::Ok(());
                }
                let fields = [("review_year".to_string(), Input::Int(2000 + (n % 25) as i64))];
                app.create_case(&actor, WORKFLOW, &fields).await?;
                if (n + 1) % (count / 10).max(1) == 0 {
                    eprintln!("seed_reminders: {} of {count}", n + 1);
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    println!("seeded {count}");
    Ok(())
}
