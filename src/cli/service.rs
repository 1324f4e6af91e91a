//! The commands that run against the database: `migrate`, `workflows publish`,
//! `audit verify` and `serve`.

use crate::app::{App, AppConfig, publish_folder};
use crate::cli::authoring::Status;
use crate::clock::{Clock, SystemClock};
use anyhow::{Context, Result};
use gatehouse_adapters::store::{Published, Store, StoreConfig};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// The store at `url` and every published workflow version, read with the templates and
/// calendars of the `workflows` folder; a version that no longer loads is written to
/// `out` as a warning.
pub async fn published(
    url: &str,
    workflows: &std::path::Path,
    out: &mut dyn std::io::Write,
) -> Result<(Store, gatehouse_adapters::store::Definitions)> {
    let store = connect(url).await?;
    let (library, _) = gatehouse_adapters::workflows::read_library(workflows)
        .with_context(|| format!("reading {}", workflows.display()))?;
    let (definitions, problems) = store.definitions(&library).await?;
    for p in problems {
        writeln!(out, "warning: {p}")?;
    }
    Ok((store, definitions))
}

/// Open the database named by `url`, with a clear message when it cannot be reached.
pub async fn connect(url: &str) -> Result<Store> {
    Ok(Store::connect(&StoreConfig::new(url)).await?)
}

/// [`connect`], with new documents' bytes kept in `document_store` (`database`, or an
/// `s3://` URL).
pub async fn connect_with_documents(url: &str, document_store: &str) -> Result<Store> {
    let config = StoreConfig { document_store: Some(document_store.to_string()), ..StoreConfig::new(url) };
    Ok(Store::connect(&config).await?)
}

/// `gatehouse migrate`
pub async fn migrate(url: &str, out: &mut dyn Write) -> Result<Status> {
    let store = connect(url).await?;
    let applied = store.migrate().await.context("applying migrations")?;
    writeln!(out, "{applied} migration(s) applied; the schema is up to date")?;
    Ok(Status::Ok)
}

/// `gatehouse workflows publish PATH…`: every workflow in the folders (or files) given.
pub async fn publish(url: &str, paths: &[PathBuf], out: &mut dyn Write) -> Result<Status> {
    let store = connect(url).await?;
    store.migrate().await.context("applying migrations")?;
    let mut status = Status::Ok;
    for path in paths {
        let folder = if path.is_dir() { path.clone() } else { path.parent().map(PathBuf::from).unwrap_or_default() };
        match publish_folder(&store, &folder, SystemClock.now()).await {
            Ok((_, report)) => {
                for (file, id, version, outcome) in report.files {
                    let what = match outcome {
                        Published::New => "published",
                        Published::Unchanged => "unchanged",
                    };
                    writeln!(out, "{what}: {file}: {id} v{version}")?;
                }
            }
            Err(e) => {
                writeln!(out, "error: {e:#}")?;
                status = Status::InputWrong;
            }
        }
    }
    Ok(status)
}

/// `gatehouse audit verify`
pub async fn audit_verify(url: &str, out: &mut dyn Write) -> Result<Status> {
    let store = connect(url).await?;
    let (cases, broken) = store.verify_audit().await?;
    for b in &broken {
        writeln!(out, "case {}: broken at event {}: {}", b.case_id, b.seq, b.reason)?;
    }
    if broken.is_empty() {
        writeln!(out, "ok: the audit trails of {cases} case(s) are intact")?;
        Ok(Status::Ok)
    } else {
        writeln!(out, "{} of {cases} case(s) have a broken audit trail", broken.len())?;
        Ok(Status::InputWrong)
    }
}

/// Settings for `gatehouse serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The app.
    pub app: AppConfig,
    /// Where new documents' bytes are kept: `database`, or an `s3://` URL.
    pub document_store: String,
    /// Where to listen.
    pub listen: SocketAddr,
    /// How often to look for versions published elsewhere.
    pub definitions_poll: std::time::Duration,
    /// Who changes workflows in the product.
    pub governance: crate::app::drafts::Governance,
    /// The scheduler and the outbox.
    pub workers: crate::app::workers::WorkerSettings,
    /// HTTP limits and timeouts.
    pub http: crate::http::HttpSettings,
    /// Signing in through an identity provider.
    pub oidc: crate::web::oidc::settings::OidcSettings,
}

/// `gatehouse serve`: apply migrations, publish the workflows folder, serve HTTP until
/// interrupted.
pub async fn serve(config: ServeConfig) -> Result<Status> {
    // The identity provider first: a server whose people cannot sign in should say so
    // at once, not after its migrations.
    let oidc = if config.oidc.enabled()? {
        let provider = crate::web::oidc::provider::Provider::discover(&config.oidc, &config.workers.base_url).await?;
        tracing::info!(
            issuer = config.oidc.issuer.as_deref().unwrap_or_default(),
            "people sign in through the identity provider"
        );
        Some(Arc::new(provider))
    } else {
        None
    };
    let store = connect_with_documents(&config.app.database_url, &config.document_store).await?;
    if let Some(objects) = store.objects() {
        tracing::info!(document_store = %objects, "new documents are kept in an object store");
    }
    let applied = store.migrate().await.context("applying migrations")?;
    if applied > 0 {
        tracing::info!(applied, "migrations applied");
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (app, report) = App::new(store, &config.app, clock.clone()).await?;
    for (file, id, version, outcome) in report.files {
        tracing::info!(%file, %id, version, ?outcome, "workflow");
    }
    let mut governance = config.governance;
    governance.provider_roles = oidc.as_ref().map(|p| p.roles.managed()).unwrap_or_default();
    let app = Arc::new(app.with_governance(governance));
    let signer = config.workers.signer(&config.app.data_dir)?;
    let workers =
        crate::app::workers::start_workers(app.clone(), clock, &config.workers, &config.app.data_dir, app.wake())?;
    let refresher = tokio::spawn(refresh_definitions(app.clone(), config.definitions_poll));
    let public_https = config.workers.base_url.starts_with("https://");
    let public_origin = crate::web::sign_in::origin(&config.workers.base_url);
    let http =
        Arc::new(crate::http::Http { app, signer, users: Default::default(), public_https, public_origin, oidc });
    let router = crate::http::router(http, &config.http);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, "gatehouse is serving");
    // In-flight requests finish; then the workers stop claiming, finish what they hold,
    // and any lease they could not release expires on its own.
    let (timeouts, max_connections) = (config.http.timeouts(), config.http.max_connections as usize);
    crate::http::serve::serve(listener, router, timeouts, max_connections, shutdown()).await;
    refresher.abort();
    workers.shutdown().await;
    Ok(Status::Ok)
}

/// Every `every`, load the workflow versions published since the last look (by another
/// node sharing the database, or `gatehouse workflows publish`).
async fn refresh_definitions(app: Arc<App>, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match app.refresh_definitions().await {
            Ok(added) => {
                for (id, version) in added {
                    tracing::info!(%id, version, "workflow version published elsewhere is now served");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the published workflow versions"),
        }
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
