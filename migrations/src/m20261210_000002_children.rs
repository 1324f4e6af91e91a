//! Child cases (`children:` in a workflow): a case opened from another, one per
//! applicant of a grant round, say. `cases.parent_id` names the parent, `child_group`
//! the kind of child and `child_number` its number within the group (from 1), unique
//! per parent and group: two openings that raced for one number cannot both be stored.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    ParentId,
    ChildGroup,
    ChildNumber,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column at a time: SQLite's ALTER TABLE adds one per statement.
        m.alter_table(Table::alter().table(Cases::Table).add_column(big_integer_null(Cases::ParentId)).to_owned())
            .await?;
        m.alter_table(Table::alter().table(Cases::Table).add_column(string_null(Cases::ChildGroup)).to_owned()).await?;
        m.alter_table(Table::alter().table(Cases::Table).add_column(integer_null(Cases::ChildNumber)).to_owned())
            .await?;
        m.create_index(
            Index::create()
                .name("ux_cases_parent_child")
                .table(Cases::Table)
                .col(Cases::ParentId)
                .col(Cases::ChildGroup)
                .col(Cases::ChildNumber)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ux_cases_parent_child").table(Cases::Table).to_owned()).await?;
        for column in [Cases::ChildNumber, Cases::ChildGroup, Cases::ParentId] {
            m.alter_table(Table::alter().table(Cases::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
