//! Decisions that stay true: `cases.locks` holds, as JSON, the states the case has been
//! in and the taken transitions that relied on fields (which locks them); `approvals.basis` holds what each approval
//! approved (each fact it rests on, as it was), as JSON. Approvals recorded before this
//! migration have no basis and never go stale.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    Locks,
}

#[derive(DeriveIden)]
enum Approvals {
    Table,
    Basis,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        m.alter_table(Table::alter().table(Cases::Table).add_column(text(Cases::Locks).default("{}")).to_owned())
            .await?;
        m.alter_table(Table::alter().table(Approvals::Table).add_column(text_null(Approvals::Basis)).to_owned())
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Approvals::Table).drop_column(Approvals::Basis).to_owned()).await?;
        m.alter_table(Table::alter().table(Cases::Table).drop_column(Cases::Locks).to_owned()).await?;
        Ok(())
    }
}
