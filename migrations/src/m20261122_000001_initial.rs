//! The first schema: definitions, cases and what hangs off them, the audit trail,
//! timers, the outbox, users.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WorkflowDefinitions {
    Table,
    WorkflowId,
    Version,
    Sha256,
    Source,
    PublishedAt,
}

#[derive(DeriveIden)]
enum Cases {
    Table,
    Id,
    WorkflowId,
    WorkflowVersion,
    State,
    Version,
    Visit,
    Fields,
    CreatedBy,
    CreatedAt,
    EnteredBy,
    EnteredAt,
    UpdatedAt,
}

// The variants are the column names: `evidence_type` is what the table calls it.
#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
enum Evidence {
    Table,
    Id,
    CaseId,
    EvidenceType,
    Content,
    FileSha256,
    FileName,
    FileSize,
    MediaType,
    AttachedBy,
    AttachedAt,
    SupersededBy,
}

#[derive(DeriveIden)]
enum Approvals {
    Table,
    Id,
    CaseId,
    Role,
    Verdict,
    ApprovedBy,
    ApprovedAt,
    Visit,
    Comment,
    MeetingName,
    MeetingDate,
    Conflict,
}

#[derive(DeriveIden)]
enum Conflicts {
    Table,
    Id,
    CaseId,
    Role,
    DeclaredBy,
    Reason,
    DeclaredAt,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    CaseId,
    Seq,
    Kind,
    Actor,
    At,
    Payload,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum Timers {
    Table,
    Id,
    CaseId,
    TimerId,
    DueAt,
    Occurrence,
    LeaseOwner,
    LeaseUntil,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    CaseId,
    IdempotencyKey,
    Template,
    Recipients,
    Deadline,
    TimerId,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    LastError,
    SentAt,
    FailedAt,
    LeaseOwner,
    LeaseUntil,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    Name,
    TokenHash,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    UserId,
    Role,
}

fn fk_case(table: impl IntoIden + 'static, name: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, Alias::new("case_id"))
        .to(Cases::Table, Cases::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(WorkflowDefinitions::Table)
                .col(string(WorkflowDefinitions::WorkflowId))
                .col(integer(WorkflowDefinitions::Version))
                .col(string(WorkflowDefinitions::Sha256))
                .col(text(WorkflowDefinitions::Source))
                .col(timestamp_with_time_zone(WorkflowDefinitions::PublishedAt))
                .primary_key(Index::create().col(WorkflowDefinitions::WorkflowId).col(WorkflowDefinitions::Version))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Cases::Table)
                .col(pk_auto(Cases::Id).big_integer())
                .col(string(Cases::WorkflowId))
                .col(integer(Cases::WorkflowVersion))
                .col(string(Cases::State))
                .col(big_integer(Cases::Version))
                .col(integer(Cases::Visit))
                .col(text(Cases::Fields))
                .col(string(Cases::CreatedBy))
                .col(timestamp_with_time_zone(Cases::CreatedAt))
                .col(string(Cases::EnteredBy))
                .col(timestamp_with_time_zone(Cases::EnteredAt))
                .col(timestamp_with_time_zone(Cases::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_cases_definition")
                        .from(Cases::Table, (Cases::WorkflowId, Cases::WorkflowVersion))
                        .to(
                            WorkflowDefinitions::Table,
                            (WorkflowDefinitions::WorkflowId, WorkflowDefinitions::Version),
                        ),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_cases_workflow_state")
                .table(Cases::Table)
                .col(Cases::WorkflowId)
                .col(Cases::State)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Evidence::Table)
                .col(pk_auto(Evidence::Id).big_integer())
                .col(big_integer(Evidence::CaseId))
                .col(string(Evidence::EvidenceType))
                .col(text(Evidence::Content))
                .col(string_null(Evidence::FileSha256))
                .col(string_null(Evidence::FileName))
                .col(big_integer_null(Evidence::FileSize))
                .col(string_null(Evidence::MediaType))
                .col(string(Evidence::AttachedBy))
                .col(timestamp_with_time_zone(Evidence::AttachedAt))
                .col(big_integer_null(Evidence::SupersededBy))
                .foreign_key(&mut fk_case(Evidence::Table, "fk_evidence_case"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_evidence_case")
                .table(Evidence::Table)
                .col(Evidence::CaseId)
                .col(Evidence::EvidenceType)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_evidence_file").table(Evidence::Table).col(Evidence::FileSha256).to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Approvals::Table)
                .col(pk_auto(Approvals::Id).big_integer())
                .col(big_integer(Approvals::CaseId))
                .col(string(Approvals::Role))
                .col(string(Approvals::Verdict))
                .col(string(Approvals::ApprovedBy))
                .col(timestamp_with_time_zone(Approvals::ApprovedAt))
                .col(integer(Approvals::Visit))
                .col(text_null(Approvals::Comment))
                .col(string_null(Approvals::MeetingName))
                .col(date_null(Approvals::MeetingDate))
                .col(text_null(Approvals::Conflict))
                .foreign_key(&mut fk_case(Approvals::Table, "fk_approvals_case"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_approvals_case").table(Approvals::Table).col(Approvals::CaseId).to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Conflicts::Table)
                .col(pk_auto(Conflicts::Id).big_integer())
                .col(big_integer(Conflicts::CaseId))
                .col(string(Conflicts::Role))
                .col(string(Conflicts::DeclaredBy))
                .col(text(Conflicts::Reason))
                .col(timestamp_with_time_zone(Conflicts::DeclaredAt))
                .foreign_key(&mut fk_case(Conflicts::Table, "fk_conflicts_case"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_conflicts_case").table(Conflicts::Table).col(Conflicts::CaseId).to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Events::Table)
                .col(pk_auto(Events::Id).big_integer())
                .col(big_integer(Events::CaseId))
                .col(big_integer(Events::Seq))
                .col(string(Events::Kind))
                .col(string(Events::Actor))
                .col(timestamp_with_time_zone(Events::At))
                .col(text(Events::Payload))
                .col(string(Events::PrevHash))
                .col(string(Events::Hash))
                .foreign_key(&mut fk_case(Events::Table, "fk_events_case"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_events_case_seq")
                .table(Events::Table)
                .col(Events::CaseId)
                .col(Events::Seq)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Timers::Table)
                .col(pk_auto(Timers::Id).big_integer())
                .col(big_integer(Timers::CaseId))
                .col(string(Timers::TimerId))
                .col(timestamp_with_time_zone(Timers::DueAt))
                .col(integer(Timers::Occurrence))
                .col(string_null(Timers::LeaseOwner))
                .col(timestamp_with_time_zone_null(Timers::LeaseUntil))
                .foreign_key(&mut fk_case(Timers::Table, "fk_timers_case"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_timers_case_timer")
                .table(Timers::Table)
                .col(Timers::CaseId)
                .col(Timers::TimerId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("ix_timers_due").table(Timers::Table).col(Timers::DueAt).to_owned())
            .await?;

        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .col(pk_auto(Outbox::Id).big_integer())
                .col(big_integer_null(Outbox::CaseId))
                .col(string_uniq(Outbox::IdempotencyKey))
                .col(string(Outbox::Template))
                .col(text(Outbox::Recipients))
                .col(date_null(Outbox::Deadline))
                .col(string_null(Outbox::TimerId))
                .col(timestamp_with_time_zone(Outbox::CreatedAt))
                .col(integer(Outbox::Attempts).default(0))
                .col(timestamp_with_time_zone(Outbox::NextAttemptAt))
                .col(text_null(Outbox::LastError))
                .col(timestamp_with_time_zone_null(Outbox::SentAt))
                .col(timestamp_with_time_zone_null(Outbox::FailedAt))
                .col(string_null(Outbox::LeaseOwner))
                .col(timestamp_with_time_zone_null(Outbox::LeaseUntil))
                .foreign_key(&mut fk_case(Outbox::Table, "fk_outbox_case"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_outbox_pending")
                .table(Outbox::Table)
                .col(Outbox::SentAt)
                .col(Outbox::NextAttemptAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(pk_auto(Users::Id).big_integer())
                .col(string_uniq(Users::Email))
                .col(string(Users::Name))
                .col(string_uniq(Users::TokenHash))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .col(timestamp_with_time_zone_null(Users::RevokedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Memberships::Table)
                .col(big_integer(Memberships::UserId))
                .col(string(Memberships::Role))
                .primary_key(Index::create().col(Memberships::UserId).col(Memberships::Role))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_memberships_user")
                        .from(Memberships::Table, Memberships::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "memberships",
            "users",
            "outbox",
            "timers",
            "events",
            "conflicts",
            "approvals",
            "evidence",
            "cases",
            "workflow_definitions",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).to_owned()).await?;
        }
        Ok(())
    }
}
