//! The history of changes to people and their roles: who added whom, gave or took which
//! role, deactivated whom, and when.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PeopleEvents {
    Table,
    Id,
    Email,
    Actor,
    At,
    What,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(PeopleEvents::Table)
                .col(pk_auto(PeopleEvents::Id).big_integer())
                .col(string(PeopleEvents::Email))
                .col(string(PeopleEvents::Actor))
                .col(timestamp_with_time_zone(PeopleEvents::At))
                .col(text(PeopleEvents::What))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(PeopleEvents::Table).to_owned()).await
    }
}
