//! Mail: the outbox dispatcher and the transports it sends through.
//!
//! [`dispatch::try_run_due`] claims a batch of queued messages and, for each, finds its
//! recipients' addresses (members of an internal role; the case field of an external
//! one, with a signed link), renders its template for each recipient role, and hands
//! the result to a [`Transport`]: SMTP ([`smtp::SmtpTransport`], lettre connections
//! opened by Gatehouse, pooled) or `.eml` files in a folder ([`file::FileTransport`],
//! the embedded default). What a failure means is decided here once: a
//! [`SendError::Transient`] is retried with backoff and jitter, a
//! [`SendError::Permanent`] marks the message failed and tells the case's owner.

pub mod backoff;
pub mod compose;
pub mod dispatch;
pub mod file;
pub mod recipients;
pub mod smtp;

pub use backoff::Backoff;
pub use dispatch::{MailConfig, MailContext, MailOutcome, try_run_due};
pub use file::FileTransport;
pub use smtp::SmtpTransport;

/// Why a message was not handed over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// It may work later: the server is down, busy, or answered 4xx.
    #[error("{0}")]
    Transient(String),
    /// It will not work: the server answered 5xx (no such mailbox, say).
    #[error("{0}")]
    Permanent(String),
}

/// Something that delivers a finished message.
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    /// Deliver `message`. `key` names it uniquely and stably (its outbox idempotency key
    /// and recipient role), so a transport may make a repeated delivery harmless.
    async fn send(&self, message: &lettre::Message, key: &str) -> Result<(), SendError>;

    /// What it delivers to, for the log (never a password).
    fn describe(&self) -> String;
}
