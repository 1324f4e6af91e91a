//! The SMTP server a URL names, and how a connection to it is opened.
//!
//! The URL follows lettre's conventions (`AsyncSmtpTransport::from_url`): `smtp://host`
//! is plain SMTP on port 25; `smtp://host?tls=required` upgrades with STARTTLS and
//! fails without it, `?tls=opportunistic` upgrades when the server offers it, both on
//! port 587 by default; `smtps://host` is TLS from the first byte, port 465 by default.
//! `user:password@` (percent-encoded) logs in with PLAIN or LOGIN, and a path names
//! Gatehouse in EHLO (`smtp://host/gatehouse.example.org`).
//!
//! Gatehouse opens the TCP connection itself so that it can set `TCP_NODELAY`: lettre
//! writes a message and its terminating `.` line in two writes, and with Nagle's
//! algorithm on, the second waits for the first to be acknowledged, which the
//! receiving kernel delays by up to 40 ms: a stall of that length on every message.
//! lettre's own connections have no setting for it, so the stream is handed to lettre
//! with `AsyncSmtpConnection::connect_with_transport`. For implicit TLS the handshake
//! is done here with tokio-rustls (lettre's crypto provider, the webpki roots lettre
//! trusts by default) before lettre reads the greeting.
//!
//! Both kinds of TLS trust the webpki roots and, beside them, the certificates of the
//! CA file when one is configured ([`ExtraRoots`]).

use super::roots::ExtraRoots;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::ServerName;

/// Where to connect and how to talk, read from the URL.
pub struct Server {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Whether and how the connection is encrypted.
    pub security: Security,
    /// The login, when the URL has a password.
    pub credentials: Option<Credentials>,
    /// The name Gatehouse gives in EHLO.
    pub hello: ClientId,
}

/// Whether and how a connection is encrypted.
pub enum Security {
    /// Plain SMTP (a local relay).
    Plain,
    /// STARTTLS after the greeting; `required: false` goes on in clear when the server
    /// does not offer it.
    StartTls {
        /// Whether a server without STARTTLS is an error.
        required: bool,
        /// lettre's TLS settings for the upgrade.
        parameters: TlsParameters,
    },
    /// TLS from the first byte (`smtps://`).
    Implicit {
        /// The handshake's settings.
        connector: tokio_rustls::TlsConnector,
        /// The name the certificate must carry.
        name: ServerName<'static>,
    },
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// TCP or the TLS handshake of `smtps://` failed.
    #[error("could not connect to {0}: {1}")]
    Network(String, io::Error),
    /// The server answered badly (or refused the login, or STARTTLS failed).
    #[error("{0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

impl Server {
    /// Read `url`; TLS trusts the webpki roots and `roots`. The error says why, without
    /// repeating the URL.
    pub fn from_url(url: &str, roots: &ExtraRoots) -> Result<Server, String> {
        let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
        let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or("it names no host")?;
        // `Url` keeps the brackets of an IPv6 address; TCP and TLS want it bare.
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let tls = parsed.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
        let (security, default_port) = match (parsed.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::Plain, 25),
            ("smtp", Some(mode @ ("required" | "opportunistic"))) => {
                (Security::StartTls { required: mode == "required", parameters: starttls(&host, roots)? }, 587)
            }
            ("smtps", _) => {
                let name = ServerName::try_from(host.clone()).map_err(|e| format!("`{host}`: {e}"))?;
                (Security::Implicit { connector: connector(roots)?, name }, 465)
            }
            (scheme, tls) => {
                return Err(format!(
                    "the scheme must be smtp or smtps and `tls` required or opportunistic, not `{scheme}` and {tls:?}"
                ));
            }
        };
        let credentials = match parsed.password() {
            Some(password) => Some(Credentials::new(decode(parsed.username())?, decode(password)?)),
            None => None,
        };
        let path = parsed.path().trim_matches('/');
        let hello = if path.is_empty() { ClientId::default() } else { ClientId::Domain(path.to_string()) };
        Ok(Server { port: parsed.port().unwrap_or(default_port), host, security, credentials, hello })
    }

    /// Open a connection: TCP with `TCP_NODELAY`, TLS as the URL says, EHLO, and the
    /// login when there is one.
    pub async fn connect(&self) -> Result<AsyncSmtpConnection, ConnectError> {
        let tcp = self.dial().await?;
        let stream: Box<dyn AsyncTokioStream> = match &self.security {
            Security::Implicit { connector, name } => {
                let tls = connector.connect(name.clone(), tcp).await.map_err(|e| self.network(e))?;
                Box::new(ImplicitTls(tls))
            }
            _ => Box::new(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello).await?;
        match &self.security {
            Security::StartTls { required, parameters } if *required || conn.can_starttls() => {
                conn.starttls(parameters.clone(), &self.hello).await?;
            }
            _ => {}
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(conn)
    }

    /// The TCP connection, with Nagle's algorithm off (see the module documentation).
    pub(super) async fn dial(&self) -> Result<TcpStream, ConnectError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await.map_err(|e| self.network(e))?;
        tcp.set_nodelay(true).map_err(|e| self.network(e))?;
        Ok(tcp)
    }

    fn network(&self, e: io::Error) -> ConnectError {
        ConnectError::Network(format!("{}:{}", self.host, self.port), e)
    }
}

fn decode(s: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|e| format!("the login is not UTF-8 once decoded: {e}"))
}

/// lettre's TLS settings for STARTTLS to `host`: its defaults with rustls (the webpki
/// roots, TLS 1.2 or 1.3), and `roots` trusted too.
fn starttls(host: &str, roots: &ExtraRoots) -> Result<TlsParameters, String> {
    let mut builder = TlsParameters::builder(host.to_string());
    for cert in roots.certs() {
        builder = builder.add_root_certificate(Certificate::from_der(cert.to_vec()).map_err(|e| e.to_string())?);
    }
    builder.build().map_err(|e| e.to_string())
}

/// The TLS settings of `smtps://`: those lettre uses by default with rustls (its
/// crypto provider unless the process installed one, the webpki roots, TLS 1.2 or 1.3),
/// and `roots` trusted too.
fn connector(roots: &ExtraRoots) -> Result<tokio_rustls::TlsConnector, String> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let roots = roots.with_webpki();
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// A TLS stream lettre can use as if it were plain TCP: lettre's own TLS streams can
/// only be made by lettre, after the greeting.
#[derive(Debug)]
struct ImplicitTls(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncTokioStream for ImplicitTls {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl AsyncRead for ImplicitTls {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ImplicitTls {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(url: &str) -> Result<Server, String> {
        Server::from_url(url, &ExtraRoots::default())
    }

    #[test]
    fn urls_follow_lettre() {
        let s = read("smtp://user%40x:p%3Ass@127.0.0.1:2525?tls=required").expect("read");
        assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 2525));
        assert!(matches!(s.security, Security::StartTls { required: true, .. }));
        assert_eq!(s.credentials, Some(Credentials::new("user@x".into(), "p:ss".into())));

        let s = read("smtp://mail.example.org?tls=opportunistic").expect("read");
        assert!(matches!(s.security, Security::StartTls { required: false, .. }));
        assert_eq!(s.port, 587);

        let s = read("smtps://mail.example.org/gatehouse.example.org").expect("read");
        assert!(matches!(s.security, Security::Implicit { .. }));
        assert_eq!(s.port, 465);
        assert_eq!(s.hello, ClientId::Domain("gatehouse.example.org".into()));

        let s = read("smtp://[::1]").expect("read");
        assert_eq!((s.host.as_str(), s.port, s.credentials), ("::1", 25, None));
        assert!(matches!(s.security, Security::Plain));

        assert!(read("smtp://x?tls=sometimes").is_err());
        assert!(read("http://x").is_err());
        assert!(read("smtp://").is_err());
    }

    #[tokio::test]
    async fn connections_are_opened_without_nagle() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let server = read(&format!("smtp://127.0.0.1:{port}")).expect("read");
        let tcp = server.dial().await.expect("connected");
        assert!(tcp.nodelay().expect("read the option"), "TCP_NODELAY is set");
    }
}
