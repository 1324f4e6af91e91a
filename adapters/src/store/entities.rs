//! sea-orm entities: rows as the database holds them. Converted to and from engine
//! types explicitly in `codec.rs`; the engine's types know nothing of storage.
#![allow(missing_docs)]

/// `workflow_definitions`: every published version of every workflow.
pub mod definition {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "workflow_definitions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub workflow_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i32,
        pub sha256: String,
        pub source: String,
        pub published_at: DateTimeUtc,
        /// The templates and calendar it uses, JSON (`codec::library_json`); none for
        /// a version published before versions kept them.
        #[sea_orm(column_type = "Text", nullable)]
        pub library: Option<String>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// `cases`.
pub mod case {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "cases")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub workflow_id: String,
        pub workflow_version: i32,
        pub state: String,
        pub version: i64,
        pub visit: i32,
        pub fields: String,
        /// The states the case has been in and the taken transitions that relied on
        /// fields, as JSON (`codec::locks_text`).
        pub locks: String,
        pub created_by: String,
        pub created_at: DateTimeUtc,
        /// The commissioner responsible for the case (a user id).
        pub owner: String,
        pub entered_by: String,
        pub entered_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        /// The case this one was opened from (`children:`), if any.
        pub parent_id: Option<i64>,
        /// Its kind of child case, in the parent's workflow.
        pub child_group: Option<String>,
        /// Its number within that kind, from 1.
        pub child_number: Option<i32>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// `evidence`: every attachment ever made; the current one has no `superseded_by`.
pub mod evidence {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "evidence")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub case_id: i64,
        pub evidence_type: String,
        pub content: String,
        pub file_sha256: Option<String>,
        pub file_name: Option<String>,
        pub file_size: Option<i64>,
        pub media_type: Option<String>,
        pub attached_by: String,
        pub attached_at: DateTimeUtc,
        pub superseded_by: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// `approvals`.
pub mod approval {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "approvals")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub case_id: i64,
        pub role: String,
        pub verdict: String,
        pub approved_by: String,
        pub approved_at: DateTimeUtc,
        pub visit: i32,
        pub comment: Option<String>,
        pub meeting_name: Option<String>,
        pub meeting_date: Option<Date>,
        pub conflict: Option<String>,
        /// What it approved, as JSON (`codec::basis_text`); none before approvals were bound.
        pub basis: Option<String>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// `conflicts`: declared conflicts of interest.
pub mod conflict {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "conflicts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub case_id: i64,
        pub role: String,
        pub declared_by: String,
        pub reason: String,
        pub declared_at: DateTimeUtc,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// `events`: the append-only, hash-chained audit trail.
pub mod event {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub case_id: i64,
        pub seq: i64,
        pub kind: String,
        pub actor: String,
        pub at: DateTimeUtc,
        pub payload: String,
        pub prev_hash: String,
        pub hash: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// `state_stays`: each case's time in each state it has been in, kept by the decisions
/// that move it: `ms`, its visits there that are over; `entered_ms`, since when (ms
/// since the Unix epoch) it has been there now, if it is.
pub mod stay {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "state_stays")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub case_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub state: String,
        pub workflow_id: String,
        pub workflow_version: i32,
        pub ms: i64,
        pub entered_ms: Option<i64>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// `timers`: armed timers, claimed with a lease by the scheduler.
pub mod timer {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "timers")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub case_id: i64,
        pub timer_id: String,
        pub due_at: DateTimeUtc,
        pub occurrence: i32,
        pub lease_owner: Option<String>,
        pub lease_until: Option<DateTimeUtc>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// `outbox`: messages committed with the decision that sends them.
pub mod outbox {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub case_id: Option<i64>,
        #[sea_orm(unique)]
        pub idempotency_key: String,
        pub template: String,
        pub recipients: String,
        pub deadline: Option<Date>,
        pub timer_id: Option<String>,
        pub created_at: DateTimeUtc,
        pub attempts: i32,
        pub next_attempt_at: DateTimeUtc,
        pub last_error: Option<String>,
        pub sent_at: Option<DateTimeUtc>,
        pub failed_at: Option<DateTimeUtc>,
        pub lease_owner: Option<String>,
        pub lease_until: Option<DateTimeUtc>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// `users`: people with accounts. Only the sha256 of each token is kept.
pub mod user {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        #[sea_orm(unique)]
        pub email: String,
        pub name: String,
        #[sea_orm(unique)]
        pub token_hash: String,
        pub created_at: DateTimeUtc,
        pub revoked_at: Option<DateTimeUtc>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// `memberships`: which roles each user holds.
pub mod membership {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memberships")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub role: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// `sessions`: web sessions. Only the sha256 of each session's id is kept; a row exists
/// while its session may be used.
pub mod session {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id_hash: String,
        pub user_id: i64,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// `schedule_runs`: the last occurrence of each workflow schedule that was fired.
pub mod schedule_run {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "schedule_runs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub workflow_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub schedule_id: String,
        pub last_occurrence: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// `workflow_drafts`: a workflow being changed in the product.
pub mod draft {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "workflow_drafts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub workflow_id: String,
        pub based_on: Option<i32>,
        #[sea_orm(column_type = "Text")]
        pub source: String,
        pub revision: i64,
        pub status: String,
        pub author: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub published_version: Option<i32>,
        /// The templates and calendars changed or added in it, JSON
        /// (`codec::library_json`).
        #[sea_orm(column_type = "Text", nullable)]
        pub library: Option<String>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// `draft_events`: the audit trail of drafts, per workflow.
pub mod draft_event {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "draft_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub draft_id: i64,
        pub workflow_id: String,
        pub kind: String,
        pub actor: String,
        pub at: DateTimeUtc,
        #[sea_orm(column_type = "Text")]
        pub detail: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// `api_tokens`: named tokens people make for their scripts; only each one's sha256 is
/// kept.
pub mod api_token {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: i64,
        pub name: String,
        #[sea_orm(unique)]
        pub token_hash: String,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub revoked_at: Option<DateTimeUtc>,
        pub revoked_by: Option<String>,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}

/// `people_events`: the history of changes to people and their roles.
pub mod people_event {
    use sea_orm::entity::prelude::*;
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "people_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub email: String,
        pub actor: String,
        pub at: DateTimeUtc,
        #[sea_orm(column_type = "Text")]
        pub what: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    impl ActiveModelBehavior for ActiveModel {}
}
