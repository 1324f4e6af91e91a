//! The Gatehouse database schema: the only place it is defined. The same migrations
//! run on SQLite (the embedded default) and PostgreSQL (shared deployments).

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_initial;
mod m20261201_000001_scheduler;
mod m20261205_000001_sessions;
mod m20261206_000001_integrity;
mod m20261207_000001_documents;
mod m20261208_000001_stays;
mod m20261209_000001_owner;
mod m20261210_000001_document_place;
mod m20261210_000002_children;
mod m20261211_000001_drafts;
mod m20261211_000002_api_tokens;
mod m20261211_000003_people_events;
mod m20261212_000001_version_letters;

/// Applies the schema.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial::Migration),
            Box::new(m20261201_000001_scheduler::Migration),
            Box::new(m20261205_000001_sessions::Migration),
            Box::new(m20261206_000001_integrity::Migration),
            Box::new(m20261207_000001_documents::Migration),
            Box::new(m20261208_000001_stays::Migration),
            Box::new(m20261209_000001_owner::Migration),
            Box::new(m20261210_000001_document_place::Migration),
            Box::new(m20261210_000002_children::Migration),
            Box::new(m20261211_000001_drafts::Migration),
            Box::new(m20261211_000002_api_tokens::Migration),
            Box::new(m20261211_000003_people_events::Migration),
            Box::new(m20261212_000001_version_letters::Migration),
        ]
    }
}
