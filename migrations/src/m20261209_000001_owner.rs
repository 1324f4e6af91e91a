//! The commissioner responsible for each case (`cases.owner`, their user id, which is
//! their email address): who opened it, until it is reassigned. Cases stored before are
//! given the person who opened them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    Owner,
    CreatedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Cases::Table).add_column(string(Cases::Owner).default("")).to_owned())
            .await?;
        let fill = Query::update()
            .table(Cases::Table)
            .value(Cases::Owner, Expr::col(Cases::CreatedBy))
            .and_where(Expr::col(Cases::Owner).eq(""))
            .to_owned();
        m.exec_stmt(fill).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Cases::Table).drop_column(Cases::Owner).to_owned()).await
    }
}
