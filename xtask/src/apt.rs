//! Installing Debian packages with apt-get, for the tools xtask needs when the machine
//! lacks them (PostgreSQL, python3-aiosmtpd, wrk), so the tasks need nothing beforehand.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cmd;

/// Installs `packages` with `apt-get update` then `apt-get install`. `what` names what is
/// missing, for the messages (e.g. "wrk"). Fails with the command to run by hand when
/// xtask is not root, rather than letting apt-get fail on its lock files.
pub fn install(what: &str, packages: &[&str]) -> Result<()> {
    let list = packages.join(" ");
    if !cmd::running_as_root()? {
        bail!("{what} is not installed and xtask is not root: run `apt-get install {list}` as root");
    }
    eprintln!("xtask: {what} not found: installing {list} with apt-get");
    cmd::run(apt_get().arg("update")).context("apt-get update")?;
    cmd::run(apt_get().args(["install", "-y", "--no-install-recommends"]).args(packages))
        .with_context(|| format!("installing {list}"))
}

fn apt_get() -> Command {
    let mut command = Command::new("apt-get");
    command.env("DEBIAN_FRONTEND", "noninteractive");
    command
}
