//! Published workflow definitions: `gatehouse workflows publish` and the start of
//! `gatehouse serve` write each workflow file into `workflow_definitions`. A case stays
//! on the version it was opened with, so every published version stays loadable.

use super::entities::definition;
use super::{Store, StoreError, codec};
use gatehouse_engine::{Definition, Library, load};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What publishing one file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// A new version was stored.
    New,
    /// The same content was already published: nothing to do.
    Unchanged,
}

/// Every published definition, by (workflow id, version).
#[derive(Debug, Default, Clone)]
pub struct Definitions {
    by_version: BTreeMap<(String, u32), Arc<Definition>>,
}

impl Definitions {
    /// One version.
    pub fn get(&self, workflow: &str, version: u32) -> Option<Arc<Definition>> {
        self.by_version.get(&(workflow.to_string(), version)).cloned()
    }

    /// The latest version of a workflow: what new cases are opened on.
    pub fn latest(&self, workflow: &str) -> Option<Arc<Definition>> {
        self.by_version.iter().rev().find(|((id, _), _)| id == workflow).map(|(_, d)| d.clone())
    }

    /// The latest version of every workflow.
    pub fn all_latest(&self) -> Vec<Arc<Definition>> {
        let mut out: BTreeMap<&str, Arc<Definition>> = BTreeMap::new();
        for ((id, _), d) in &self.by_version {
            out.insert(id, d.clone());
        }
        out.into_values().collect()
    }

    /// Every published version of every workflow.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Definition>> {
        self.by_version.values()
    }

    /// How many versions are loaded.
    pub fn len(&self) -> usize {
        self.by_version.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.by_version.is_empty()
    }

    /// Add a definition (used when publishing).
    pub fn insert(&mut self, def: Arc<Definition>) {
        self.by_version.insert((def.id.clone(), def.version), def);
    }
}

impl Store {
    /// Publish one workflow file: a new (id, version) is stored; the same content again
    /// is a no-op; different content under a published version is refused.
    pub async fn publish(
        &self,
        file: &str,
        source: &str,
        def: &Definition,
        now: jiff::Timestamp,
    ) -> Result<Published, StoreError> {
        let _turn = self.write_turn().await;
        let library = codec::library_json(&Library::of(def));
        let existing = definition::Entity::find_by_id((def.id.clone(), def.version as i32)).one(&self.db).await?;
        if let Some(row) = existing {
            if row.sha256 == def.sha256 {
                return match row.library {
                    Some(kept) if kept == library => Ok(Published::Unchanged),
                    Some(kept) => Err(StoreError::LettersNotBumped {
                        file: file.to_string(),
                        workflow: def.id.clone(),
                        version: def.version,
                        what: differences(&kept, def),
                    }),
                    // Published before versions kept their letters: it keeps those it
                    // uses now, once.
                    None => {
                        definition::Entity::update_many()
                            .col_expr(definition::Column::Library, sea_orm::sea_query::Expr::value(library))
                            .filter(definition::Column::WorkflowId.eq(def.id.as_str()))
                            .filter(definition::Column::Version.eq(def.version as i32))
                            .filter(definition::Column::Library.is_null())
                            .exec(&self.db)
                            .await?;
                        Ok(Published::Unchanged)
                    }
                };
            }
            // Say so when the product published it: the folder is behind the product.
            let by_draft = super::entities::draft::Entity::find()
                .filter(super::entities::draft::Column::WorkflowId.eq(def.id.as_str()))
                .filter(super::entities::draft::Column::PublishedVersion.eq(def.version as i32))
                .one(&self.db)
                .await?
                .map(|d| d.id);
            return Err(StoreError::VersionNotBumped {
                file: file.to_string(),
                workflow: def.id.clone(),
                version: def.version,
                by_draft,
            });
        }
        let row = definition::ActiveModel {
            workflow_id: Set(def.id.clone()),
            version: Set(def.version as i32),
            sha256: Set(def.sha256.clone()),
            source: Set(source.to_string()),
            published_at: Set(codec::to_chrono(now)),
            library: Set(Some(library)),
        };
        definition::Entity::insert(row).exec(&self.db).await?;
        Ok(Published::New)
    }

    /// How many versions are published. A published version is never changed or
    /// removed, so a node that sees this number grow knows another published one.
    pub async fn published_count(&self) -> Result<u64, StoreError> {
        Ok(definition::Entity::find().count(&self.db).await?)
    }

    /// Load every published version, each with the templates and calendar it was
    /// published with; one published before versions kept them is checked against
    /// `library` (the templates and calendars of the workflows folder). A version that
    /// no longer loads (a template it uses was deleted, say) is reported, not skipped
    /// silently.
    pub async fn definitions(&self, library: &Library) -> Result<(Definitions, Vec<String>), StoreError> {
        let rows = definition::Entity::find()
            .order_by_asc(definition::Column::WorkflowId)
            .order_by_asc(definition::Column::Version)
            .all(&self.db)
            .await?;
        let mut defs = Definitions::default();
        let mut problems = Vec::new();
        for row in rows {
            let name = format!("{} v{} (published)", row.workflow_id, row.version);
            let own = match row.library.as_deref().map(codec::library_from_json).transpose() {
                Ok(own) => own,
                Err(e) => {
                    problems.push(format!("{name} no longer loads: {e}"));
                    continue;
                }
            };
            let library = own.map_or_else(|| library.clone(), |own| library.overlaid(&own));
            match load(&name, &row.source, &library) {
                Ok(loaded) => defs.insert(Arc::new(loaded.definition)),
                Err(diags) => {
                    let first = diags.iter().find(|d| d.is_error()).map(|d| d.to_string()).unwrap_or_default();
                    problems.push(format!("{name} no longer loads: {first}"));
                }
            }
        }
        Ok((defs, problems))
    }
}

/// What differs between the letters and calendar a version was published with (`kept`,
/// as stored) and those `def` loaded with now, in words.
fn differences(kept: &str, def: &Definition) -> String {
    let Ok(kept) = codec::library_from_json(kept) else { return "letters or calendar".into() };
    let now = Library::of(def);
    let mut out: Vec<String> = Vec::new();
    for (name, t) in &now.templates {
        match kept.templates.get(name) {
            Some(k) if k.text == t.text && k.html == t.html => {}
            _ => out.push(format!("words for letter `{name}` ({})", t.file)),
        }
    }
    for (name, c) in &now.calendars {
        if kept.calendars.get(name).is_none_or(|k| k.source != c.source) {
            out.push(format!("days in calendar `{name}`"));
        }
    }
    if out.is_empty() { "letters or calendar".into() } else { out.join(", ") }
}
