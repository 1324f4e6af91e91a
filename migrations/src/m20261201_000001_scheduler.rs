//! What the scheduler and the outbox dispatcher add: `schedule_runs` (the last
//! occurrence of each workflow schedule that was fired, so that several processes fire
//! each occurrence once), the outbox's `workflow_id` (for messages without a case) and
//! `delivered` (the roles already sent to, so a retry does not send them again), and
//! the indexes the claim queries use.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ScheduleRuns {
    Table,
    WorkflowId,
    ScheduleId,
    LastOccurrence,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    WorkflowId,
    Delivered,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Role,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ScheduleRuns::Table)
                .col(string(ScheduleRuns::WorkflowId))
                .col(string(ScheduleRuns::ScheduleId))
                .col(timestamp_with_time_zone(ScheduleRuns::LastOccurrence))
                .col(timestamp_with_time_zone(ScheduleRuns::UpdatedAt))
                .primary_key(Index::create().col(ScheduleRuns::WorkflowId).col(ScheduleRuns::ScheduleId))
                .to_owned(),
        )
        .await?;
        // SQLite takes one column per ALTER TABLE.
        m.alter_table(Table::alter().table(Outbox::Table).add_column(string_null(Outbox::WorkflowId)).to_owned())
            .await?;
        m.alter_table(Table::alter().table(Outbox::Table).add_column(text_null(Outbox::Delivered)).to_owned()).await?;
        // The dispatcher's claim: pending messages by when they are next due. Partial, so
        // the millions of sent rows are not in it (same SQL on SQLite and PostgreSQL).
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX ix_outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL",
            )
            .await?;
        m.create_index(
            Index::create().name("ix_outbox_case").table(Alias::new("outbox")).col(Alias::new("case_id")).to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_memberships_role").table(Memberships::Table).col(Memberships::Role).to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ix_memberships_role").table(Memberships::Table).to_owned()).await?;
        m.drop_index(Index::drop().name("ix_outbox_case").table(Alias::new("outbox")).to_owned()).await?;
        m.drop_index(Index::drop().name("ix_outbox_due").table(Alias::new("outbox")).to_owned()).await?;
        m.alter_table(Table::alter().table(Outbox::Table).drop_column(Outbox::Delivered).to_owned()).await?;
        m.alter_table(Table::alter().table(Outbox::Table).drop_column(Outbox::WorkflowId).to_owned()).await?;
        m.drop_table(Table::drop().table(ScheduleRuns::Table).to_owned()).await?;
        Ok(())
    }
}
