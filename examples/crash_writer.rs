//! Writes Leeds decommissioning cases through the app services, as fast as it can,
//! until it is killed. `tests/crash.rs` kills it with SIGKILL at random moments and
//! checks that nothing was half-written. Several writers work at once, each on cases of
//! its own, so that on SQLite their decisions queue behind each other's commits and go
//! in groups (one transaction for several decisions): a kill lands in those too.
//!
//! Usage: crash_writer DATABASE_URL WORKFLOWS_DIR DATA_DIR

use gatehouse::app::{App, AppConfig};
use gatehouse::clock::SystemClock;
use gatehouse_adapters::store::{Store, StoreConfig};
use gatehouse_engine::fields::Input;
use gatehouse_engine::snapshot::{Actor, Answer};
use std::sync::Arc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, workflows, data] = args.as_slice() else {
        anyhow::bail!("usage: crash_writer DATABASE_URL WORKFLOWS_DIR DATA_DIR")
    };
    let store = Store::connect(&StoreConfig::new(url.as_str())).await?;
    store.migrate().await?;
    let config = AppConfig {
        database_url: url.clone(),
        workflows: workflows.into(),
        data_dir: data.into(),
        max_upload_bytes: 1 << 20,
        oversight_roles: Vec::new(),
    };
    let (app, _) = App::new(store, &config, Arc::new(SystemClock)).await?;
    let app = Arc::new(app);
    println!("ready");
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        writers.spawn(write_cases(app.clone(), writer));
    }
    while let Some(done) = writers.join_next().await {
        done??;
    }
    Ok(())
}

/// How many writers work at once.
const WRITERS: u64 = 4;

/// Take case after case to the key decision, until killed.
async fn write_cases(app: Arc<App>, writer: u64) -> anyhow::Result<()> {
    let a = Actor::user("writer@example.org", ["commissioner"]);
    for k in 0u64.. {
        // Every document has content of its own, so each is a new file.
        let n = writer * 1_000_000_000 + k;
        let fields = vec![
            ("service_name".to_string(), Input::Text(format!("Service {n}"))),
            ("provider_name".into(), Input::Text("Provider".into())),
            ("provider_email".into(), Input::Text("p@example.org".into())),
            ("directorate".into(), Input::Text("Adults and Health".into())),
            ("annual_value".into(), Input::Int(650_000)),
            ("contract_end".into(), Input::Text("2030-03-31".into())),
            ("decision_meeting_on".into(), Input::Text("2030-01-31".into())),
        ];
        let id = app.create_case(&a, "lcc-decommissioning", &fields).await?.case.id;
        app.attach_document(&a, id, "needs_assessment", "n.pdf", "application/pdf", format!("needs {n}").as_bytes())
            .await?;
        app.request_transition(&a, id, "start_engagement", None).await?;
        for item in ["financial_requirements", "political_perspective", "service_user_needs", "parents_and_carers"] {
            let answers = [(item.to_string(), (Answer::Yes, None))].into_iter().collect();
            app.answer_checklist(&a, id, "decommissioning_checklist", answers).await?;
        }
        for e in ["equality_impact_assessment", "service_impact_assessment", "consultation", "provider_engagement"] {
            app.attach_document(&a, id, e, "doc.pdf", "application/pdf", format!("{e} {n}").as_bytes()).await?;
        }
        app.request_transition(&a, id, "submit_key_decision", None).await?;
    }
    Ok(())
}
