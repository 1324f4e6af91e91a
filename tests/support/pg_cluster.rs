//! A PostgreSQL cluster of a test's own, for tests that restart the server: the shared
//! one (`GATEHOUSE_TEST_DATABASE_URL`) serves every other test at the same time. Made
//! with Debian's `initdb` and `pg_ctl` (`cargo xtask test` installs them and names their
//! folder in `GATEHOUSE_PG_BIN_DIR`) in a temporary folder, listening on a free port of
//! 127.0.0.1 only; stopped and deleted when dropped. `initdb` refuses to run as root, so
//! as root the programs run as the `postgres` user that Debian's package creates.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A running cluster of our own.
pub struct PgCluster {
    bin: PathBuf,
    /// Run the programs as `postgres` (we are root).
    as_postgres: bool,
    port: u16,
    dir: tempfile::TempDir,
}

impl PgCluster {
    /// Create and start a cluster; panics, saying what is missing, when it cannot.
    pub fn start() -> PgCluster {
        let bin = server_programs();
        let as_postgres = running_as_root();
        // As root the cluster's owner must be able to reach its folder: /tmp, not a
        // $TMPDIR that may sit in a home directory.
        let dir = tempfile::Builder::new().prefix("gatehouse-pg-test-").tempdir_in("/tmp").unwrap();
        if as_postgres {
            let status = Command::new("chown").arg("postgres:").arg(dir.path()).status().unwrap();
            assert!(
                status.success(),
                "cannot give {} to the `postgres` user (Debian's postgresql package creates it; \
                 `cargo xtask test` installs that package)",
                dir.path().display()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cluster = PgCluster { bin, as_postgres, port, dir };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &["--pgdata", &data, "--username=postgres", "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"],
        );
        let conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n",
            cluster.dir.path().display()
        );
        let mut file = std::fs::OpenOptions::new().append(true).open(Path::new(&data).join("postgresql.conf")).unwrap();
        std::io::Write::write_all(&mut file, conf.as_bytes()).unwrap();
        cluster.pg_ctl(&["start"]);
        cluster
    }

    /// The `postgres` database, as the `postgres` superuser (trust authentication).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl restart -m fast`: every connection is cut, transactions under way are
    /// rolled back, and the server is back when this returns.
    pub fn restart(&self) {
        self.pg_ctl(&["restart", "--mode=fast"]);
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn pg_ctl(&self, args: &[&str]) {
        let (data, log) = (self.data(), self.dir.path().join("postgres.log").display().to_string());
        let mut all = args.to_vec();
        all.extend(["--pgdata", &data, "--log", &log, "--wait", "--timeout=60", "--silent"]);
        self.run("pg_ctl", &all);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() && args[0] != "stop" {
            assert!(Instant::now() < deadline, "the test's PostgreSQL cluster does not accept connections");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        command.args(args).current_dir(self.dir.path());
        let out = command.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join("pg_ctl"));
            c
        } else {
            Command::new(self.bin.join("pg_ctl"))
        };
        let _ = command.args(["stop", "--pgdata", &data, "--mode=immediate", "--wait", "--silent"]).status();
    }
}

/// The folder of `initdb` and `pg_ctl`: `GATEHOUSE_PG_BIN_DIR`, else the newest
/// `/usr/lib/postgresql/*/bin` that has them.
fn server_programs() -> PathBuf {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("GATEHOUSE_PG_BIN_DIR").map(PathBuf::from).filter(|d| !d.as_os_str().is_empty())
    {
        assert!(has_both(&dir), "GATEHOUSE_PG_BIN_DIR={} has no initdb and pg_ctl", dir.display());
        return dir;
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.split('.').next()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| has_both(bin))
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "this test runs a PostgreSQL server of its own and needs PostgreSQL's server programs \
             (initdb, pg_ctl), which are not under /usr/lib/postgresql/*/bin: run the tests with \
             `cargo xtask test`, which installs them, or `apt-get install postgresql`"
        )
    })
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
