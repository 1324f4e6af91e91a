//! The application services: each loads a case, asks the engine, and applies the
//! decision. No business rule lives here: whether something may happen is decided by
//! `gatehouse_engine`; how it is stored, by `gatehouse_adapters::store`.

use crate::clock::Clock;
use gatehouse_adapters::scheduler::Wake;
use gatehouse_adapters::store::documents::NewDocument;
use gatehouse_adapters::store::{AuditHead, Definitions, FileStore, Published, Store, StoreError};
use gatehouse_engine::access::{Oversight, may_read};
use gatehouse_engine::decide::{Command, Decision, decide, open, open_child};
use gatehouse_engine::definition::Definition;
use gatehouse_engine::fields::Input;
use gatehouse_engine::gates::{Standing, Unmet};
use gatehouse_engine::ids::TransitionId;
use gatehouse_engine::snapshot::{
    Actor, ActorKind, Answer, CaseSnapshot, EvidenceContent, Meeting, ParentCase, Verdict,
};
use gatehouse_engine::{Library, gates};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

mod definitions;
mod documents;
pub mod drafts;
mod error;
pub mod migration;
pub mod people;
mod publish;
mod reads;
pub mod tokens;
pub mod workers;
pub use documents::{DocumentStream, safe_file_name};
pub use error::AppError;
pub use publish::publish_folder;

/// How the app is set up.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Database URL.
    pub database_url: String,
    /// The workflows folder.
    pub workflows: std::path::PathBuf,
    /// Where evidence files are stored.
    pub data_dir: std::path::PathBuf,
    /// Largest evidence file accepted, in bytes.
    pub max_upload_bytes: u64,
    /// Roles whose holders read every case (a governance group, internal audit), beside
    /// the holders of each workflow's own roles.
    pub oversight_roles: Vec<String>,
}

/// A case with its definition and where each next step stands.
#[derive(Debug, Clone)]
pub struct CaseView {
    /// The definition the case is pinned to.
    pub definition: Arc<Definition>,
    /// The case.
    pub case: CaseSnapshot,
    /// Each outgoing transition: allowed, or why not.
    pub transitions: Vec<TransitionView>,
}

/// One next step.
#[derive(Debug, Clone)]
pub struct TransitionView {
    /// Its id.
    pub id: TransitionId,
    /// Where it goes.
    pub to: String,
    /// Whether it may happen now (for someone allowed to request it).
    pub allowed: bool,
    /// Whether the person the view was made for may request it.
    pub may_request: bool,
    /// Why it does not apply, when its `when` is false.
    pub not_applicable: Option<String>,
    /// Unmet gates.
    pub unmet: Vec<Unmet>,
}

impl From<Standing<'_>> for TransitionView {
    fn from(Standing { status, may_request }: Standing<'_>) -> Self {
        TransitionView {
            id: status.transition.id.clone(),
            to: status.transition.to.to_string(),
            allowed: status.allowed(),
            may_request: may_request.is_ok(),
            not_applicable: status.applies.err(),
            unmet: status.unmet,
        }
    }
}

/// The services.
pub struct App {
    store: Store,
    files: FileStore,
    definitions: RwLock<Definitions>,
    /// How many versions were published when `definitions` was last read from the store.
    published: std::sync::atomic::AtomicU64,
    library: Library,
    clock: Arc<dyn Clock>,
    max_upload_bytes: u64,
    wake: Wake,
    oversight: Oversight,
    governance: drafts::Governance,
}

/// What publishing a workflows folder did, per file.
#[derive(Debug)]
pub struct PublishReport {
    /// (file, workflow id, version, what happened).
    pub files: Vec<(String, String, u32, Published)>,
}

/// How many times a command without an expected version is retried when another
/// request changed the case between load and commit.
const RETRIES: usize = 5;

impl App {
    /// Build the app over an open store: read and publish the workflows folder, load
    /// every published definition.
    pub async fn new(store: Store, config: &AppConfig, clock: Arc<dyn Clock>) -> anyhow::Result<(App, PublishReport)> {
        let (library, report) = publish_folder(&store, &config.workflows, clock.now()).await?;
        // Counted before reading, so that a version published in between is read at the
        // next refresh rather than never.
        let published = store.published_count().await?;
        let (definitions, problems) = store.definitions(&library).await?;
        for p in problems {
            tracing::warn!("{p}");
        }
        let app = App {
            store,
            files: open_files(&config.data_dir).await?,
            definitions: RwLock::new(definitions),
            published: published.into(),
            library,
            clock,
            max_upload_bytes: config.max_upload_bytes,
            wake: Wake::new(),
            oversight: Oversight::new(config.oversight_roles.iter().cloned()),
            governance: drafts::Governance::default(),
        };
        Ok((app, report))
    }

    /// The time now, by the app's clock.
    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    /// The largest evidence file accepted, in bytes.
    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_bytes
    }

    /// The store (for the scheduler and health checks).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The handle that wakes the scheduler and the outbox dispatcher.
    pub fn wake(&self) -> Wake {
        self.wake.clone()
    }

    /// After a decision commits: wake the workers if it armed a timer or queued a message.
    fn poke_if_needed(&self, decision: &Decision) {
        if !decision.arm.is_empty() || !decision.messages.is_empty() {
            self.wake.poke();
        }
    }

    /// The file store: where uploads are received before they are stored.
    pub fn files(&self) -> &FileStore {
        &self.files
    }

    /// The templates and calendars of the workflows folder.
    pub fn library(&self) -> &Library {
        &self.library
    }

    async fn load(&self, case_id: i64) -> Result<(Arc<Definition>, CaseSnapshot), AppError> {
        let (def, snapshot, _) = self.load_for_change(case_id).await?;
        Ok((def, snapshot))
    }

    /// A case, its definition, and the end of its audit trail, which a decision made
    /// against it is chained to.
    async fn load_for_change(&self, case_id: i64) -> Result<(Arc<Definition>, CaseSnapshot, AuditHead), AppError> {
        let loaded = self.store.load(case_id).await.map_err(not_found)?;
        let def = match self.definition(&loaded.row) {
            Ok(def) => def,
            // Moved to a version published since this node last looked: read it now.
            Err(_) => {
                self.refresh_definitions().await?;
                self.definition(&loaded.row)?
            }
        };
        let head = loaded.head.clone();
        let mut snapshot = loaded.snapshot(&def)?;
        if !def.children.is_empty() {
            // Read from the children's own rows, as the gates on them need.
            snapshot.children = self.store.children_of(case_id).await?;
        }
        if def.parent.is_some() {
            snapshot.parent = self.parent_of(case_id).await?;
        }
        Ok((def, snapshot, head))
    }

    /// The case child case `case_id` was opened from, as its letters read it: read
    /// afresh each time, so that they say what the parent says now.
    async fn parent_of(&self, case_id: i64) -> Result<Option<ParentCase>, AppError> {
        let Some(parent_id) = self.store.case_row(case_id).await?.parent_id else { return Ok(None) };
        let loaded = self.store.load(parent_id).await?;
        let def = self.definition(&loaded.row)?;
        let parent = loaded.snapshot(&def)?;
        Ok(Some(ParentCase::of(&def, &parent)))
    }

    /// `case` and where its next steps stand for `actor`.
    fn view(&self, actor: &Actor, definition: Arc<Definition>, case: CaseSnapshot) -> CaseView {
        let transitions = gates::evaluate(&definition, &case, actor, self.clock.now())
            .into_iter()
            .map(TransitionView::from)
            .collect();
        CaseView { definition, case, transitions }
    }

    /// A case and where its next steps stand, for Gatehouse itself and for views that
    /// decide themselves what to show (a provider's link). People read a case through
    /// [`App::case_for`].
    pub async fn case(&self, case_id: i64) -> Result<CaseView, AppError> {
        let (def, snapshot) = self.load(case_id).await?;
        Ok(self.view(&Actor::system(), def, snapshot))
    }

    /// Whether `actor` may read the cases pinned to `definition` (the engine's rule:
    /// a role of the workflow, or an oversight role of the installation).
    pub fn may_read(&self, actor: &Actor, definition: &Definition) -> bool {
        may_read(definition, actor, &self.oversight)
    }

    /// A case, read by `actor`. A case they may not read is answered as not found, as
    /// one that does not exist, so that its existence is not revealed.
    pub async fn case_for(&self, actor: &Actor, case_id: i64) -> Result<CaseView, AppError> {
        let (def, snapshot) = self.load(case_id).await?;
        if !self.may_read(actor, &def) {
            return Err(hidden(case_id));
        }
        Ok(self.view(actor, def, snapshot))
    }

    /// Refuse a person who may not read case `case_id` anything on it, as if it did not
    /// exist: a change they may not make must not tell them the case is there. Links
    /// are scoped to their own case by the HTTP layer, and Gatehouse reaches every case.
    fn reaches(&self, actor: &Actor, definition: &Definition, case_id: i64) -> Result<(), AppError> {
        if actor.kind == ActorKind::User && !self.may_read(actor, definition) {
            return Err(hidden(case_id));
        }
        Ok(())
    }

    /// Open a case on the latest version of `workflow`.
    pub async fn create_case(
        &self,
        actor: &Actor,
        workflow: &str,
        fields: &[(String, Input)],
    ) -> Result<CaseView, AppError> {
        let def = self.workflow(workflow)?;
        let decided = open(&def, fields, actor, self.clock.now())?;
        let case = self.store.create(&def, &decided).await?;
        self.poke_if_needed(&decided.decision);
        Ok(self.view(actor, def, case))
    }

    /// Open a child case of case `parent_id` in `group` (`children:` of its workflow),
    /// on the latest version of the child workflow, with `fields`: the parent's
    /// decision and the new case are stored in one transaction. When another request
    /// changed the parent in between, decide again on the fresh parent. Returns the
    /// child.
    pub async fn open_child(
        &self,
        actor: &Actor,
        parent_id: i64,
        group: &str,
        fields: &[(String, Input)],
    ) -> Result<CaseView, AppError> {
        let mut attempt = 0;
        loop {
            let (def, parent, head) = self.load_for_change(parent_id).await?;
            self.reaches(actor, &def, parent_id)?;
            let child_def = match def.children.get(group) {
                Some(g) => self.workflow(&g.workflow)?,
                None => def.clone(), // the engine refuses an unknown group, with a hint
            };
            let opened = open_child(&def, &parent, group, &child_def, fields, actor, self.clock.now())?;
            match self.store.open_child(&parent, &head, &child_def, &opened).await {
                Ok((parent_after, mut child)) => {
                    child.parent = Some(ParentCase::of(&def, &parent_after));
                    self.poke_if_needed(&opened.child.decision);
                    return Ok(self.view(actor, child_def, child));
                }
                Err(StoreError::Conflict { expected, actual }) if attempt >= RETRIES => {
                    return Err(AppError::Conflict { expected, actual });
                }
                Err(StoreError::Conflict { .. }) => attempt += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Load, decide, apply; when another request changed the case in between and the
    /// caller did not pin a version, decide again on the fresh case.
    async fn run(&self, case_id: i64, actor: &Actor, command: Command) -> Result<CaseView, AppError> {
        self.run_with(case_id, actor, command, None).await
    }

    /// [`App::run`], storing the `document` the command attaches, if any, in the same
    /// transaction as the decision (nothing is stored when the engine refuses it).
    async fn run_with(
        &self,
        case_id: i64,
        actor: &Actor,
        command: Command,
        document: Option<NewDocument<'_>>,
    ) -> Result<CaseView, AppError> {
        let pinned = matches!(command, Command::Transition { expected_version: Some(_), .. });
        let mut attempt = 0;
        loop {
            let (def, before, head) = self.load_for_change(case_id).await?;
            self.reaches(actor, &def, case_id)?;
            let decided = decide(&def, &before, &command, actor, self.clock.now())?;
            let applied = match &document {
                Some(document) => self.store.apply_with_document(&before, &head, &decided, document).await,
                None => self.store.apply(&before, &head, &decided).await,
            };
            match applied {
                Ok(after) => {
                    self.poke_if_needed(&decided.decision);
                    return Ok(self.view(actor, def, after));
                }
                Err(StoreError::Conflict { expected, actual }) if pinned || attempt >= RETRIES => {
                    return Err(AppError::Conflict { expected, actual });
                }
                Err(StoreError::Conflict { .. }) => attempt += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Set or clear fields.
    pub async fn set_fields(
        &self,
        actor: &Actor,
        case_id: i64,
        fields: Vec<(String, Input)>,
    ) -> Result<CaseView, AppError> {
        self.run(case_id, actor, Command::SetFields(fields)).await
    }

    /// Amend fields, locked or not, as the workflow's `amend:` allows, giving `reason`.
    pub async fn amend(
        &self,
        actor: &Actor,
        case_id: i64,
        fields: Vec<(String, Input)>,
        reason: String,
    ) -> Result<CaseView, AppError> {
        self.run(case_id, actor, Command::Amend { fields, reason }).await
    }

    /// Answer checklist items (they add to earlier answers).
    pub async fn answer_checklist(
        &self,
        actor: &Actor,
        case_id: i64,
        evidence: &str,
        answers: BTreeMap<String, (Answer, Option<String>)>,
    ) -> Result<CaseView, AppError> {
        self.run(
            case_id,
            actor,
            Command::Attach { evidence: evidence.to_string(), content: EvidenceContent::Checklist(answers) },
        )
        .await
    }

    /// Acknowledge (a provider confirming notice, say).
    pub async fn acknowledge(
        &self,
        actor: &Actor,
        case_id: i64,
        evidence: &str,
        note: Option<String>,
    ) -> Result<CaseView, AppError> {
        self.run(
            case_id,
            actor,
            Command::Attach { evidence: evidence.to_string(), content: EvidenceContent::Acknowledgement { note } },
        )
        .await
    }

    /// Record an approval or rejection.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_approval(
        &self,
        actor: &Actor,
        case_id: i64,
        role: &str,
        verdict: Verdict,
        comment: Option<String>,
        meeting: Option<Meeting>,
        conflict: Option<String>,
    ) -> Result<CaseView, AppError> {
        self.run(case_id, actor, Command::Approve { role: role.to_string(), verdict, comment, meeting, conflict }).await
    }

    /// Declare a conflict of interest.
    pub async fn declare_conflict(
        &self,
        actor: &Actor,
        case_id: i64,
        role: &str,
        reason: &str,
    ) -> Result<CaseView, AppError> {
        self.run(case_id, actor, Command::DeclareConflict { role: role.to_string(), reason: reason.to_string() }).await
    }

    /// Make the user `owner` (an email address) the commissioner responsible for the
    /// case: its letters name them, and they are told when its messages fail. They must
    /// be a user who holds one of the workflow's roles (the engine decides).
    pub async fn reassign(&self, actor: &Actor, case_id: i64, owner: &str) -> Result<CaseView, AppError> {
        let Some(user) = self.store.user_by_email(owner).await? else {
            return Err(AppError::Invalid(vec![gatehouse_engine::decide::Problem {
                field: Some("owner".into()),
                message: format!("`{}` is not the email address of a user of Gatehouse", owner.trim()),
            }]));
        };
        self.run(case_id, actor, Command::Reassign { to: Actor::user(user.email, user.roles) }).await
    }

    /// Move a case. With `expected_version`, a case that changed since is a conflict.
    pub async fn request_transition(
        &self,
        actor: &Actor,
        case_id: i64,
        transition: &str,
        expected_version: Option<i64>,
    ) -> Result<CaseView, AppError> {
        self.run(case_id, actor, Command::Transition { transition: transition.to_string(), expected_version }).await
    }

    /// A due timer fires.
    pub async fn fire_timer(&self, case_id: i64, timer: &str) -> Result<CaseView, AppError> {
        self.run(case_id, &Actor::system(), Command::FireTimer { timer: timer.to_string() }).await
    }

    /// Several due timers fire, given as (case, timer): each is decided on its own, and
    /// their decisions are committed in one transaction (one commit for the batch, which
    /// is what lets the scheduler keep up with many timers due at once). A decision whose
    /// case moved on meanwhile (two timers of one case in the batch, say) is made again
    /// on its own, as [`App::fire_timer`] does. One answer per timer, in order.
    pub async fn fire_timers(&self, timers: &[(i64, String)]) -> Vec<Result<(), AppError>> {
        let actor = Actor::system();
        let now = self.clock.now();
        // Every timer's answer is set below: refused or failed here, or by the batch.
        let mut answers: Vec<Result<(), AppError>> = timers.iter().map(|_| Ok(())).collect();
        let mut decided = Vec::new();
        for (i, (case_id, timer)) in timers.iter().enumerate() {
            let command = Command::FireTimer { timer: timer.clone() };
            let decision = match self.load_for_change(*case_id).await {
                Ok((def, before, head)) => match decide(&def, &before, &command, &actor, now) {
                    Ok(decided) => Ok((before, head, decided)),
                    Err(refusal) => Err(refusal.into()),
                },
                Err(e) => Err(e),
            };
            match decision {
                Ok(d) => decided.push((i, d)),
                Err(e) => answers[i] = Err(e),
            }
        }
        let batch: Vec<_> = decided.iter().map(|(_, (before, head, decided))| (before, head, decided)).collect();
        let applied = match self.store.apply_many(&batch).await {
            Ok(applied) => applied,
            Err(e) => {
                // Nothing was applied: each is fired on its own, with its own answer.
                tracing::warn!(error = %e, "firing timers together failed; firing them one at a time");
                decided.iter().map(|_| None).collect()
            }
        };
        for ((i, (_, _, decided)), after) in decided.iter().zip(applied) {
            if after.is_some() {
                self.poke_if_needed(&decided.decision);
            } else {
                let (case_id, timer) = &timers[*i];
                answers[*i] = self.fire_timer(*case_id, timer).await.map(|_| ());
            }
        }
        answers
    }
}

/// The evidence file store under `data_dir`, its folders made where missing.
async fn open_files(data_dir: &Path) -> anyhow::Result<FileStore> {
    use anyhow::Context as _;
    let dir = data_dir.to_path_buf();
    tokio::task::spawn_blocking(move || FileStore::open(&dir))
        .await
        .context("the task preparing the evidence folders stopped")?
        .with_context(|| format!("cannot prepare the evidence folders under {}", data_dir.display()))
}

/// What a person who may not read case `id` is told: what they would be told if it
/// did not exist.
fn hidden(case_id: i64) -> AppError {
    not_found(StoreError::NotFound(format!("case {case_id}")))
}

fn not_found(e: StoreError) -> AppError {
    match e {
        StoreError::NotFound(what) => AppError::NotFound(what),
        other => AppError::Internal(other),
    }
}
