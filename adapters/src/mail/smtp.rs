//! Sending over SMTP with lettre: one pooled `AsyncSmtpTransport` per process, set up
//! from a URL (`GATEHOUSE_SMTP_URL`): `smtp://user:pass@host:587?tls=required` for
//! STARTTLS, `smtps://user:pass@host:465` for implicit TLS, `smtp://host:25` for a
//! plain local relay (lettre's URL conventions).

use super::{SendError, Transport};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

/// How long one SMTP command may take before the attempt counts as failed (transient).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// A pooled SMTP client.
pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
    url: String,
}

/// The SMTP URL could not be understood.
#[derive(Debug, thiserror::Error)]
#[error("GATEHOUSE_SMTP_URL `{url}` is not usable: {reason}")]
pub struct SmtpUrlError {
    /// The URL, password hidden.
    pub url: String,
    /// Why.
    pub reason: String,
}

impl SmtpTransport {
    /// A client for `url`, keeping up to `pool_size` connections open. Call it inside
    /// the tokio runtime: the pool starts a task that closes idle connections.
    pub fn from_url(url: &str, pool_size: u32) -> Result<SmtpTransport, SmtpUrlError> {
        let shown = crate::store::redact(url);
        let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| SmtpUrlError { url: shown.clone(), reason: e.to_string() })?;
        let pool = PoolConfig::new().max_size(pool_size.max(1)).idle_timeout(Duration::from_secs(60));
        let inner = builder.timeout(Some(COMMAND_TIMEOUT)).pool_config(pool).build();
        Ok(SmtpTransport { inner, url: shown })
    }
}

#[async_trait::async_trait]
impl Transport for SmtpTransport {
    async fn send(&self, message: &lettre::Message, _key: &str) -> Result<(), SendError> {
        let raw = message.formatted();
        match self.inner.send_raw(message.envelope(), &raw).await {
            Ok(_) => Ok(()),
            Err(e) => Err(classify(e.status().map(u16::from), &e.to_string())),
        }
    }

    fn describe(&self) -> String {
        format!("SMTP {}", self.url)
    }
}

/// What a failed SMTP exchange means. A 5xx reply is permanent, except the
/// authentication replies (530, 534, 535, 538): those say Gatehouse is misconfigured,
/// not that the message is undeliverable, so it waits for someone to fix the settings.
/// Everything else — no connection, a timeout, TLS trouble, a 4xx reply — may pass.
pub fn classify(code: Option<u16>, text: &str) -> SendError {
    match code {
        Some(530 | 534 | 535 | 538) => {
            SendError::Transient(format!("the SMTP server refused Gatehouse's login: {text}"))
        }
        Some(c) if (500..600).contains(&c) => SendError::Permanent(text.to_string()),
        _ => SendError::Transient(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_sorted_by_what_to_do() {
        assert!(matches!(classify(Some(550), "no such mailbox"), SendError::Permanent(_)));
        assert!(matches!(classify(Some(554), "rejected"), SendError::Permanent(_)));
        assert!(matches!(classify(Some(451), "try later"), SendError::Transient(_)));
        assert!(matches!(classify(Some(421), "closing"), SendError::Transient(_)));
        assert!(matches!(classify(Some(535), "bad password"), SendError::Transient(_)));
        assert!(matches!(classify(None, "connection refused"), SendError::Transient(_)));
    }

    #[tokio::test]
    async fn urls_are_read_with_lettre_conventions() {
        assert!(SmtpTransport::from_url("smtp://user:secret@127.0.0.1:2525?tls=required", 2).is_ok());
        assert!(SmtpTransport::from_url("smtps://user:secret@mail.example.org", 2).is_ok());
        let err = SmtpTransport::from_url("http://user:secret@x", 2).err().expect("refused");
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
