//! The letters and working-day calendar a published version uses are kept with its
//! text (`workflow_definitions.library`), so a version sends the same words and counts
//! the same days on every node, for ever; a draft keeps the templates and calendars
//! changed in it (`workflow_drafts.library`). Both are JSON; a version published before
//! this has none until the folder publishes it again (it reads the node's folder).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WorkflowDefinitions {
    Table,
    Library,
}

#[derive(DeriveIden)]
enum WorkflowDrafts {
    Table,
    Library,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        m.alter_table(
            Table::alter()
                .table(WorkflowDefinitions::Table)
                .add_column(text_null(WorkflowDefinitions::Library))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(WorkflowDrafts::Table).add_column(text_null(WorkflowDrafts::Library)).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(WorkflowDrafts::Table).drop_column(WorkflowDrafts::Library).to_owned())
            .await?;
        m.alter_table(
            Table::alter().table(WorkflowDefinitions::Table).drop_column(WorkflowDefinitions::Library).to_owned(),
        )
        .await
    }
}
