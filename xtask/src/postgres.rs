//! Finding a PostgreSQL server for the tests, in this order:
//!
//! 1. `GATEHOUSE_TEST_DATABASE_URL`, when it is set and not empty: used as it is.
//! 2. A server on 127.0.0.1:5432 that accepts `postgres` without a password: it must
//!    accept a TCP connection and, when `psql` is installed, answer `select 1`.
//! 3. A throwaway cluster (see [`cluster`]) in a temporary directory, on a free loopback
//!    port, stopped and deleted when the tests end. Its binaries are found under
//!    `/usr/lib/postgresql/*/bin` or on `PATH`, and installed with apt-get when missing.
//!
//! `GATEHOUSE_XTASK_FORCE_THROWAWAY_PG=1` (or `--throwaway-pg`) skips 1 and 2, so the
//! third path can be exercised on a machine that has a server running.

mod binaries;
mod cluster;
mod system_user;

use std::fmt;
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use crate::{TEST_DATABASE_URL_VAR, cmd};

/// How to choose the server.
pub struct Options {
    /// Start a throwaway cluster even when another server is available.
    pub force_throwaway: bool,
}

/// A PostgreSQL server the tests may create databases on. A throwaway cluster lives as
/// long as this value: dropping it stops the server and deletes its files.
pub struct TestServer {
    url: String,
    origin: Origin,
    _cluster: Option<cluster::Cluster>,
}

/// Where a [`TestServer`] came from, for the message that says which one is used.
enum Origin {
    Environment,
    LocalDefault,
    Throwaway,
}

/// The local server probed when nothing else is configured.
const LOCAL_ADDR: ([u8; 4], u16) = ([127, 0, 0, 1], 5432);
const LOCAL_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Picks the server for this test run; see the module docs for the order.
pub fn resolve(options: Options) -> Result<TestServer> {
    if options.force_throwaway {
        eprintln!("xtask: a throwaway cluster is forced (--throwaway-pg, GATEHOUSE_XTASK_FORCE_THROWAWAY_PG)");
        return throwaway();
    }
    if let Some(url) = url_from_environment() {
        return Ok(TestServer { url, origin: Origin::Environment, _cluster: None });
    }
    if local_server_answers() {
        let url = LOCAL_URL.to_owned();
        return Ok(TestServer { url, origin: Origin::LocalDefault, _cluster: None });
    }
    throwaway()
}

impl TestServer {
    /// The server URL, without a database name the tests should rely on.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The same server over its Unix socket, when this machine can reach it there: a
    /// throwaway cluster's, or the default local server's in `/var/run/postgresql`. None
    /// for a server named by `GATEHOUSE_TEST_DATABASE_URL`, which may be anywhere.
    pub fn socket_url(&self) -> Option<String> {
        match self.origin {
            Origin::Throwaway => self._cluster.as_ref()?.socket_url(),
            Origin::LocalDefault => {
                let dir = "/var/run/postgresql";
                let socket = format!("{dir}/.s.PGSQL.{}", LOCAL_ADDR.1);
                std::path::Path::new(&socket)
                    .exists()
                    .then(|| format!("postgres://postgres@localhost/postgres?host={dir}"))
            }
            Origin::Environment => None,
        }
    }
}

impl fmt::Display for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = redact_password(&self.url);
        match self.origin {
            Origin::Environment => write!(f, "{url} (from {TEST_DATABASE_URL_VAR})"),
            Origin::LocalDefault => write!(f, "{url} (the server on 127.0.0.1:5432)"),
            Origin::Throwaway => write!(f, "{url} (a throwaway cluster, stopped afterwards)"),
        }
    }
}

fn url_from_environment() -> Option<String> {
    std::env::var(TEST_DATABASE_URL_VAR).ok().filter(|url| !url.trim().is_empty())
}

/// The folder of PostgreSQL's server programs (`initdb`, `pg_ctl`), installed when
/// missing: besides a throwaway cluster, `tests/durability.rs` runs a cluster of its
/// own, which it restarts under load.
pub fn server_programs() -> Result<std::path::PathBuf> {
    binaries::find_or_install()
}

fn throwaway() -> Result<TestServer> {
    let bin_dir = binaries::find_or_install()?;
    let cluster = cluster::Cluster::start(&bin_dir)?;
    Ok(TestServer { url: cluster.url(), origin: Origin::Throwaway, _cluster: Some(cluster) })
}

/// Whether the default local server is there and lets `postgres` in without a password.
fn local_server_answers() -> bool {
    let addr = SocketAddr::from(LOCAL_ADDR);
    if TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err() {
        eprintln!("xtask: nothing answers on {addr}");
        return false;
    }
    let Some(psql) = cmd::find_in_path("psql") else {
        return true; // the TCP connect is all we can check
    };
    let mut query = Command::new(psql);
    query
        .args(["-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres"])
        .args(["--no-password", "--no-psqlrc", "--quiet", "--command", "select 1"])
        .env("PGCONNECT_TIMEOUT", "5");
    match cmd::output(&mut query) {
        Ok(_) => true,
        Err(err) => {
            eprintln!("xtask: the server on {addr} is not usable: {err:#}");
            false
        }
    }
}

/// `url` with any password replaced by `***`, for printing.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let Some((user, _password)) = authority[..at].split_once(':') else {
        return url.to_owned();
    };
    format!("{scheme}://{user}:***{}", &rest[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_password("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_password("postgres://h:5432/db"), "postgres://h:5432/db");
        assert_eq!(redact_password("postgres://h/db?x=a:b@c"), "postgres://h/db?x=a:b@c");
    }
}
