//! The outbox: messages committed with the decision that sends them, delivered after
//! commit by the dispatcher (`mail::dispatch`). A process claims the next due message
//! with a lease, as timers are claimed (`FOR UPDATE SKIP LOCKED` on PostgreSQL): the
//! claim moves `next_attempt_at` to the lease's end, so a message whose sender died is
//! simply due again when the lease runs out. A message is never deleted: it ends sent
//! (`sent_at`) or failed for good (`failed_at`), with its last error kept either way.
//!
//! A dispatcher claims a batch of messages in one statement and marks those it sent in
//! one transaction after the batch (`mail::dispatch::BATCH`), which saves two commits
//! a message. Delivery is at least once: a message is sent twice only when a process
//! dies between the mail server accepting it and `mark_sent` committing, and with
//! batches that is any time until the end of its batch, so a process that dies sends
//! again the messages of its last batch that had already gone out.

use super::entities::outbox;
use super::{Store, StoreError, codec};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    Statement, Value,
};

/// A message to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The case it is about; `None` for a workflow schedule's message.
    pub case_id: Option<i64>,
    /// The workflow, for a message without a case.
    pub workflow_id: Option<String>,
    /// Unique: a message with a key already queued is not queued again.
    pub key: String,
    /// Template name.
    pub template: String,
    /// Recipients: role ids, or `@creator` (the person who opened the case).
    pub recipients: Vec<String>,
    /// The date something is asked for by.
    pub deadline: Option<jiff::civil::Date>,
    /// The timer or schedule that sent it.
    pub timer_id: Option<String>,
}

/// A queued message, as the dispatcher claims it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Row id.
    pub id: i64,
    /// What it is, as queued.
    pub message: NewMessage,
    /// Delivery attempts before this one.
    pub attempts: u32,
    /// Roles already sent to by an earlier attempt.
    pub delivered: Vec<String>,
    /// When it was queued.
    pub created_at: jiff::Timestamp,
}

/// Where a message stands, for people (the case page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Not sent yet: due at `next_attempt_at`, after `attempts` failed attempts.
    Pending {
        /// Failed attempts so far.
        attempts: u32,
        /// When it is tried next.
        next_attempt_at: jiff::Timestamp,
        /// Why the last attempt failed.
        last_error: Option<String>,
    },
    /// Sent. `note` says who could not be reached, when some recipients had no address.
    Sent {
        /// When.
        at: jiff::Timestamp,
        /// Who was left out, and why.
        note: Option<String>,
    },
    /// Refused for good by the mail server (or it could not be written at all).
    Failed {
        /// When.
        at: jiff::Timestamp,
        /// Why.
        error: String,
    },
}

#[derive(Debug, FromQueryResult)]
struct Row {
    id: i64,
    case_id: Option<i64>,
    workflow_id: Option<String>,
    idempotency_key: String,
    template: String,
    recipients: String,
    deadline: Option<NaiveDate>,
    timer_id: Option<String>,
    attempts: i32,
    delivered: Option<String>,
    created_at: DateTime<Utc>,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    sent_at: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, case_id, workflow_id, idempotency_key, template, recipients, deadline, timer_id, attempts, delivered, created_at, next_attempt_at, last_error, sent_at, failed_at";

impl Row {
    fn message(&self) -> OutboxMessage {
        OutboxMessage {
            id: self.id,
            message: NewMessage {
                case_id: self.case_id,
                workflow_id: self.workflow_id.clone(),
                key: self.idempotency_key.clone(),
                template: self.template.clone(),
                recipients: serde_json::from_str(&self.recipients).unwrap_or_default(),
                deadline: self.deadline.and_then(codec::date_to_jiff),
                timer_id: self.timer_id.clone(),
            },
            attempts: self.attempts.max(0) as u32,
            delivered: self.delivered.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or_default(),
            created_at: codec::to_jiff(self.created_at),
        }
    }

    fn delivery(&self) -> Delivery {
        match (self.sent_at, self.failed_at) {
            (Some(at), _) => Delivery::Sent { at: codec::to_jiff(at), note: self.last_error.clone() },
            (None, Some(at)) => {
                Delivery::Failed { at: codec::to_jiff(at), error: self.last_error.clone().unwrap_or_default() }
            }
            (None, None) => Delivery::Pending {
                attempts: self.attempts.max(0) as u32,
                next_attempt_at: codec::to_jiff(self.next_attempt_at),
                last_error: self.last_error.clone(),
            },
        }
    }
}

impl Store {
    /// Queue a message unless one with its key is already queued. Returns whether it
    /// was queued now.
    pub async fn enqueue(&self, message: &NewMessage, now: jiff::Timestamp) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        insert_message(&self.db, self.backend(), message, now).await
    }

    /// Claim up to `limit` messages, those due first that no live lease holds, until
    /// `lease_until`: one statement, oldest first.
    pub async fn claim_due_messages(
        &self,
        owner: &str,
        now: jiff::Timestamp,
        lease_until: jiff::Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let _turn = self.write_turn().await;
        let claim = super::lease::Claim {
            table: "outbox",
            also_set: ", next_attempt_at = $2",
            due: "sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $3",
            order: "next_attempt_at",
            returning: COLUMNS,
        };
        let statement = claim.statement(self.backend(), owner, now, lease_until, limit);
        let rows = Row::find_by_statement(statement).all(&self.db).await?;
        let mut claimed: Vec<OutboxMessage> = rows.iter().map(Row::message).collect();
        // RETURNING promises no order; the earliest queued goes first.
        claimed.sort_by_key(|m| (m.created_at, m.id));
        Ok(claimed)
    }

    /// Remember that an attempt reached these roles, so a retry skips them.
    pub async fn record_delivered(&self, id: i64, roles: &[String]) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        let sql = "UPDATE outbox SET delivered = $1 WHERE id = $2";
        let values: [Value; 2] = [json(roles).into(), id.into()];
        self.db.execute_raw(Statement::from_sql_and_values(self.backend(), sql, values)).await?;
        Ok(())
    }

    /// These messages were handed to the mail server, each with the note that says who
    /// was left out: one transaction, and one statement for all those without a note.
    pub async fn mark_sent(&self, sent: &[(i64, Option<String>)], now: jiff::Timestamp) -> Result<(), StoreError> {
        if sent.is_empty() {
            return Ok(());
        }
        let set = "SET sent_at = $1, last_error = $2, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL";
        let plain: Vec<i64> = sent.iter().filter(|(_, note)| note.is_none()).map(|(id, _)| *id).collect();
        let (txn, _turn) = self.begin_write().await?;
        for chunk in plain.chunks(500) {
            let list = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect::<Vec<_>>().join(", ");
            let sql = format!("UPDATE outbox {set} WHERE id IN ({list})");
            let mut values: Vec<Value> = vec![codec::to_chrono(now).into(), Option::<String>::None.into()];
            values.extend(chunk.iter().map(|id| Value::from(*id)));
            txn.execute_raw(Statement::from_sql_and_values(self.backend(), sql, values)).await?;
        }
        for (id, note) in sent.iter().filter(|(_, note)| note.is_some()) {
            let sql = format!("UPDATE outbox {set} WHERE id = $3");
            let values: [Value; 3] = [codec::to_chrono(now).into(), note.clone().into(), (*id).into()];
            txn.execute_raw(Statement::from_sql_and_values(self.backend(), sql, values)).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// An attempt failed in a way that may pass (the server is down, said 4xx): keep
    /// the error and try again at `next_attempt_at`.
    pub async fn retry_later(&self, id: i64, error: &str, next_attempt_at: jiff::Timestamp) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        let sql = "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2, lease_owner = NULL, lease_until = NULL \
                   WHERE id = $3 AND sent_at IS NULL";
        let values: [Value; 3] = [codec::to_chrono(next_attempt_at).into(), error.into(), id.into()];
        self.db.execute_raw(Statement::from_sql_and_values(self.backend(), sql, values)).await?;
        Ok(())
    }

    /// The message cannot be delivered (the server said 5xx, the template does not
    /// render): mark it failed for good and, in the same transaction, queue
    /// `escalation` to tell someone.
    pub async fn mark_failed(
        &self,
        id: i64,
        error: &str,
        now: jiff::Timestamp,
        escalation: Option<&NewMessage>,
    ) -> Result<(), StoreError> {
        let (txn, _turn) = self.begin_write().await?;
        let sql = "UPDATE outbox SET failed_at = $1, last_error = $2, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL \
                   WHERE id = $3 AND sent_at IS NULL";
        let values: [Value; 3] = [codec::to_chrono(now).into(), error.into(), id.into()];
        txn.execute_raw(Statement::from_sql_and_values(self.backend(), sql, values)).await?;
        if let Some(e) = escalation {
            insert_message(&txn, self.backend(), e, now).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Give back every outbox lease `owner` holds (a clean shutdown): due at once.
    pub async fn release_message_leases(&self, owner: &str, now: jiff::Timestamp) -> Result<u64, StoreError> {
        let _turn = self.write_turn().await;
        let sql = "UPDATE outbox SET lease_owner = NULL, lease_until = NULL, next_attempt_at = $1 WHERE lease_owner = $2 AND sent_at IS NULL AND failed_at IS NULL";
        let values: [Value; 2] = [codec::to_chrono(now).into(), owner.into()];
        Ok(self.db.execute_raw(Statement::from_sql_and_values(self.backend(), sql, values)).await?.rows_affected())
    }

    /// When the next pending message is due, for the dispatcher's sleep.
    pub async fn next_message_due(&self) -> Result<Option<jiff::Timestamp>, StoreError> {
        let next = outbox::Entity::find()
            .filter(outbox::Column::SentAt.is_null())
            .filter(outbox::Column::FailedAt.is_null())
            .order_by_asc(outbox::Column::NextAttemptAt)
            .limit(1)
            .one(&self.db)
            .await?;
        Ok(next.map(|m| codec::to_jiff(m.next_attempt_at)))
    }

    /// Every message about a case and where it stands, oldest first.
    pub async fn case_messages(&self, case_id: i64) -> Result<Vec<(OutboxMessage, Delivery)>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE case_id = $1 ORDER BY id");
        let rows = Row::find_by_statement(Statement::from_sql_and_values(self.backend(), sql, [case_id.into()]))
            .all(&self.db)
            .await?;
        Ok(rows.iter().map(|r| (r.message(), r.delivery())).collect())
    }

    /// One message and where it stands, by idempotency key.
    pub async fn message_by_key(&self, key: &str) -> Result<Option<(OutboxMessage, Delivery)>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE idempotency_key = $1");
        let row = Row::find_by_statement(Statement::from_sql_and_values(self.backend(), sql, [key.into()]))
            .one(&self.db)
            .await?;
        Ok(row.map(|r| (r.message(), r.delivery())))
    }
}

fn json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

/// Insert a message inside the caller's transaction, unless its key is taken.
pub(super) async fn insert_message<C: ConnectionTrait>(
    c: &C,
    backend: DbBackend,
    m: &NewMessage,
    now: jiff::Timestamp,
) -> Result<bool, StoreError> {
    let sql = "INSERT INTO outbox (case_id, workflow_id, idempotency_key, template, recipients, deadline, timer_id, created_at, attempts, next_attempt_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $8) ON CONFLICT (idempotency_key) DO NOTHING";
    let values: [Value; 8] = [
        m.case_id.into(),
        m.workflow_id.clone().into(),
        m.key.as_str().into(),
        m.template.as_str().into(),
        json(&m.recipients).into(),
        m.deadline.map(codec::date_to_chrono).into(),
        m.timer_id.clone().into(),
        codec::to_chrono(now).into(),
    ];
    let r = c.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    Ok(r.rows_affected() == 1)
}
