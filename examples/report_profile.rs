//! Times the reports that read many cases (the governance dashboard, a page of the
//! contracts register and its whole CSV) in process, against a database already full of
//! cases, so that `perf record` can show where their time goes:
//!
//! ```sh
//! cargo build --release --example report_profile
//! perf record -g target/release/examples/report_profile sqlite://big.db workflows data
//! ```
//!
//! The reader holds an oversight role, so every case is theirs to read. Prints one line
//! per report: its name and the milliseconds of each of three runs.
//!
//! Usage: report_profile DATABASE_URL WORKFLOWS_DIR DATA_DIR

use futures_util::StreamExt as _;
use gatehouse::app::{App, AppConfig};
use gatehouse::clock::SystemClock;
use gatehouse::reports::{contracts, governance};
use gatehouse_adapters::store::{Store, StoreConfig};
use gatehouse_engine::snapshot::Actor;
use std::sync::Arc;
use std::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, workflows, data] = args.as_slice() else {
        anyhow::bail!("usage: report_profile DATABASE_URL WORKFLOWS_DIR DATA_DIR")
    };
    let store = Store::connect(&StoreConfig::new(url.as_str())).await?;
    store.migrate().await?;
    let config = AppConfig {
        database_url: url.clone(),
        workflows: workflows.into(),
        data_dir: data.into(),
        max_upload_bytes: 1 << 20,
        oversight_roles: vec!["audit".into()],
    };
    let (app, _) = App::new(store, &config, Arc::new(SystemClock)).await?;
    let app = Arc::new(app);
    let reader = match std::env::var("REPORT_READER_ROLE") {
        Ok(role) => Actor::user("reader@example.org", [role.as_str()]),
        Err(_) => Actor::user("auditor@example.org", ["audit"]),
    };
    let times = |name: &str, ms: Vec<f64>| {
        let ms: Vec<String> = ms.iter().map(|m| format!("{m:.1}")).collect();
        println!("{name}: {} ms", ms.join(" "));
    };
    let mut ms = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        governance::dashboard(&app, &reader).await?;
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times("governance dashboard", std::mem::take(&mut ms));
    for _ in 0..3 {
        let started = Instant::now();
        contracts::register_page(&app, &reader, &contracts::ContractFilter::default(), 0, 100).await?;
        contracts::directorates(&app, &reader).await?;
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times("contracts register, first page", std::mem::take(&mut ms));
    for _ in 0..3 {
        let started = Instant::now();
        let mut csv = contracts::csv_stream(app.clone(), reader.clone(), contracts::ContractFilter::default());
        let mut bytes = 0;
        while let Some(chunk) = csv.next().await {
            bytes += chunk?.len();
        }
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(bytes > 0, "the CSV is empty");
    }
    times("contracts register as CSV", ms);
    Ok(())
}
