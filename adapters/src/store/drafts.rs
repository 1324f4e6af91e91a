//! Drafts of workflows changed in the product (`workflow_drafts`) and their history
//! (`draft_events`). Every change to a draft is a compare-and-set on its revision, in
//! one transaction with its history row: a save made on an old revision is refused
//! (`DraftWrite::Stale`), never written over the newer one. Publishing a draft stores
//! the new version and marks the draft published in one transaction.

use super::entities::{definition, draft, draft_event};
use super::{Store, StoreError, codec};
use gatehouse_engine::Definition;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

/// A draft as stored.
pub type DraftRow = draft::Model;
/// One entry of a draft's history.
pub type DraftEventRow = draft_event::Model;

/// A draft's status.
pub mod status {
    /// Being edited.
    pub const DRAFT: &str = "draft";
    /// Proposed for approval: an edit returns it to `draft`.
    pub const PROPOSED: &str = "proposed";
    /// Published as a version.
    pub const PUBLISHED: &str = "published";
    /// Given up.
    pub const DISCARDED: &str = "discarded";
}

/// What a change to a draft did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftWrite {
    /// Written; the draft's revision is now this.
    Written(i64),
    /// The draft was changed since (now at this revision and status), or is not in a
    /// status this change applies to: nothing was written.
    Stale {
        /// Its revision now.
        revision: i64,
        /// Its status now.
        status: String,
    },
}

/// A change to a draft: from which revision and statuses, to which status and text,
/// and the history row it writes.
pub struct DraftChange<'a> {
    /// The revision it was made on.
    pub revision: i64,
    /// The statuses it applies in.
    pub from: &'a [&'a str],
    /// The status after it.
    pub to: &'a str,
    /// The new text, when it changes.
    pub source: Option<&'a str>,
    /// The templates and calendars changed in it, JSON (`codec::library_json`), when
    /// they change.
    pub library: Option<&'a str>,
    /// The history row's kind (`saved`, `proposed`, `approved`, `discarded`).
    pub kind: &'a str,
    /// Who.
    pub actor: &'a str,
    /// What, in words.
    pub detail: String,
    /// Whether the revision moves on (approvals are given to a revision, so an approval
    /// leaves it where it is).
    pub bump: bool,
}

impl Store {
    /// Start a draft of `workflow_id` from `source` (the text of version `based_on`, or
    /// a new workflow's): its id.
    pub async fn create_draft(
        &self,
        workflow_id: &str,
        based_on: Option<u32>,
        source: &str,
        author: &str,
        now: jiff::Timestamp,
    ) -> Result<i64, StoreError> {
        let (txn, _turn) = self.begin_write().await?;
        let at = codec::to_chrono(now);
        let row = draft::ActiveModel {
            id: Default::default(),
            workflow_id: Set(workflow_id.to_string()),
            based_on: Set(based_on.map(|v| v as i32)),
            source: Set(source.to_string()),
            revision: Set(1),
            status: Set(status::DRAFT.to_string()),
            author: Set(author.to_string()),
            created_at: Set(at),
            updated_at: Set(at),
            published_version: Set(None),
            library: Set(None),
        };
        let id = draft::Entity::insert(row).exec(&txn).await?.last_insert_id;
        let detail = match based_on {
            Some(v) => format!("started from version {v}"),
            None => "started as a new workflow".to_string(),
        };
        event(&txn, id, workflow_id, "created", author, now, detail).await?;
        txn.commit().await?;
        Ok(id)
    }

    /// Draft `id`.
    pub async fn draft(&self, id: i64) -> Result<DraftRow, StoreError> {
        find(&self.db, id).await
    }

    /// Every draft, the most recently changed first.
    pub async fn drafts(&self) -> Result<Vec<DraftRow>, StoreError> {
        Ok(draft::Entity::find().order_by_desc(draft::Column::UpdatedAt).all(&self.db).await?)
    }

    /// The history of drafts of `workflow_id`, oldest first.
    pub async fn draft_history(&self, workflow_id: &str) -> Result<Vec<DraftEventRow>, StoreError> {
        Ok(draft_event::Entity::find()
            .filter(draft_event::Column::WorkflowId.eq(workflow_id))
            .order_by_asc(draft_event::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// The history of draft `id`, oldest first.
    pub async fn draft_events(&self, id: i64) -> Result<Vec<DraftEventRow>, StoreError> {
        Ok(draft_event::Entity::find()
            .filter(draft_event::Column::DraftId.eq(id))
            .order_by_asc(draft_event::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// Apply `change` to draft `id`, if it is still at `change.revision` and in one of
    /// `change.from`.
    pub async fn change_draft(
        &self,
        id: i64,
        change: &DraftChange<'_>,
        now: jiff::Timestamp,
    ) -> Result<DraftWrite, StoreError> {
        let (txn, _turn) = self.begin_write().await?;
        let row = find(&txn, id).await?;
        let revision = if change.bump { change.revision + 1 } else { change.revision };
        let mut update = draft::Entity::update_many()
            .col_expr(draft::Column::Revision, Expr::value(revision))
            .col_expr(draft::Column::Status, Expr::value(change.to))
            .col_expr(draft::Column::UpdatedAt, Expr::value(codec::to_chrono(now)))
            .filter(draft::Column::Id.eq(id))
            .filter(draft::Column::Revision.eq(change.revision))
            .filter(draft::Column::Status.is_in(change.from.iter().copied()));
        if let Some(source) = change.source {
            update = update.col_expr(draft::Column::Source, Expr::value(source));
        }
        if let Some(library) = change.library {
            update = update.col_expr(draft::Column::Library, Expr::value(library));
        }
        if update.exec(&txn).await?.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(DraftWrite::Stale { revision: row.revision, status: row.status });
        }
        event(&txn, id, &row.workflow_id, change.kind, change.actor, now, change.detail.clone()).await?;
        txn.commit().await?;
        Ok(DraftWrite::Written(revision))
    }

    /// Publish draft `id` (at `revision`, proposed) as `def` with `source`: the version
    /// row and the draft marked published, in one transaction. A version of that number
    /// already published (by the folder, or another draft) refuses it.
    pub async fn publish_draft(
        &self,
        id: i64,
        revision: i64,
        def: &Definition,
        source: &str,
        actor: &str,
        now: jiff::Timestamp,
    ) -> Result<DraftWrite, StoreError> {
        let (txn, _turn) = self.begin_write().await?;
        let row = find(&txn, id).await?;
        if definition::Entity::find_by_id((def.id.clone(), def.version as i32)).one(&txn).await?.is_some() {
            txn.rollback().await?;
            return Err(StoreError::VersionNotBumped {
                file: format!("draft {id}"),
                workflow: def.id.clone(),
                version: def.version,
                by_draft: None,
            });
        }
        let updated = draft::Entity::update_many()
            .col_expr(draft::Column::Status, Expr::value(status::PUBLISHED))
            .col_expr(draft::Column::PublishedVersion, Expr::value(def.version as i32))
            .col_expr(draft::Column::Source, Expr::value(source))
            .col_expr(draft::Column::UpdatedAt, Expr::value(codec::to_chrono(now)))
            .filter(draft::Column::Id.eq(id))
            .filter(draft::Column::Revision.eq(revision))
            .filter(draft::Column::Status.eq(status::PROPOSED))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(DraftWrite::Stale { revision: row.revision, status: row.status });
        }
        let version = definition::ActiveModel {
            workflow_id: Set(def.id.clone()),
            version: Set(def.version as i32),
            sha256: Set(def.sha256.clone()),
            source: Set(source.to_string()),
            published_at: Set(codec::to_chrono(now)),
            library: Set(Some(codec::library_json(&gatehouse_engine::Library::of(def)))),
        };
        definition::Entity::insert(version).exec(&txn).await?;
        event(&txn, id, &def.id, "published", actor, now, format!("published as version {}", def.version)).await?;
        txn.commit().await?;
        Ok(DraftWrite::Written(revision))
    }

    /// The text version `version` of `workflow_id` was published from.
    pub async fn published_source(&self, workflow_id: &str, version: u32) -> Result<String, StoreError> {
        definition::Entity::find_by_id((workflow_id.to_string(), version as i32))
            .one(&self.db)
            .await?
            .map(|r| r.source)
            .ok_or_else(|| StoreError::NotFound(format!("version {version} of workflow `{workflow_id}`")))
    }

    /// The highest published version of `workflow_id`, as the database has it now.
    pub async fn latest_published(&self, workflow_id: &str) -> Result<Option<u32>, StoreError> {
        let row = definition::Entity::find()
            .filter(definition::Column::WorkflowId.eq(workflow_id))
            .order_by_desc(definition::Column::Version)
            .one(&self.db)
            .await?;
        Ok(row.map(|r| r.version as u32))
    }
}

/// Draft `id`, read through `c` (the pool, or a write's transaction).
async fn find<C: ConnectionTrait>(c: &C, id: i64) -> Result<DraftRow, StoreError> {
    draft::Entity::find_by_id(id).one(c).await?.ok_or_else(|| StoreError::NotFound(format!("draft {id}")))
}

async fn event<C: ConnectionTrait>(
    c: &C,
    draft_id: i64,
    workflow_id: &str,
    kind: &str,
    actor: &str,
    now: jiff::Timestamp,
    detail: String,
) -> Result<(), StoreError> {
    let row = draft_event::ActiveModel {
        id: Default::default(),
        draft_id: Set(draft_id),
        workflow_id: Set(workflow_id.to_string()),
        kind: Set(kind.to_string()),
        actor: Set(actor.to_string()),
        at: Set(codec::to_chrono(now)),
        detail: Set(detail),
    };
    draft_event::Entity::insert(row).exec(c).await?;
    Ok(())
}
