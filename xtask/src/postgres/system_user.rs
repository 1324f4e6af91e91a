//! The system account that PostgreSQL's server programs run as when xtask runs as root,
//! since `initdb` and `postgres` refuse to run as root.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::cmd;

/// A system account that the server programs run as when we are root.
pub struct SystemUser {
    name: String,
    uid: u32,
    gid: u32,
}

impl SystemUser {
    /// The `postgres` user that Debian's packages create; created here when missing.
    pub fn postgres() -> Result<SystemUser> {
        const NAME: &str = "postgres";
        if let Some(user) = SystemUser::lookup(NAME) {
            return Ok(user);
        }
        eprintln!("xtask: creating the system user {NAME}");
        cmd::run(Command::new("useradd").args([
            "--system",
            "--user-group",
            "--home-dir",
            "/var/lib/postgresql",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            NAME,
        ]))
        .context("creating the postgres system user")?;
        SystemUser::lookup(NAME).context("the postgres user was created but cannot be found")
    }

    fn lookup(name: &str) -> Option<SystemUser> {
        let id = |flag: &str| -> Option<u32> {
            let out = cmd::output(Command::new("id").args([flag, name])).ok()?;
            out.trim().parse().ok()
        };
        Some(SystemUser { name: name.to_owned(), uid: id("-u")?, gid: id("-g")? })
    }

    pub fn give(&self, path: &Path) -> Result<()> {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))
            .with_context(|| format!("giving {} to the {} user", path.display(), self.name))
    }

    /// `program args…` run as this user: with `runuser` (util-linux), else `su`.
    pub fn command(&self, program: &Path, args: &[&OsStr]) -> Command {
        if let Some(runuser) = cmd::find_in_path("runuser") {
            let mut command = Command::new(runuser);
            command.args(["-u", &self.name, "--"]).arg(program).args(args);
            return command;
        }
        let words = std::iter::once(program.as_os_str()).chain(args.iter().copied());
        let script: Vec<String> = words.map(cmd::shell_word).collect();
        let mut command = Command::new("su");
        command.args(["-s", "/bin/sh", "-c"]).arg(format!("exec {}", script.join(" ")));
        command.arg(OsString::from(&self.name));
        command
    }
}
