//! The outbox dispatcher's step: [`try_run_due`] claims a batch of due messages and
//! delivers each — one email per recipient role, each rendered for that role — then
//! records what happened: a message sent is marked sent with the rest of its batch, in
//! one transaction after the last (see `store::outbox` for what that means when the
//! process dies). A failure that may pass is retried with backoff and its error kept; one
//! that will not (a 5xx reply, a template that does not render, nobody to send to)
//! marks the message failed and queues an escalation to the case's owner in the same
//! transaction. Nothing is ever dropped silently.

use super::compose::{self, Recipient};
use super::recipients::{self, Links, Members};
use super::{Backoff, SendError, Transport};
use crate::host::{Host, HostError, WorkerError};
use crate::store::{NewMessage, OutboxMessage, Store};
use gatehouse_engine::Definition;
use gatehouse_engine::snapshot::CaseSnapshot;
use gatehouse_engine::templates;
use lettre::message::Mailbox;
use std::sync::Arc;
use std::time::Duration;

/// Settings for sending.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// The sender of every message.
    pub from: Mailbox,
    /// How provider links are made (and the server's public address).
    pub links: Links,
    /// The template of the message sent when a message cannot be delivered.
    pub escalation_template: String,
    /// The role told, with the case's owner, when a message cannot be delivered (when
    /// the case's workflow has it).
    pub escalation_role: String,
    /// When to retry.
    pub backoff: Backoff,
    /// How long a claimed message is this process's before another may take it over.
    pub lease: Duration,
}

/// What the dispatcher step works with.
pub struct MailContext<H> {
    /// The store.
    pub store: Store,
    /// The application.
    pub host: Arc<H>,
    /// Where messages go.
    pub transport: Arc<dyn Transport>,
    /// Settings.
    pub config: MailConfig,
    /// This process's name on the leases it takes.
    pub owner: String,
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailOutcome {
    /// Delivered to these roles; `note` says who could not be reached.
    Sent {
        /// The idempotency key.
        key: String,
        /// The roles sent to (by this and earlier attempts).
        roles: Vec<String>,
        /// Who was left out, and why.
        note: Option<String>,
    },
    /// Not delivered this time; tried again at `next_attempt_at`.
    Retry {
        /// The idempotency key.
        key: String,
        /// Why not.
        error: String,
        /// When it is tried next.
        next_attempt_at: jiff::Timestamp,
    },
    /// Failed for good.
    Failed {
        /// The idempotency key.
        key: String,
        /// Why.
        error: String,
        /// Whether an escalation was queued.
        escalated: bool,
    },
    /// Nothing was due; the next message is due at `next_due`.
    Idle {
        /// When the earliest pending message is due.
        next_due: Option<jiff::Timestamp>,
    },
}

/// How many due messages one step claims, and marks sent, together.
pub const BATCH: usize = 16;

/// Claim up to [`BATCH`] due messages and deliver them, one after another; those sent
/// are marked sent together at the end. Returns what happened to each, oldest first,
/// or a lone [`MailOutcome::Idle`] when nothing was due.
pub async fn try_run_due<H: Host>(cx: &MailContext<H>) -> Result<Vec<MailOutcome>, WorkerError> {
    let now = cx.host.now();
    let lease_until = now.checked_add(cx.config.lease).unwrap_or(now);
    let claimed = cx.store.claim_due_messages(&cx.owner, now, lease_until, BATCH).await?;
    if claimed.is_empty() {
        return Ok(vec![MailOutcome::Idle { next_due: cx.store.next_message_due().await? }]);
    }
    let mut members = Members::new(&cx.store);
    let (mut outcomes, mut sent) = (Vec::new(), Vec::new());
    let mut result = Ok(());
    for m in claimed {
        match deliver(cx, &m, &mut members, now).await {
            Ok(outcome) => {
                if let MailOutcome::Sent { note, .. } = &outcome {
                    sent.push((m.id, note.clone()));
                }
                outcomes.push(outcome);
            }
            // The rest of the batch is left to its leases; what went out is still
            // recorded below.
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    cx.store.mark_sent(&sent, now).await?;
    result.map(|()| outcomes)
}

/// Deliver one claimed message, and record it unless it was sent (the caller records
/// that, for the whole batch).
async fn deliver<H: Host>(
    cx: &MailContext<H>,
    m: &OutboxMessage,
    members: &mut Members<'_>,
    now: jiff::Timestamp,
) -> Result<MailOutcome, WorkerError> {
    let (def, case) = match context(cx, m).await {
        Ok(found) => found,
        Err(HostError::Failed(e)) => return retry(cx, m, e, now).await,
        Err(e) => return fail(cx, m, e.to_string(), None, now).await,
    };
    let deliveries = match deliveries(cx, m, members, &def, case.as_ref(), now).await? {
        Ok(deliveries) => deliveries,
        Err(e) => return fail(cx, m, e, Some(&def), now).await,
    };
    let mut delivered = m.delivered.clone();
    let total = deliveries.emails.len();
    for (i, (role, email)) in deliveries.emails.into_iter().enumerate() {
        match cx.transport.send(&email, &format!("{}/{role}", m.message.key)).await {
            Ok(()) => {
                delivered.push(role);
                if i + 1 < total {
                    cx.store.record_delivered(m.id, &delivered).await?;
                }
            }
            Err(SendError::Transient(e)) => return retry(cx, m, e, now).await,
            Err(SendError::Permanent(e)) => {
                return fail(cx, m, format!("the mail server refused the message to {role}: {e}"), Some(&def), now)
                    .await;
            }
        }
    }
    if delivered.is_empty() {
        let error = format!("nobody to send it to: {}", deliveries.unreachable.join("; "));
        return fail(cx, m, error, Some(&def), now).await;
    }
    let note = (!deliveries.unreachable.is_empty()).then(|| deliveries.unreachable.join("; "));
    Ok(MailOutcome::Sent { key: m.message.key.clone(), roles: delivered, note })
}

/// The emails to send (role, message), and the recipients that cannot be reached.
struct Deliveries {
    emails: Vec<(String, lettre::Message)>,
    unreachable: Vec<String>,
}

async fn context<H: Host>(
    cx: &MailContext<H>,
    m: &OutboxMessage,
) -> Result<(Arc<Definition>, Option<CaseSnapshot>), HostError> {
    if let Some(case_id) = m.message.case_id {
        let (def, case) = cx.host.case(case_id).await?;
        return Ok((def, Some(case)));
    }
    let workflow = m.message.workflow_id.as_deref().unwrap_or_default();
    let def = cx.host.workflow(workflow).ok_or_else(|| {
        HostError::NotFound(format!("the message has no case and names no known workflow (`{workflow}`)"))
    })?;
    Ok((def, None))
}

/// Everything that can be known before anything is sent; an `Err` is permanent.
async fn deliveries<H: Host>(
    cx: &MailContext<H>,
    m: &OutboxMessage,
    members: &mut Members<'_>,
    def: &Definition,
    case: Option<&CaseSnapshot>,
    now: jiff::Timestamp,
) -> Result<Result<Deliveries, String>, WorkerError> {
    let msg = &m.message;
    // The version's own letter, as it was published; the host's for one a workflow
    // does not send itself (the escalation to the owner, a built-in).
    let source = def.letters.get(msg.template.as_str()).cloned().or_else(|| cx.host.template(&msg.template));
    let Some(source) = source else {
        return Ok(Err(format!("the template `{}` does not exist", msg.template)));
    };
    let timer = msg.timer_id.as_deref();
    let domain = cx.config.from.email.domain().to_string();
    let mut deliveries = Deliveries { emails: Vec::new(), unreachable: Vec::new() };
    let mut seen = std::collections::HashSet::new();
    for to in msg.recipients.iter().filter(|r| !m.delivered.contains(r)) {
        let mut recipient: Recipient =
            match recipients::resolve(members, def, case, to, timer, &cx.config.links, now).await? {
                Ok(r) => r,
                Err(why) => {
                    deliveries.unreachable.push(why);
                    continue;
                }
            };
        // Someone in two of the roles gets the message once, as the first of them.
        recipient.addresses.retain(|a| seen.insert(a.clone()));
        if recipient.addresses.is_empty() {
            continue;
        }
        let mut data = compose::template_data(
            def,
            case,
            &recipient,
            msg.deadline,
            timer.unwrap_or_default(),
            &cx.config.links.base_url,
        );
        // The responsible commissioner by name, when they are a user still.
        if let Some(case) = case
            && let Some(name) = members.name_of(&case.owner).await?
        {
            data.owner_name = name;
        }
        let rendered = match templates::render(&source, &data) {
            Ok(r) => r,
            Err(e) => return Ok(Err(format!("the template `{}` does not render: {e}", msg.template))),
        };
        let id = compose::message_id(&msg.key, &recipient.role, &domain);
        match compose::build(&cx.config.from, &recipient, &rendered, id, now) {
            Ok(email) => deliveries.emails.push((to.clone(), email)),
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(deliveries))
}

async fn retry<H: Host>(
    cx: &MailContext<H>,
    m: &OutboxMessage,
    error: String,
    now: jiff::Timestamp,
) -> Result<MailOutcome, WorkerError> {
    let delay = cx.config.backoff.delay_with_jitter(m.attempts + 1);
    let next_attempt_at = now.checked_add(delay).unwrap_or(now);
    tracing::warn!(key = %m.message.key, attempt = m.attempts + 1, %error, retry_at = %next_attempt_at, "message not delivered; will retry");
    cx.store.retry_later(m.id, &error, next_attempt_at).await?;
    Ok(MailOutcome::Retry { key: m.message.key.clone(), error, next_attempt_at })
}

async fn fail<H: Host>(
    cx: &MailContext<H>,
    m: &OutboxMessage,
    error: String,
    def: Option<&Definition>,
    now: jiff::Timestamp,
) -> Result<MailOutcome, WorkerError> {
    let escalation = escalation(&cx.config, m, def);
    tracing::error!(key = %m.message.key, %error, escalated = escalation.is_some(), "message failed for good");
    cx.store.mark_failed(m.id, &error, now, escalation.as_ref()).await?;
    Ok(MailOutcome::Failed { key: m.message.key.clone(), error, escalated: escalation.is_some() })
}

/// The message that tells the case's owner (and the escalation role) that `m` could not
/// be delivered. None for a message without a case, and for an escalation itself.
pub fn escalation(config: &MailConfig, m: &OutboxMessage, def: Option<&Definition>) -> Option<NewMessage> {
    let case_id = m.message.case_id?;
    let e = gatehouse_engine::escalation::escalate(&m.message.key, def, &config.escalation_role)?;
    Some(NewMessage {
        case_id: Some(case_id),
        workflow_id: None,
        key: e.key,
        template: config.escalation_template.clone(),
        recipients: e.to,
        deadline: None,
        timer_id: m.message.timer_id.clone(),
    })
}
