//! Evidence documents kept in the database, so that every node sharing it reads them and
//! one backup keeps them with the rows that point to them. `documents` has one row per
//! content (named by its sha256, as `evidence.file_sha256` names it) and
//! `document_chunks` its bytes, in chunks of at most 256 KiB numbered from 0: a document
//! is written chunk by chunk in the same transaction as the evidence row that points to
//! it, and read back chunk by chunk, so neither holds it whole in memory.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Documents {
    Table,
    Sha256,
    Size,
    Chunks,
    StoredAt,
}

#[derive(DeriveIden)]
enum DocumentChunks {
    Table,
    Sha256,
    Seq,
    Bytes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Documents::Table)
                .col(string(Documents::Sha256).primary_key())
                .col(big_integer(Documents::Size))
                .col(integer(Documents::Chunks))
                .col(timestamp_with_time_zone(Documents::StoredAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(DocumentChunks::Table)
                .col(string(DocumentChunks::Sha256))
                .col(integer(DocumentChunks::Seq))
                .col(blob(DocumentChunks::Bytes))
                .primary_key(Index::create().col(DocumentChunks::Sha256).col(DocumentChunks::Seq))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_document_chunks_document")
                        .from(DocumentChunks::Table, DocumentChunks::Sha256)
                        .to(Documents::Table, Documents::Sha256)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(DocumentChunks::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Documents::Table).to_owned()).await?;
        Ok(())
    }
}
