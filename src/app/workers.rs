//! The application side of the workers: [`AppHost`] lets the scheduler and the outbox
//! dispatcher (in `gatehouse_adapters`) fire timers through the app services and read
//! cases, and [`start_workers`] sets them up from [`WorkerSettings`] for
//! `gatehouse serve`.

use crate::app::{App, AppError};
use crate::clock::Clock;
use anyhow::{Context, Result};
use gatehouse_adapters::host::{Host, HostError};
use gatehouse_adapters::links::{self, LinkSigner};
use gatehouse_adapters::mail::recipients::Links;
use gatehouse_adapters::mail::smtp::ExtraRoots;
use gatehouse_adapters::mail::{Backoff, FileTransport, MailConfig, SmtpTransport, Transport};
use gatehouse_adapters::scheduler::{Wake, WorkerConfig, Workers, run_workers};
use gatehouse_engine::Definition;
use gatehouse_engine::snapshot::CaseSnapshot;
use gatehouse_engine::templates::{self, TemplateSource};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The app as the workers see it, with the clock they read.
pub struct AppHost {
    app: Arc<App>,
    clock: Arc<dyn Clock>,
}

impl AppHost {
    /// `clock` must be the app's own clock, or a timer may look not yet due to it.
    pub fn new(app: Arc<App>, clock: Arc<dyn Clock>) -> AppHost {
        AppHost { app, clock }
    }
}

impl Host for AppHost {
    fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    async fn fire_timer(&self, case_id: i64, timer: &str) -> Result<(), HostError> {
        self.app.fire_timer(case_id, timer).await.map(|_| ()).map_err(host_error)
    }

    async fn fire_timers(&self, timers: &[(i64, String)]) -> Vec<Result<(), HostError>> {
        self.app.fire_timers(timers).await.into_iter().map(|answer| answer.map_err(host_error)).collect()
    }

    async fn case(&self, case_id: i64) -> Result<(Arc<Definition>, CaseSnapshot), HostError> {
        match self.app.case(case_id).await {
            Ok(view) => Ok((view.definition, view.case)),
            Err(AppError::NotFound(m)) => Err(HostError::NotFound(m)),
            Err(e) => Err(HostError::Failed(e.to_string())),
        }
    }

    fn workflow(&self, id: &str) -> Option<Arc<Definition>> {
        self.app.workflow(id).ok()
    }

    fn workflows(&self) -> Vec<Arc<Definition>> {
        self.app.workflows()
    }

    fn template(&self, name: &str) -> Option<TemplateSource> {
        self.app.library().templates.get(name).cloned().or_else(|| gatehouse_engine::templates::builtin(name))
    }
}

/// What a refusal or failure of the app means to a worker: not found, refused (do not
/// try again now), or failed (try again later).
fn host_error(e: AppError) -> HostError {
    match e {
        AppError::NotFound(m) => HostError::NotFound(m),
        e @ (AppError::Invalid(_) | AppError::NotAllowed(_) | AppError::NotAvailable(_) | AppError::Blocked { .. }) => {
            HostError::Refused(e.to_string())
        }
        e @ (AppError::Conflict { .. } | AppError::Edited(_) | AppError::Internal(_)) => {
            HostError::Failed(e.to_string())
        }
    }
}

/// Settings for the scheduler and the outbox (`gatehouse serve`), each also read from a
/// `GATEHOUSE_*` variable.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerSettings {
    /// SMTP server: `smtp://user:pass@host:587?tls=required` (STARTTLS),
    /// `smtps://user:pass@host:465` (implicit TLS), `smtp://host:25`. Unset: messages are
    /// written as .eml files to --outbox-dir.
    #[arg(long, env = "GATEHOUSE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// A PEM file of CA certificates that SMTP's TLS (STARTTLS and smtps://) trusts
    /// beside the webpki roots: for a relay whose certificate comes from an internal CA.
    #[arg(long, env = "GATEHOUSE_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,
    /// SMTP connections kept open.
    #[arg(long, env = "GATEHOUSE_SMTP_POOL", default_value_t = 4)]
    pub smtp_pool: u32,
    /// Where messages are written when no SMTP server is set.
    #[arg(long, env = "GATEHOUSE_OUTBOX_DIR", default_value = "outbox")]
    pub outbox_dir: PathBuf,
    /// The sender of every message.
    #[arg(long, env = "GATEHOUSE_MAIL_FROM", default_value = "Gatehouse <gatehouse@localhost>")]
    pub mail_from: String,
    /// The server's public address, for links in messages.
    #[arg(long, env = "GATEHOUSE_BASE_URL", default_value = "http://127.0.0.1:8080")]
    pub base_url: String,
    /// The secret provider links are signed with (at least 32 bytes). Unset: a random
    /// one kept in DATA_DIR/secret. Processes sharing a database must share it.
    #[arg(long, env = "GATEHOUSE_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// How many days a provider link works.
    #[arg(long, env = "GATEHOUSE_LINK_DAYS", default_value_t = 60)]
    pub link_days: u32,
    /// The template of the message sent when a message cannot be delivered.
    #[arg(long, env = "GATEHOUSE_ESCALATION_TEMPLATE", default_value = "outbox-delivery-failed")]
    pub escalation_template: String,
    /// The role told (with the case's owner) when a message cannot be delivered.
    #[arg(long, env = "GATEHOUSE_ESCALATION_ROLE", default_value = "commissioner")]
    pub escalation_role: String,
    /// How many messages this process sends at once.
    #[arg(long, env = "GATEHOUSE_MAIL_WORKERS", default_value_t = 4)]
    pub mail_workers: usize,
    /// How many timers this process fires at once.
    #[arg(long, env = "GATEHOUSE_TIMER_WORKERS", default_value_t = 2)]
    pub timer_workers: usize,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            smtp_url: None,
            smtp_ca_file: None,
            smtp_pool: 4,
            outbox_dir: "outbox".into(),
            mail_from: "Gatehouse <gatehouse@localhost>".into(),
            base_url: "http://127.0.0.1:8080".into(),
            secret: None,
            link_days: 60,
            escalation_template: "outbox-delivery-failed".into(),
            escalation_role: "commissioner".into(),
            mail_workers: 4,
            timer_workers: 2,
        }
    }
}

impl WorkerSettings {
    /// Where messages go: the SMTP server, or the outbox folder. Call it inside the
    /// tokio runtime (the SMTP pool starts a task). Fails when the SMTP URL or the CA
    /// file cannot be used.
    pub fn transport(&self) -> Result<Arc<dyn Transport>> {
        Ok(match &self.smtp_url {
            Some(url) if !url.trim().is_empty() => {
                Arc::new(SmtpTransport::from_url(url.trim(), self.smtp_pool, &self.smtp_roots()?)?)
            }
            _ => Arc::new(FileTransport::new(&self.outbox_dir)),
        })
    }

    /// The certificates of the CA file, if one is set: trusted beside the webpki roots.
    fn smtp_roots(&self) -> Result<ExtraRoots> {
        let Some(path) = &self.smtp_ca_file else { return Ok(ExtraRoots::default()) };
        let roots = ExtraRoots::from_pem_file(path)?;
        tracing::info!(file = %path.display(), certificates = roots.len(), "SMTP trusts the CA file beside the webpki roots");
        Ok(roots)
    }

    /// The signer for provider links: the configured secret, or the one kept in
    /// `data_dir/secret` (created on first use).
    pub fn signer(&self, data_dir: &Path) -> Result<LinkSigner> {
        let secret = match &self.secret {
            Some(s) if !s.is_empty() => s.as_bytes().to_vec(),
            _ => {
                let path = data_dir.join("secret");
                links::load_or_create_secret(&path)
                    .with_context(|| format!("reading the link secret {}", path.display()))?
            }
        };
        Ok(LinkSigner::new(&secret)?)
    }

    /// The dispatcher's settings.
    pub fn mail_config(&self, data_dir: &Path) -> Result<MailConfig> {
        let from = self
            .mail_from
            .parse()
            .with_context(|| format!("GATEHOUSE_MAIL_FROM `{}` is not an address", self.mail_from))?;
        Ok(MailConfig {
            from,
            links: Links {
                signer: self.signer(data_dir)?,
                base_url: self.base_url.clone(),
                valid_for: jiff::SignedDuration::from_hours(24 * i64::from(self.link_days)),
            },
            escalation_template: self.escalation_template.clone(),
            escalation_role: self.escalation_role.clone(),
            backoff: Backoff::default(),
            lease: Duration::from_secs(5 * 60),
        })
    }
}

/// Start the scheduler and the outbox dispatcher for `app`. `wake` is the handle the
/// app pokes after a decision; `data_dir` holds the link secret when none is set.
/// Fails (rather than at 3am) when the escalation template is missing or broken.
pub fn start_workers(
    app: Arc<App>,
    clock: Arc<dyn Clock>,
    settings: &WorkerSettings,
    data_dir: &Path,
    wake: Wake,
) -> Result<Workers> {
    let name = &settings.escalation_template;
    let source = app
        .library()
        .templates
        .get(name)
        .with_context(|| format!("the escalation template `{name}` is not in the workflows folder's templates/"))?;
    let problems = templates::check(source, &[], false);
    anyhow::ensure!(problems.is_empty(), "the escalation template `{name}` is broken: {}", problems.join("; "));
    let transport = settings.transport()?;
    let mail = settings.mail_config(data_dir)?;
    let config = WorkerConfig {
        timer_tasks: settings.timer_workers,
        mail_tasks: settings.mail_workers,
        ..WorkerConfig::default()
    };
    let host = Arc::new(AppHost::new(app.clone(), clock));
    Ok(run_workers(host, app.store().clone(), transport, mail, config, wake))
}
