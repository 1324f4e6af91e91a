//! Drafts of workflows that a governance group edits in the product, and each draft's
//! history. `workflow_drafts` holds the text being edited, the published version it
//! started from, its status (`draft`, `proposed`, `published`, `discarded`) and a
//! revision bumped by every save: a save names the revision it was made on, so the
//! second of two saves made on the same revision is a conflict, never an overwrite.
//! `draft_events` is the audit trail of drafts (created, saved, proposed, approved,
//! published), kept per workflow.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WorkflowDrafts {
    Table,
    Id,
    WorkflowId,
    BasedOn,
    Source,
    Revision,
    Status,
    Author,
    CreatedAt,
    UpdatedAt,
    PublishedVersion,
}

#[derive(DeriveIden)]
enum DraftEvents {
    Table,
    Id,
    DraftId,
    WorkflowId,
    Kind,
    Actor,
    At,
    Detail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(WorkflowDrafts::Table)
                .col(pk_auto(WorkflowDrafts::Id).big_integer())
                .col(string(WorkflowDrafts::WorkflowId))
                .col(integer_null(WorkflowDrafts::BasedOn))
                .col(text(WorkflowDrafts::Source))
                .col(big_integer(WorkflowDrafts::Revision))
                .col(string(WorkflowDrafts::Status))
                .col(string(WorkflowDrafts::Author))
                .col(timestamp_with_time_zone(WorkflowDrafts::CreatedAt))
                .col(timestamp_with_time_zone(WorkflowDrafts::UpdatedAt))
                .col(integer_null(WorkflowDrafts::PublishedVersion))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(DraftEvents::Table)
                .col(pk_auto(DraftEvents::Id).big_integer())
                .col(big_integer(DraftEvents::DraftId))
                .col(string(DraftEvents::WorkflowId))
                .col(string(DraftEvents::Kind))
                .col(string(DraftEvents::Actor))
                .col(timestamp_with_time_zone(DraftEvents::At))
                .col(text(DraftEvents::Detail))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_draft_events_draft")
                        .from(DraftEvents::Table, DraftEvents::DraftId)
                        .to(WorkflowDrafts::Table, WorkflowDrafts::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_draft_events_workflow")
                .table(DraftEvents::Table)
                .col(DraftEvents::WorkflowId)
                .col(DraftEvents::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(DraftEvents::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(WorkflowDrafts::Table).to_owned()).await
    }
}
