//! Governance groups change workflows in the product: a draft is started from a
//! published version (or a new workflow's text), edited and checked on every save with
//! the loader `gatehouse validate` runs, proposed, approved by members of the governance
//! role other than its author, and published as the next version, which Gatehouse
//! numbers. Who governs, and how many approvals a draft needs, are the installation's
//! settings (`--governance-role`, `--draft-quorum`).

use super::{App, AppError};
use gatehouse_adapters::store::CaseFilter;
use gatehouse_adapters::store::codec;
use gatehouse_adapters::store::drafts::{DraftChange, DraftRow, DraftWrite, status};
use gatehouse_engine::calendar::Calendar;
use gatehouse_engine::decide::Problem;
use gatehouse_engine::diagnostics::{Diagnostic, Severity};
use gatehouse_engine::scenario::Outcome;
use gatehouse_engine::snapshot::Actor;
use gatehouse_engine::templates::TemplateSource;
use gatehouse_engine::{Definition, Library, load};
use std::sync::Arc;

/// The largest draft accepted, in bytes of YAML: twice the largest shipped workflow.
pub const MAX_DRAFT_BYTES: usize = 256 * 1024;

/// Who governs the workflows, and how many must approve a draft.
#[derive(Debug, Clone)]
pub struct Governance {
    /// Roles whose holders start, edit, propose, approve and publish drafts.
    pub roles: Vec<String>,
    /// How many members other than its author must approve a draft before it is
    /// published.
    pub quorum: usize,
    /// Roles whose holders administer people: they see and revoke everyone's API tokens.
    pub admin_roles: Vec<String>,
    /// Roles the identity provider's groups decide (`--oidc-role-map`): set at each
    /// sign-in, so not given or taken in the product.
    pub provider_roles: Vec<String>,
}

impl Default for Governance {
    fn default() -> Self {
        Governance { roles: Vec::new(), quorum: 2, admin_roles: Vec::new(), provider_roles: Vec::new() }
    }
}

/// What checking a draft found.
#[derive(Debug)]
pub struct DraftCheck {
    /// The version it would be published as.
    pub version: u32,
    /// Errors and warnings, each at its line and column.
    pub problems: Vec<Diagnostic>,
    /// The workflow, when it loads.
    pub definition: Option<Definition>,
    /// Its scenarios' results, when it loads.
    pub scenarios: Vec<Outcome>,
}

impl DraftCheck {
    /// Whether any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(Diagnostic::is_error)
    }
}

/// A draft's letter templates and working-day calendars, by name, each with whether
/// the draft changed (or added) it.
#[derive(Debug, Default)]
pub struct DraftFiles {
    /// Templates.
    pub templates: Vec<(String, TemplateSource, bool)>,
    /// Calendars.
    pub calendars: Vec<(String, Arc<Calendar>, bool)>,
}

/// One open case a draft would affect if it were moved to it.
#[derive(Debug)]
pub struct Affected {
    /// The case.
    pub case_id: i64,
    /// The version it is on.
    pub version: u32,
    /// The state it is in.
    pub state: String,
    /// What would change for it, or why it could not be moved.
    pub lines: Vec<String>,
    /// Whether it could be moved at all (without a state mapping).
    pub movable: bool,
}

impl App {
    /// [`App`] with the installation's governance settings.
    pub fn with_governance(mut self, governance: Governance) -> App {
        self.governance = governance;
        self
    }

    /// The installation's governance settings.
    pub fn governance(&self) -> &Governance {
        &self.governance
    }

    /// Whether `actor` holds a governance role.
    pub fn governs(&self, actor: &Actor) -> bool {
        self.governance.roles.iter().any(|r| actor.has_role(r))
    }

    pub(super) fn govern(&self, actor: &Actor) -> Result<(), AppError> {
        if self.governance.roles.is_empty() {
            return Err(AppError::NotAllowed(
                "no governance role is set for this installation (`--governance-role`), so nobody changes workflows here"
                    .into(),
            ));
        }
        if !self.governs(actor) {
            return Err(AppError::NotAllowed(format!(
                "changing workflows is for members of {}",
                self.governance.roles.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(" or ")
            )));
        }
        Ok(())
    }

    /// Every draft, for a governance member.
    pub async fn drafts(&self, actor: &Actor) -> Result<Vec<DraftRow>, AppError> {
        self.govern(actor)?;
        Ok(self.store.drafts().await?)
    }

    /// Draft `id`, for a governance member.
    pub async fn draft(&self, actor: &Actor, id: i64) -> Result<DraftRow, AppError> {
        self.govern(actor)?;
        self.store.draft(id).await.map_err(super::not_found)
    }

    /// Start a draft of published workflow `workflow`, from its latest version's text.
    pub async fn start_draft(&self, actor: &Actor, workflow: &str) -> Result<i64, AppError> {
        self.govern(actor)?;
        let latest = self
            .store
            .latest_published(workflow)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("unknown workflow `{workflow}`")))?;
        let source = self.store.published_source(workflow, latest).await?;
        Ok(self.store.create_draft(workflow, Some(latest), &source, &actor.id, self.now()).await?)
    }

    /// Start a draft of a new workflow from `source` (an uploaded file): its `id:` names it.
    pub async fn start_new_draft(&self, actor: &Actor, source: &str) -> Result<i64, AppError> {
        self.govern(actor)?;
        within_limit(source)?;
        let id = top_level(source, "id").ok_or_else(|| invalid("source", "the file has no top-level `id:`"))?;
        if self.store.latest_published(&id).await?.is_some() {
            return Err(invalid("source", &format!("`{id}` is published already: start a draft from it instead")));
        }
        Ok(self.store.create_draft(&id, None, source, &actor.id, self.now()).await?)
    }

    /// Save `source` as draft `id`, made on `revision`: the new revision. A proposed
    /// draft goes back to being a draft, and the approvals it had no longer count.
    pub async fn save_draft(&self, actor: &Actor, id: i64, revision: i64, source: &str) -> Result<i64, AppError> {
        self.govern(actor)?;
        within_limit(source)?;
        let change = DraftChange {
            revision,
            from: &[status::DRAFT, status::PROPOSED],
            to: status::DRAFT,
            source: Some(source),
            library: None,
            kind: "saved",
            actor: &actor.id,
            detail: format!("saved revision {}", revision + 1),
            bump: true,
        };
        written(self.store.change_draft(id, &change, self.now()).await?, revision)
    }

    /// Check draft `row` as `gatehouse validate` checks a file, numbered as the version
    /// it would be published as; with its scenarios run when it loads.
    pub async fn check_draft(&self, row: &DraftRow) -> Result<DraftCheck, AppError> {
        let version = self.store.latest_published(&row.workflow_id).await?.map_or(1, |v| v + 1);
        let text = with_version(&row.source, version);
        let name = format!("draft {}", row.id);
        let library = self.draft_library(row)?;
        let mut check = match load(&name, &text, &library) {
            Ok(loaded) => {
                let scenarios = gatehouse_engine::scenario::run_all(&loaded.definition, &loaded.scenarios);
                DraftCheck { version, problems: loaded.warnings, definition: Some(loaded.definition), scenarios }
            }
            Err(problems) => DraftCheck { version, problems, definition: None, scenarios: Vec::new() },
        };
        if let Some(def) = &check.definition
            && def.id != row.workflow_id
        {
            let line = text.lines().position(|l| l.starts_with("id:")).map_or(1, |i| i + 1);
            check.problems.push(Diagnostic {
                file: name,
                line,
                column: 1,
                severity: Severity::Error,
                message: format!("this is a draft of `{}`, so its id must stay `{}`", row.workflow_id, row.workflow_id),
                hint: Some("start a draft of a new workflow to publish it under another id".into()),
            });
            check.definition = None;
        }
        check.problems.sort_by_key(|d| (d.line, d.column));
        Ok(check)
    }

    /// Propose draft `id` (at `revision`) for approval: refused while it has errors or
    /// a scenario fails.
    pub async fn propose_draft(&self, actor: &Actor, id: i64, revision: i64) -> Result<i64, AppError> {
        self.govern(actor)?;
        let row = self.store.draft(id).await.map_err(super::not_found)?;
        let check = self.check_draft(&row).await?;
        let failing = check.scenarios.iter().filter(|o| o.failure.is_some()).count();
        if check.has_errors() || failing > 0 {
            let errors = check.problems.iter().filter(|d| d.is_error()).count();
            return Err(AppError::NotAvailable(format!(
                "the draft has {errors} error(s) and {failing} failing scenario(s): it can be saved, but not proposed until they are fixed"
            )));
        }
        let change = DraftChange {
            revision,
            from: &[status::DRAFT],
            to: status::PROPOSED,
            source: None,
            library: None,
            kind: "proposed",
            actor: &actor.id,
            detail: format!("proposed revision {} for approval", revision + 1),
            bump: true,
        };
        written(self.store.change_draft(id, &change, self.now()).await?, revision)
    }

    /// Who has approved draft `row` as it now stands (its current revision, proposed).
    pub async fn draft_approvals(&self, row: &DraftRow) -> Result<Vec<String>, AppError> {
        let marker = approval_marker(row.revision);
        let mut who: Vec<String> = self
            .store
            .draft_events(row.id)
            .await?
            .into_iter()
            .filter(|e| e.kind == "approved" && e.detail == marker)
            .map(|e| e.actor)
            .collect();
        who.dedup();
        Ok(if row.status == status::PROPOSED { who } else { Vec::new() })
    }

    /// Approve draft `id` as proposed at `revision`: not by its author, once per member.
    pub async fn approve_draft(&self, actor: &Actor, id: i64, revision: i64) -> Result<(), AppError> {
        self.govern(actor)?;
        let row = self.store.draft(id).await.map_err(super::not_found)?;
        if row.author == actor.id {
            return Err(AppError::NotAllowed("the author of a draft cannot approve it: another member must".into()));
        }
        if self.draft_approvals(&row).await?.contains(&actor.id) && row.revision == revision {
            return Err(AppError::NotAvailable("you have approved this draft already".into()));
        }
        let change = DraftChange {
            revision,
            from: &[status::PROPOSED],
            to: status::PROPOSED,
            source: None,
            library: None,
            kind: "approved",
            actor: &actor.id,
            detail: approval_marker(revision),
            bump: false,
        };
        written(self.store.change_draft(id, &change, self.now()).await?, revision).map(|_| ())
    }

    /// Publish draft `id` (proposed at `revision`, approved by the quorum) as the next
    /// version: the version Gatehouse numbers is written into its text. New cases open on
    /// it from then on, on this node at once and on others within their poll.
    pub async fn publish_draft(&self, actor: &Actor, id: i64, revision: i64) -> Result<u32, AppError> {
        self.govern(actor)?;
        let row = self.store.draft(id).await.map_err(super::not_found)?;
        if row.status != status::PROPOSED || row.revision != revision {
            return Err(stale(row.revision, &row.status, revision));
        }
        let approvals = self.draft_approvals(&row).await?.len();
        if approvals < self.governance.quorum {
            return Err(AppError::NotAvailable(format!(
                "the draft has {approvals} approval(s) of the {} it needs from members other than its author",
                self.governance.quorum
            )));
        }
        let check = self.check_draft(&row).await?;
        let Some(def) = check.definition.filter(|_| !check.problems.iter().any(Diagnostic::is_error)) else {
            return Err(AppError::NotAvailable(
                "the draft no longer loads: save a fixed draft and propose it again".into(),
            ));
        };
        let source = with_version(&row.source, check.version);
        match self.store.publish_draft(id, revision, &def, &source, &actor.id, self.now()).await? {
            DraftWrite::Written(_) => {}
            DraftWrite::Stale { revision: now, status } => return Err(stale(now, &status, revision)),
        }
        self.refresh_definitions().await?;
        Ok(check.version)
    }

    /// Discard draft `id` (at `revision`).
    pub async fn discard_draft(&self, actor: &Actor, id: i64, revision: i64) -> Result<(), AppError> {
        self.govern(actor)?;
        let change = DraftChange {
            revision,
            from: &[status::DRAFT, status::PROPOSED],
            to: status::DISCARDED,
            source: None,
            library: None,
            kind: "discarded",
            actor: &actor.id,
            detail: "discarded".into(),
            bump: true,
        };
        written(self.store.change_draft(id, &change, self.now()).await?, revision).map(|_| ())
    }

    /// The open cases of `def`'s workflow that moving them to `def` would affect: a
    /// state it does not have, a next step that would wait for a gate it did not, an
    /// approval that would no longer count, a timer that would move.
    pub async fn draft_impact(&self, def: &Definition) -> Result<Vec<Affected>, AppError> {
        let mut out = Vec::new();
        let mut after = None;
        let system = Actor::system();
        loop {
            let filter = CaseFilter {
                workflow: Some(def.id.clone()),
                after_id: after,
                limit: Some(500),
                ..CaseFilter::default()
            };
            let rows = self.store.list_cases(&filter).await?;
            let Some(last) = rows.last() else { break };
            after = Some(last.id);
            for row in rows {
                let Ok(from) = self.definition(&row) else { continue };
                if from.states.get(row.state.as_str()).is_none_or(|s| s.terminal) {
                    continue;
                }
                let (_, case) = self.load(row.id).await?;
                let moved =
                    gatehouse_engine::migrate::migrate(&from, def, &case, &Default::default(), &system, self.now());
                let (lines, movable) = match moved {
                    Ok(m) => (m.impact, true),
                    Err(gatehouse_engine::decide::Refusal::Invalid(p)) => {
                        (p.into_iter().map(|p| p.message).collect(), false)
                    }
                    Err(other) => (vec![other.to_string()], false),
                };
                if !lines.is_empty() {
                    out.push(Affected { case_id: row.id, version: from.version, state: row.state, lines, movable });
                }
            }
        }
        Ok(out)
    }

    /// Judge every mutant of draft `id`'s rules with its own scenarios, as `gatehouse test
    /// --mutants` does: how many were killed, and each survivor (line, column, what was
    /// changed) the draft does not declare equivalent. Seconds of work, on a blocking
    /// thread.
    pub async fn draft_mutants(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<(usize, Vec<(usize, usize, String)>), AppError> {
        let row = self.draft(actor, id).await?;
        let check = self.check_draft(&row).await?;
        let Some(def) = check.definition.filter(|_| !check.problems.iter().any(Diagnostic::is_error)) else {
            return Err(AppError::NotAvailable("the draft does not load yet: fix its errors first".into()));
        };
        if check.scenarios.iter().any(|o| o.failure.is_some()) {
            return Err(AppError::NotAvailable("a scenario fails on the draft itself: fix it first".into()));
        }
        let (text, library, name) =
            (with_version(&row.source, check.version), self.draft_library(&row)?, format!("draft {id}"));
        let tally = tokio::task::spawn_blocking(move || gatehouse_engine::mutants::judge_all(&name, &text, &library))
            .await
            .map_err(|e| AppError::NotAvailable(format!("judging the mutants stopped: {e}")))?
            .map_err(AppError::NotAvailable)?;
        let survivors = tally
            .survived
            .into_iter()
            .filter(|m| !def.equivalent_mutants.iter().any(|(d, _)| *d == m.description))
            .map(|m| (m.line, m.column, m.description))
            .collect();
        Ok((tally.killed, survivors))
    }

    /// The templates and calendars draft `row` is checked and published with: the
    /// workflows folder's, then those of the version it started from (as that version
    /// was published), then those changed in the draft.
    pub fn draft_library(&self, row: &DraftRow) -> Result<Library, AppError> {
        Ok(self.library_with(row, &self.draft_changes(row)?))
    }

    /// [`App::draft_library`], given the draft's changes read already.
    pub fn library_with(&self, row: &DraftRow, changes: &Library) -> Library {
        let mut library = self.library.clone();
        if let Some(base) = self.draft_base(row) {
            library = library.overlaid(&Library::of(&base));
        }
        library.overlaid(changes)
    }

    /// The letter templates and calendars of draft `row` to show and edit: those its
    /// workflow uses (as checked: `definition`, or the version it started from when it
    /// does not load) and those changed in it, each with whether it was.
    pub fn draft_files(&self, row: &DraftRow, definition: Option<&Definition>) -> Result<DraftFiles, AppError> {
        let changes = self.draft_changes(row)?;
        let library = self.library_with(row, &changes);
        let base = self.draft_base(row);
        let uses = definition.or(base.as_deref()).map(Library::of).unwrap_or_default();
        let mut files = DraftFiles::default();
        let names: std::collections::BTreeSet<&String> =
            uses.templates.keys().chain(changes.templates.keys()).collect();
        for name in names {
            if let Some(t) = library.templates.get(name) {
                files.templates.push((name.clone(), t.clone(), changes.templates.contains_key(name)));
            }
        }
        let names: std::collections::BTreeSet<&String> =
            uses.calendars.keys().chain(changes.calendars.keys()).collect();
        for name in names {
            if let Some(c) = library.calendars.get(name) {
                files.calendars.push((name.clone(), c.clone(), changes.calendars.contains_key(name)));
            }
        }
        Ok(files)
    }

    /// The templates and calendars changed or added in draft `row`.
    pub fn draft_changes(&self, row: &DraftRow) -> Result<Library, AppError> {
        match &row.library {
            None => Ok(Library::default()),
            Some(json) => codec::library_from_json(json).map_err(|e| {
                AppError::Internal(gatehouse_adapters::store::StoreError::Corrupt(format!(
                    "draft {}'s templates cannot be read: {e}",
                    row.id
                )))
            }),
        }
    }

    /// Save letter template `name` in draft `id` (made on `revision`): its text
    /// (`Subject:` line, blank line, body) and optional HTML; `None` goes back to the
    /// template the draft started with. Checked as the draft is, so saved even with
    /// errors; the new revision.
    pub async fn save_draft_template(
        &self,
        actor: &Actor,
        id: i64,
        revision: i64,
        name: &str,
        template: Option<(String, Option<String>)>,
    ) -> Result<i64, AppError> {
        self.govern(actor)?;
        library_name(name, "template")?;
        let row = self.store.draft(id).await.map_err(super::not_found)?;
        let mut changes = self.draft_changes(&row)?;
        let detail = match template {
            Some((text, html)) => {
                within_limit(&text)?;
                within_limit(html.as_deref().unwrap_or_default())?;
                let html = html.filter(|h| !h.trim().is_empty());
                let file = format!("templates/{name}.txt");
                changes.templates.insert(name.to_string(), TemplateSource { file, text: normalise(&text), html });
                format!("saved revision {} (template `{name}`)", revision + 1)
            }
            None => {
                changes.templates.remove(name);
                format!("saved revision {} (template `{name}` as it was)", revision + 1)
            }
        };
        self.save_draft_library(actor, id, revision, &changes, detail).await
    }

    /// Save working-day calendar `name` in draft `id` (made on `revision`): `None` goes
    /// back to the one the draft started with. A calendar that does not parse is
    /// refused with where and why (a draft cannot hold one), nothing saved.
    pub async fn save_draft_calendar(
        &self,
        actor: &Actor,
        id: i64,
        revision: i64,
        name: &str,
        text: Option<String>,
    ) -> Result<i64, AppError> {
        self.govern(actor)?;
        library_name(name, "calendar")?;
        let row = self.store.draft(id).await.map_err(super::not_found)?;
        let mut changes = self.draft_changes(&row)?;
        let detail = match text {
            Some(text) => {
                within_limit(&text)?;
                let calendar = Calendar::parse(name, &normalise(&text)).map_err(|e| invalid("calendar", &e))?;
                changes.calendars.insert(name.to_string(), Arc::new(calendar));
                format!("saved revision {} (calendar `{name}`)", revision + 1)
            }
            None => {
                changes.calendars.remove(name);
                format!("saved revision {} (calendar `{name}` as it was)", revision + 1)
            }
        };
        self.save_draft_library(actor, id, revision, &changes, detail).await
    }

    async fn save_draft_library(
        &self,
        actor: &Actor,
        id: i64,
        revision: i64,
        changes: &Library,
        detail: String,
    ) -> Result<i64, AppError> {
        let json = codec::library_json(changes);
        let change = DraftChange {
            revision,
            from: &[status::DRAFT, status::PROPOSED],
            to: status::DRAFT,
            source: None,
            library: Some(&json),
            kind: "saved",
            actor: &actor.id,
            detail,
            bump: true,
        };
        written(self.store.change_draft(id, &change, self.now()).await?, revision)
    }

    /// The published definition a draft started from, when it is loaded here.
    pub fn draft_base(&self, row: &DraftRow) -> Option<Arc<Definition>> {
        let version = row.based_on? as u32;
        self.definitions.read().expect("definitions lock").get(&row.workflow_id, version)
    }
}

fn approval_marker(revision: i64) -> String {
    format!("approved revision {revision}")
}

fn written(w: DraftWrite, saw: i64) -> Result<i64, AppError> {
    match w {
        DraftWrite::Written(revision) => Ok(revision),
        DraftWrite::Stale { revision, status } => Err(stale(revision, &status, saw)),
    }
}

fn stale(revision: i64, status: &str, saw: i64) -> AppError {
    AppError::Edited(format!(
        "the draft changed since you opened it (you saw revision {saw}; it is now at revision {revision}, {status}): \
         nothing was changed; open it again to see the changes"
    ))
}

fn invalid(field: &str, message: &str) -> AppError {
    AppError::Invalid(vec![Problem { field: Some(field.into()), message: message.into() }])
}

/// A template's or calendar's name: what its file is called, so letters, digits, `_`
/// and `-`.
fn library_name(name: &str, what: &str) -> Result<(), AppError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "name",
            &format!(
                "a {what}'s name is its file's: lower-case letters, digits, `_` and `-` (at most 64), not `{name}`"
            ),
        ))
    }
}

/// Text from a browser's text area: its line ends as `\n`.
fn normalise(text: &str) -> String {
    text.replace("\r\n", "\n")
}

fn within_limit(source: &str) -> Result<(), AppError> {
    if source.len() > MAX_DRAFT_BYTES {
        return Err(invalid(
            "source",
            &format!("the draft is {} KiB; a draft may be at most {} KiB", source.len() / 1024, MAX_DRAFT_BYTES / 1024),
        ));
    }
    Ok(())
}

/// The value of top-level key `key` (`id: lcc-decommissioning`), when there is one.
fn top_level(source: &str, key: &str) -> Option<String> {
    source
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(|v| v.trim().trim_matches(['"', '\'']).to_string())
        .filter(|v| !v.is_empty())
}

/// `source` with its top-level `version:` set to `version` (added after `id:` when
/// missing): Gatehouse numbers the versions it publishes.
pub fn with_version(source: &str, version: u32) -> String {
    let line = format!("version: {version}");
    let mut found = false;
    let mut out: Vec<String> = source
        .lines()
        .map(|l| {
            if !found && l.starts_with("version:") {
                found = true;
                line.clone()
            } else {
                l.to_string()
            }
        })
        .collect();
    if !found {
        let at = out.iter().position(|l| l.starts_with("id:")).map_or(0, |i| i + 1);
        out.insert(at, line);
    }
    let mut text = out.join("\n");
    if source.ends_with('\n') {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn gatehouse_numbers_the_version() {
        assert_eq!(super::with_version("id: x\nversion: 3\ntitle: X\n", 7), "id: x\nversion: 7\ntitle: X\n");
        assert_eq!(super::with_version("id: x\ntitle: X", 2), "id: x\nversion: 2\ntitle: X");
        assert_eq!(super::top_level("# c\nid: 'lcc'\n", "id").as_deref(), Some("lcc"));
    }
}
