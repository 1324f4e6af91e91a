//! A throwaway PostgreSQL cluster for one test run: created with `initdb` in a temporary
//! directory, started with `pg_ctl` on a free port of 127.0.0.1 (its unix socket inside
//! the same directory, so it never meets a system server), and stopped with
//! `pg_ctl stop -m fast` when the [`Cluster`] is dropped, whether the tests passed or not.
//!
//! `initdb` refuses to run as root, so as root every server program runs as the
//! `postgres` system user (created when missing), which then owns the directory.

use std::ffi::OsStr;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use super::system_user::SystemUser;
use crate::cmd::{self, running_as_root};

/// A running throwaway cluster; dropping it stops the server and deletes its files.
pub struct Cluster {
    bin_dir: PathBuf,
    /// The user the server programs run as, when we are root; else ourselves.
    owner: Option<SystemUser>,
    port: u16,
    /// Set before `pg_ctl start`, so that even a half-started server gets stopped.
    started: bool,
    /// Declared last so it is deleted after `drop` has stopped the server.
    dir: TempDir,
}

impl Cluster {
    /// Creates the cluster and waits until it accepts TCP connections.
    pub fn start(bin_dir: &Path) -> Result<Cluster> {
        let owner = if running_as_root()? { Some(SystemUser::postgres()?) } else { None };
        let dir = temporary_dir(owner.as_ref())?;
        let mut cluster = Cluster { bin_dir: bin_dir.to_owned(), owner, port: 0, started: false, dir };
        eprintln!("xtask: creating a throwaway cluster in {}", cluster.dir.path().display());
        cluster.init()?;
        cluster.port = free_port()?;
        cluster.configure()?;
        cluster.started = true;
        cluster.pg_ctl_start()?;
        wait_for_tcp(cluster.port, Duration::from_secs(30))?;
        Ok(cluster)
    }

    /// The server URL; `postgres` is a superuser that needs no password (trust auth).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The same server over its Unix socket (in the cluster's folder).
    pub fn socket_url(&self) -> Option<String> {
        let dir = self.dir.path().to_str()?;
        Some(format!("postgres://postgres@localhost/postgres?host={dir}&port={}", self.port))
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    fn init(&self) -> Result<()> {
        let data = self.data_dir();
        let args: [&OsStr; 7] = [
            "--pgdata".as_ref(),
            data.as_os_str(),
            "--username=postgres".as_ref(),
            "--auth=trust".as_ref(),
            // The C locale works with any encoding; UTF8 so tests may store any text.
            "--encoding=UTF8".as_ref(),
            "--no-locale".as_ref(),
            "--no-sync".as_ref(),
        ];
        cmd::output(&mut self.program("initdb", &args)).context("initdb failed")?;
        Ok(())
    }

    /// Appends our settings to `postgresql.conf`: later lines win over initdb's.
    fn configure(&self) -> Result<()> {
        let conf = self.data_dir().join("postgresql.conf");
        let socket_dir = self.dir.path().to_str().context("temporary path is not UTF-8")?;
        let settings = format!(
            "\n# Added by `cargo xtask test`: a throwaway cluster for one test run.\n\
             listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{socket}'\n\
             max_connections = 200\n\
             # Durability is worthless here and costs time.\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n",
            port = self.port,
            socket = socket_dir.replace('\'', "''"),
        );
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .with_context(|| format!("opening {}", conf.display()))?;
        file.write_all(settings.as_bytes()).with_context(|| format!("writing {}", conf.display()))
    }

    fn pg_ctl_start(&self) -> Result<()> {
        let (data, log) = (self.data_dir(), self.log_file());
        let args: [&OsStr; 8] = [
            "start".as_ref(),
            "--pgdata".as_ref(),
            data.as_os_str(),
            "--log".as_ref(),
            log.as_os_str(),
            "--wait".as_ref(),
            "--timeout=60".as_ref(),
            "--silent".as_ref(),
        ];
        let started = cmd::output(&mut self.program("pg_ctl", &args));
        started.with_context(|| format!("the server did not start; its log:\n{}", self.log_tail()))?;
        Ok(())
    }

    fn stop(&self) -> Result<()> {
        let data = self.data_dir();
        let args: [&OsStr; 7] = [
            "stop".as_ref(),
            "--pgdata".as_ref(),
            data.as_os_str(),
            "--mode=fast".as_ref(),
            "--wait".as_ref(),
            "--timeout=60".as_ref(),
            "--silent".as_ref(),
        ];
        cmd::output(&mut self.program("pg_ctl", &args))?;
        Ok(())
    }

    /// A command running one of the server programs as the cluster's owner.
    fn program(&self, name: &str, args: &[&OsStr]) -> Command {
        let program = self.bin_dir.join(name);
        let mut command = match &self.owner {
            None => {
                let mut command = Command::new(program);
                command.args(args);
                command
            }
            Some(user) => user.command(&program, args),
        };
        // The owner may not be allowed into our working directory; it owns this one.
        command.current_dir(self.dir.path());
        command
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_file()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.started {
            return;
        }
        match self.stop() {
            Ok(()) => eprintln!("xtask: stopped the throwaway cluster on port {}", self.port),
            // No pid file: the server never came up (its start failed), nothing to stop.
            Err(_) if !self.data_dir().join("postmaster.pid").exists() => {}
            Err(err) => {
                // Deleting the files under a server that may still run would only hide it.
                self.dir.disable_cleanup(true);
                let dir = self.dir.path().display();
                eprintln!("xtask: warning: could not stop the throwaway cluster in {dir}: {err:#}");
            }
        }
    }
}

/// A temporary directory the cluster's owner may use. As root it sits under `/tmp`, not
/// `$TMPDIR`, which may be inside a home directory the `postgres` user cannot enter.
fn temporary_dir(owner: Option<&SystemUser>) -> Result<TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("gatehouse-pg-");
    let Some(owner) = owner else {
        return builder.tempdir().context("creating a temporary directory for the cluster");
    };
    let dir = builder.tempdir_in("/tmp").context("creating a temporary directory in /tmp")?;
    owner.give(dir.path())?;
    Ok(dir)
}

/// A port on 127.0.0.1 that nothing listens on right now.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr().context("reading the free port")?.port())
}

fn wait_for_tcp(port: u16, timeout: Duration) -> Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + timeout;
    while TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
        if Instant::now() > deadline {
            bail!("the throwaway cluster does not accept connections on {addr}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}
