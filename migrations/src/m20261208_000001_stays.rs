//! Time in states kept as cases move, for the governance dashboard: one row per case and
//! state it has been in (with the case's workflow and version, which never change), with the time of its visits there that are over (`ms`) and the
//! start of the visit that is not (`entered_ms`, when the case is there now), both in
//! milliseconds (since the Unix epoch for `entered_ms`), so that either database works
//! out a stay with integer arithmetic. Written by the transaction of each decision that
//! moves a case. Cases stored before this table are given their rows from their audit
//! trails when the store starts (`Store::migrate`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StateStays {
    Table,
    CaseId,
    WorkflowId,
    WorkflowVersion,
    State,
    Ms,
    EnteredMs,
}

#[derive(DeriveIden)]
enum Cases {
    Table,
    Id,
    WorkflowId,
    State,
    WorkflowVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(StateStays::Table)
                .col(big_integer(StateStays::CaseId))
                .col(string(StateStays::WorkflowId))
                .col(integer(StateStays::WorkflowVersion))
                .col(string(StateStays::State))
                .col(big_integer(StateStays::Ms))
                .col(big_integer_null(StateStays::EnteredMs))
                .primary_key(Index::create().col(StateStays::CaseId).col(StateStays::State))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_state_stays_case")
                        .from(StateStays::Table, StateStays::CaseId)
                        .to(Cases::Table, Cases::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // The dashboard's figures, a workflow's state at a time, read from the index.
        m.create_index(
            Index::create()
                .name("ix_state_stays_workflow_state")
                .table(StateStays::Table)
                .col(StateStays::WorkflowId)
                .col(StateStays::State)
                .col(StateStays::WorkflowVersion)
                .col(StateStays::Ms)
                .col(StateStays::EnteredMs)
                .to_owned(),
        )
        .await?;
        // Cases per workflow, state and version (the dashboard's counts, of the versions
        // the reader may read) from the index alone; it replaces the one without version.
        m.create_index(
            Index::create()
                .name("ix_cases_workflow_state_version")
                .table(Cases::Table)
                .col(Cases::WorkflowId)
                .col(Cases::State)
                .col(Cases::WorkflowVersion)
                .to_owned(),
        )
        .await?;
        m.drop_index(Index::drop().name("ix_cases_workflow_state").table(Cases::Table).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ix_cases_workflow_state")
                .table(Cases::Table)
                .col(Cases::WorkflowId)
                .col(Cases::State)
                .to_owned(),
        )
        .await?;
        m.drop_index(Index::drop().name("ix_cases_workflow_state_version").table(Cases::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(StateStays::Table).to_owned()).await
    }
}
