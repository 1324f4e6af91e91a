//! A real SMTP server over TCP on loopback: Debian's python3-aiosmtpd running
//! `smtp_server.py`, which writes every accepted message to a folder, with how its
//! session was encrypted and who logged in. It speaks plain SMTP, STARTTLS or TLS from
//! the first byte, and may require a login. `cargo xtask test` installs
//! python3-aiosmtpd when it is missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::tls::LoopbackCert;

/// Debian's python, where python3-aiosmtpd installs (not a pyenv shim's).
const PYTHON: &str = "/usr/bin/python3";

/// How the server treats recipients, and how it talks.
#[derive(Debug, Clone, Default)]
pub struct SmtpOptions {
    /// Recipients containing any of these get 550.
    pub reject: Vec<String>,
    /// Recipients containing any of these get 451.
    pub tempfail: Vec<String>,
    /// TLS, with the certificate it presents. None: plain SMTP.
    pub tls: Option<ServerTls>,
    /// The login (user, password) required before mail; other credentials get 535.
    /// Over STARTTLS, AUTH is offered only once the session is encrypted.
    pub login: Option<(String, String)>,
}

/// The TLS a server speaks.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub mode: TlsMode,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// STARTTLS offered, and mail refused (530) until it was used.
    StartTls,
    /// TLS from the first byte (smtps).
    Implicit,
}

impl ServerTls {
    pub fn new(mode: TlsMode, cert: &LoopbackCert) -> ServerTls {
        ServerTls { mode, cert: cert.cert.clone(), key: cert.key.clone() }
    }
}

/// A running server; killed when dropped.
pub struct SmtpServer {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

/// One message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub rcpt_to: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub file: PathBuf,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn subject(&self) -> &str {
        self.header("Subject").unwrap_or_default()
    }
    pub fn message_id(&self) -> &str {
        self.header("Message-ID").unwrap_or_default()
    }
    /// How the session that carried it was encrypted: `starttls TLSv1.3`,
    /// `implicit TLSv1.3` or `none`.
    pub fn tls(&self) -> &str {
        self.header("X-Tls").unwrap_or_default()
    }
    /// The user the session logged in as, or `none`.
    pub fn login(&self) -> &str {
        self.header("X-Login").unwrap_or_default()
    }
    /// The first `/p/<token>` link in the body.
    pub fn link_token(&self) -> Option<String> {
        let at = self.body.find("/p/")?;
        Some(self.body[at + 3..].chars().take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect())
    }
}

impl SmtpServer {
    /// Start on a free port.
    pub fn start(options: SmtpOptions) -> SmtpServer {
        SmtpServer::start_on(0, options)
    }

    /// Start on `port` (0: any free one).
    pub fn start_on(port: u16, options: SmtpOptions) -> SmtpServer {
        let has_aiosmtpd = Command::new(PYTHON)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            has_aiosmtpd,
            "python3-aiosmtpd is not installed: run the tests with `cargo xtask test` (or `apt-get install python3-aiosmtpd`)"
        );
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let mut cmd = Command::new(PYTHON);
        cmd.arg(&script).arg(dir.path()).args(["--port", &port.to_string()]);
        for r in &options.reject {
            cmd.args(["--reject", r]);
        }
        for t in &options.tempfail {
            cmd.args(["--tempfail", t]);
        }
        if let Some(tls) = &options.tls {
            let mode = match tls.mode {
                TlsMode::StartTls => "starttls",
                TlsMode::Implicit => "implicit",
            };
            cmd.args(["--tls", mode]).arg("--cert").arg(&tls.cert).arg("--key").arg(&tls.key);
        }
        if let Some((user, password)) = &options.login {
            cmd.args(["--login", &format!("{user}:{password}")]);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("the SMTP server did not start: {line:?}"));
        SmtpServer { port, dir, child }
    }

    /// `smtp://127.0.0.1:<port>` (plain SMTP; a test of TLS or a login writes its own).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The first message to `to` whose subject contains `subject` (lower case), waiting
    /// up to 30 s for it to arrive.
    pub async fn wait_for(&self, to: &str, subject: &str) -> Received {
        for _ in 0..300 {
            if let Some(m) = self
                .messages()
                .into_iter()
                .find(|m| m.rcpt_to.iter().any(|r| r == to) && m.subject().to_lowercase().contains(subject))
            {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let got: Vec<String> = self.messages().iter().map(|m| format!("{:?}: {}", m.rcpt_to, m.subject())).collect();
        panic!("no message to {to} about {subject}; got {got:?}");
    }

    /// Every message accepted so far, in the order accepted.
    pub fn messages(&self) -> Vec<Received> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files.iter().map(|f| parse(f)).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on (bound, then let go).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn parse(file: &Path) -> Received {
    let text = String::from_utf8_lossy(&std::fs::read(file).unwrap()).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    let rcpt_to = headers
        .iter()
        .find(|(n, _)| n == "X-Rcpt-To")
        .map(|(_, v)| v.split(", ").map(str::to_string).collect())
        .unwrap_or_default();
    let qp = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("Content-Transfer-Encoding") && v.eq_ignore_ascii_case("quoted-printable")
    });
    let body = if qp { quoted_printable(body) } else { body.to_string() };
    Received { rcpt_to, headers, body, file: file.to_path_buf() }
}

fn quoted_printable(s: &str) -> String {
    let s = s.replace("=\n", "");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
