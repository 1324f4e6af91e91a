//! Web sessions kept in the database: `sessions` holds the sha256 of each session's
//! opaque id (the cookie holds the id itself, the database never does), whose user it
//! is, and when it started and ends. A row exists only while its session may be used:
//! signing out and revoking the user delete it, and expired rows are deleted as new
//! sessions start.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    IdHash,
    UserId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Sessions::Table)
                .col(string(Sessions::IdHash).primary_key())
                .col(big_integer(Sessions::UserId))
                .col(timestamp_with_time_zone(Sessions::CreatedAt))
                .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_sessions_user")
                        .from(Sessions::Table, Sessions::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // Revoking a user ends their sessions; starting one clears out the expired.
        m.create_index(
            Index::create().name("ix_sessions_user").table(Sessions::Table).col(Sessions::UserId).to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_sessions_expires").table(Sessions::Table).col(Sessions::ExpiresAt).to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Sessions::Table).to_owned()).await?;
        Ok(())
    }
}
