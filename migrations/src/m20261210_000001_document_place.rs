//! Where each document's bytes are (`documents.place`): `database`, in `document_chunks`
//! beside its row (the default, and every document stored before), or `objects`, in the
//! S3-compatible object store the installation names (`--document-store s3://…`), under
//! its sha256.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Documents {
    Table,
    Place,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(Documents::Table).add_column(string(Documents::Place).default("database")).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Documents::Table).drop_column(Documents::Place).to_owned()).await
    }
}
