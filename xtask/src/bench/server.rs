//! The `gatehouse` release binary, built for the benchmarks, and `gatehouse serve` run
//! from it over a SQLite database in a temporary directory (the `http` and `mail` steps).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::{cargo, cmd, project_root};

/// What the server logs: warnings and errors, and the startup lines of
/// `gatehouse::cli::service`, one of which carries the bound address. No line per request,
/// so that logging costs what it would in production, and little.
pub const RUST_LOG: &str = "warn,gatehouse::cli::service=info";

/// The link secret the server signs with; the benchmarks follow no links.
const SECRET: &str = "xtask bench: a benchmark secret, not a real one";

/// How many of the server's last log lines an error quotes.
const LOG_TAIL: usize = 20;

/// Builds `gatehouse` in the release profile and returns the path of the executable.
pub fn build() -> Result<PathBuf> {
    build_target("bin", "gatehouse")
}

/// Builds the target `name` of kind `kind` (`bin`, `example`) of the `gatehouse` package
/// in the release profile and returns the path of the executable.
pub fn build_target(kind: &str, name: &str) -> Result<PathBuf> {
    let mut command = cargo();
    command
        .args(["build", "--release", "--package", "gatehouse", &format!("--{kind}"), name])
        .args(["--message-format", "json-render-diagnostics"])
        .current_dir(project_root());
    eprintln!("xtask: running {}", cmd::display(&command));
    let messages = cmd::output(command.stderr(Stdio::inherit()))?;
    executable(&messages, kind, name)
        .with_context(|| format!("cargo build printed no executable for the {kind} {name}"))
}

/// The `executable` of the target `name` of kind `kind` among cargo's JSON messages.
fn executable(messages: &str, kind: &str, name: &str) -> Option<PathBuf> {
    messages.lines().filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok()).find_map(|message| {
        let is_target = message["reason"] == "compiler-artifact"
            && message["target"]["name"] == name
            && message["target"]["kind"].as_array().is_some_and(|kinds| kinds.iter().any(|k| k == kind));
        is_target.then(|| message["executable"].as_str().map(PathBuf::from)).flatten()
    })
}

/// `gatehouse users add` on `database_url`, with `roles`; returns the token it printed.
pub fn add_user(binary: &Path, database_url: &str, email: &str, roles: &[&str]) -> Result<String> {
    let mut command = Command::new(binary);
    command.args(["users", "add", "--database-url", database_url, "--email", email, "--name", email]);
    for role in roles {
        command.args(["--role", role]);
    }
    command.env("RUST_LOG", "warn");
    let printed = cmd::output(&mut command)?;
    printed
        .lines()
        .find_map(|line| line.split_once("token (shown once; keep it safe): ").map(|(_, token)| token.trim()))
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
        .with_context(|| format!("`gatehouse users add` printed no token:\n{printed}"))
}

/// Where a server sends the messages its decisions queue.
#[derive(Debug, Clone, Copy)]
pub enum Mail<'a> {
    /// `.eml` files in an outbox folder under the server's directory.
    Folder,
    /// This SMTP server (`smtp://127.0.0.1:PORT`).
    Smtp(&'a str),
}

/// A running `gatehouse serve`, killed when dropped.
pub struct Server {
    child: Child,
    /// The command that started it, as shown.
    command: String,
    addr: SocketAddr,
    /// The last lines of its stderr, drained by a thread so the pipe never fills.
    log: Arc<Mutex<VecDeque<String>>>,
    /// How many lines it logged at WARN or ERROR.
    complaints: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `gatehouse serve` on a free loopback port, with its database and files
    /// under `dir`, sending mail to `mail`, and waits until it says it is serving.
    pub fn start(binary: &Path, database_url: &str, dir: &Path, mail: Mail<'_>) -> Result<Server> {
        let mut command = Command::new(binary);
        command
            .args(["serve", "--database-url", database_url, "--workflows"])
            .arg(project_root().join("workflows"))
            .arg("--data-dir")
            .arg(dir.join("data"));
        match mail {
            Mail::Folder => command.arg("--outbox-dir").arg(dir.join("outbox")),
            Mail::Smtp(url) => command.args(["--smtp-url", url]),
        };
        command
            .args(["--listen", "127.0.0.1:0"])
            .env("GATEHOUSE_LOG_FORMAT", "json")
            .env("GATEHOUSE_SECRET", SECRET)
            .env("RUST_LOG", RUST_LOG)
            .env_remove("GATEHOUSE_SMTP_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let shown = cmd::display(&command);
        eprintln!("xtask: running {shown}");
        let mut child = command.spawn().with_context(|| format!("could not start `{shown}`"))?;
        let Some(stderr) = child.stderr.take() else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the stderr of `gatehouse serve` was not captured");
        };
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let complaints = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = mpsc::channel();
        let (lines, warnings) = (log.clone(), complaints.clone());
        std::thread::spawn(move || drain(stderr, &address_tx, &lines, &warnings));
        let mut server = Server { child, command: shown, addr: SocketAddr::from(([127, 0, 0, 1], 0)), log, complaints };
        // From here on, dropping `server` kills the process, whatever goes wrong.
        let address = match address_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => address,
            Err(_) => bail!("`gatehouse serve` did not say it was serving within 60 s:\n{}", server.log_tail()),
        };
        server.addr = address.parse().with_context(|| format!("the server logged a bad address {address:?}"))?;
        eprintln!("xtask: gatehouse serve (pid {}) is serving on {}", server.pid(), server.addr);
        Ok(server)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The command that started it, as shown.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Fails, quoting its log, if the server has exited (a crash, or a Ctrl-C that
    /// reached it), so that no figure is taken against a dead server.
    pub fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait().context("asking whether gatehouse serve still runs")? {
            None => Ok(()),
            Some(status) => bail!("gatehouse serve exited ({status}):\n{}", self.log_tail()),
        }
    }

    /// `outcome`; but when it failed and the server exits within a few seconds (a
    /// server shutting down refuses connections before it is gone), that error instead,
    /// which says why: a request that could not connect is only the symptom.
    pub fn unless_dead<T>(&mut self, outcome: Result<T>) -> Result<T> {
        if outcome.is_err() {
            for _ in 0..60 {
                self.check_alive()?;
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        outcome
    }

    /// Its memory now, from `/proc/<pid>/status`.
    pub fn memory(&self) -> Result<Memory> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        Memory::parse(&status).with_context(|| format!("no VmRSS and VmHWM in {path}"))
    }

    /// The WARN and ERROR lines it logged so far.
    pub fn complaints(&self) -> Vec<String> {
        self.complaints.lock().map(|lines| lines.clone()).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let lines = self.log.lock().map(|lines| lines.iter().cloned().collect::<Vec<_>>()).unwrap_or_default();
        if lines.is_empty() { "(it logged nothing)".to_owned() } else { lines.join("\n") }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the server's stderr to its end: sends the address of "gatehouse is serving",
/// keeps the last lines, and collects warnings and errors.
fn drain(
    stderr: impl std::io::Read,
    address: &mpsc::Sender<String>,
    log: &Mutex<VecDeque<String>>,
    complaints: &Mutex<Vec<String>>,
) {
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let json = serde_json::from_str::<serde_json::Value>(&line).unwrap_or_default();
        if json["fields"]["message"] == "gatehouse is serving"
            && let Some(bound) = json["fields"]["address"].as_str()
        {
            let _ = address.send(bound.to_owned());
        }
        if matches!(json["level"].as_str(), Some("WARN" | "ERROR"))
            && let Ok(mut complaints) = complaints.lock()
        {
            complaints.push(line.clone());
        }
        if let Ok(mut log) = log.lock() {
            if log.len() == LOG_TAIL {
                log.pop_front();
            }
            log.push_back(line);
        }
    }
}

/// A process's resident memory, in KiB (the kernel writes "kB").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the most it has been resident since it started.
    pub peak_kib: u64,
}

impl Memory {
    fn parse(status: &str) -> Option<Memory> {
        let field = |name: &str| -> Option<u64> {
            let value = status.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))?;
            value.split_whitespace().next()?.parse().ok()
        };
        Some(Memory { rss_kib: field("VmRSS")?, peak_kib: field("VmHWM")? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_memory_from_proc_status() {
        let status = "Name:\tgatehouse\nVmHWM:\t   61234 kB\nVmRSS:\t   40960 kB\nRssAnon:\t 30000 kB\n";
        assert_eq!(Memory::parse(status), Some(Memory { rss_kib: 40960, peak_kib: 61234 }));
        assert_eq!(Memory::parse("Name:\tgatehouse\n"), None);
    }

    #[test]
    fn finds_the_executable_among_cargo_messages() {
        let messages = r#"{"reason":"compiler-artifact","target":{"name":"gatehouse","kind":["lib"]},"executable":null}
{"reason":"compiler-artifact","target":{"name":"gatehouse","kind":["bin"]},"executable":"/t/release/gatehouse"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(executable(messages, "bin", "gatehouse"), Some(PathBuf::from("/t/release/gatehouse")));
        assert_eq!(executable(messages, "example", "gatehouse"), None);
        assert_eq!(executable(r#"{"reason":"build-finished","success":true}"#, "bin", "gatehouse"), None);
    }
}
