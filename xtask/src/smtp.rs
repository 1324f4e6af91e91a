//! The SMTP server the mail tests deliver to: Debian's python3-aiosmtpd, run by
//! `tests/support/smtp_server.py` under Debian's `/usr/bin/python3`. Installed with
//! apt-get when missing, so `cargo xtask test` needs nothing beforehand.

use std::process::{Command, Stdio};

use anyhow::{Result, bail};

/// Debian's python, where python3-aiosmtpd installs (a pyenv shim on `PATH` would not
/// see it).
pub const PYTHON: &str = "/usr/bin/python3";

/// Make sure python3-aiosmtpd can be imported, installing it if needed.
pub fn ensure_aiosmtpd() -> Result<()> {
    if has_aiosmtpd() {
        return Ok(());
    }
    crate::apt::install("python3-aiosmtpd", &["python3-aiosmtpd"])?;
    if !has_aiosmtpd() {
        bail!("python3-aiosmtpd was installed, but {PYTHON} cannot import aiosmtpd");
    }
    Ok(())
}

fn has_aiosmtpd() -> bool {
    Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
