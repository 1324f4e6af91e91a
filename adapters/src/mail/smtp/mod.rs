//! Sending over SMTP: a small pool of lettre connections that Gatehouse opens itself,
//! set up from a URL (`GATEHOUSE_SMTP_URL`): `smtp://user:pass@host:587?tls=required`
//! for STARTTLS, `smtps://user:pass@host:465` for implicit TLS, `smtp://host:25` for a
//! plain local relay (lettre's URL conventions, see [`server`]). TLS trusts the webpki
//! roots and, beside them, the certificates of a CA file (`GATEHOUSE_SMTP_CA_FILE`, see
//! [`roots`]).
//!
//! Gatehouse opens the connections rather than using lettre's `AsyncSmtpTransport`
//! so that they have `TCP_NODELAY`; without it every message waited up to 40 ms for a
//! delayed acknowledgement (see [`server`]). The pool is in [`pool`].

mod pool;
mod roots;
mod server;

use super::{SendError, Transport};
use pool::Pool;
pub use roots::{CaFileError, ExtraRoots};
use server::{ConnectError, Server};
use std::sync::Arc;
use std::time::Duration;

/// How long connecting (with TLS, EHLO and the login) may take, and how long sending
/// one message may take, before the attempt counts as failed (transient).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// A pooled SMTP client.
pub struct SmtpTransport {
    server: Server,
    pool: Arc<Pool>,
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
    /// A client for `url`, keeping up to `pool_size` connections open, whose TLS
    /// trusts the webpki roots and `roots`. Call it inside the tokio runtime: the pool
    /// starts a task that closes idle connections.
    pub fn from_url(url: &str, pool_size: u32, roots: &ExtraRoots) -> Result<SmtpTransport, SmtpUrlError> {
        let shown = crate::store::redact(url);
        let server = Server::from_url(url, roots).map_err(|reason| SmtpUrlError { url: shown.clone(), reason })?;
        Ok(SmtpTransport { server, pool: Pool::new(pool_size), url: shown })
    }
}

#[async_trait::async_trait]
impl Transport for SmtpTransport {
    async fn send(&self, message: &lettre::Message, _key: &str) -> Result<(), SendError> {
        let slot = self.pool.slot().await;
        let mut conn = match self.pool.take(&slot).await {
            Some(conn) => conn,
            None => match tokio::time::timeout(COMMAND_TIMEOUT, self.server.connect()).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(ConnectError::Smtp(e))) => return Err(classify(e.status().map(u16::from), &e.to_string())),
                Ok(Err(e)) => return Err(SendError::Transient(e.to_string())),
                Err(_) => return Err(timed_out("connecting", &self.url)),
            },
        };
        let raw = message.formatted();
        match tokio::time::timeout(COMMAND_TIMEOUT, conn.send(message.envelope(), &raw)).await {
            Ok(Ok(_)) => {
                self.pool.put(conn);
                Ok(())
            }
            // lettre has sent QUIT and marked the connection broken; it is dropped here.
            Ok(Err(e)) => Err(classify(e.status().map(u16::from), &e.to_string())),
            // The connection is in an unknown state: dropped, never reused.
            Err(_) => Err(timed_out("sending", &self.url)),
        }
    }

    fn describe(&self) -> String {
        format!("SMTP {}", self.url)
    }
}

fn timed_out(what: &str, url: &str) -> SendError {
    SendError::Transient(format!("{what} to {url} took longer than {COMMAND_TIMEOUT:?}"))
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
        assert!(
            SmtpTransport::from_url("smtp://user:secret@127.0.0.1:2525?tls=required", 2, &ExtraRoots::default())
                .is_ok()
        );
        assert!(SmtpTransport::from_url("smtps://user:secret@mail.example.org", 2, &ExtraRoots::default()).is_ok());
        let err = SmtpTransport::from_url("http://user:secret@x", 2, &ExtraRoots::default()).err().expect("refused");
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    /// Fifty messages over one pooled connection, to a server on loopback. With Nagle's
    /// algorithm on, each would wait for a delayed acknowledgement (40 ms on Linux)
    /// before its terminating `.` line went out: two seconds at least. Without it, a few
    /// milliseconds each.
    #[tokio::test]
    async fn messages_go_out_without_waiting_for_delayed_acks() {
        let (port, counts) = sink().await;
        let transport =
            SmtpTransport::from_url(&format!("smtp://127.0.0.1:{port}"), 1, &ExtraRoots::default()).expect("a client");
        let started = std::time::Instant::now();
        for n in 0..50 {
            let message = lettre::Message::builder()
                .from("gatehouse@localhost".parse().expect("from"))
                .to("lead@leeds.example".parse().expect("to"))
                .subject(format!("reminder {n}"))
                .body(format!("message {n}\n"))
                .expect("a message");
            transport.send(&message, &format!("key/{n}")).await.expect("sent");
        }
        let elapsed = started.elapsed();
        let (messages, connections) = *counts.lock().expect("counts");
        assert_eq!((messages, connections), (50, 1), "every message, over one reused connection");
        assert!(elapsed < Duration::from_secs(1), "50 messages took {elapsed:?}: Nagle's algorithm is on");
    }

    /// A minimal SMTP server on loopback that counts messages and connections.
    async fn sink() -> (u16, Arc<std::sync::Mutex<(usize, usize)>>) {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let counts = Arc::new(std::sync::Mutex::new((0, 0)));
        let shared = counts.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                shared.lock().expect("counts").1 += 1;
                let counts = shared.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 sink ready\r\n").await?;
                    let mut in_data = false;
                    while let Some(line) = lines.next_line().await? {
                        let reply: &[u8] = if in_data {
                            if line != "." {
                                continue;
                            }
                            in_data = false;
                            counts.lock().expect("counts").0 += 1;
                            b"250 queued\r\n"
                        } else if line.starts_with("DATA") {
                            in_data = true;
                            b"354 go on\r\n"
                        } else if line.starts_with("QUIT") {
                            write.write_all(b"221 bye\r\n").await?;
                            break;
                        } else {
                            b"250 ok\r\n"
                        };
                        write.write_all(reply).await?;
                    }
                    std::io::Result::Ok(())
                });
            }
        });
        (port, counts)
    }
}
