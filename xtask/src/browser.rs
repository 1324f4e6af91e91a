//! What the browser tests need: Debian's Chromium and ChromeDriver (apt-get), and the
//! axe-core accessibility checker (npm, into `target/npm`). Installed when missing, so
//! `cargo xtask test` needs nothing beforehand.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{apt, cmd, project_root};

/// The Chromium binary the tests drive.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Its WebDriver server.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The axe-core version the tests inject.
const AXE: &str = "axe-core@4.10";

/// Make sure Chromium, ChromeDriver and axe-core are there; returns the path of
/// `axe.min.js`, for `GATEHOUSE_AXE_JS`.
pub fn ensure() -> Result<PathBuf> {
    if !(std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists()) {
        apt::install("chromium or chromedriver", &["chromium", "chromium-driver"])?;
    }
    let prefix = project_root().join("target").join("npm");
    let axe = prefix.join("node_modules").join("axe-core").join("axe.min.js");
    npm_install(&prefix, AXE, &axe)?;
    Ok(axe)
}

/// Install npm package `package` into `prefix` unless `installed` (a file it holds) is
/// there already: npm first, from Debian, when it is missing.
pub fn npm_install(prefix: &Path, package: &str, installed: &Path) -> Result<()> {
    if installed.exists() {
        return Ok(());
    }
    ensure_npm()?;
    eprintln!("xtask: {package} not found: installing it with npm into {}", prefix.display());
    std::fs::create_dir_all(prefix)?;
    cmd::run(
        Command::new("npm")
            .args(["install", "--no-save", "--no-audit", "--no-fund", "--prefix"])
            .arg(prefix)
            .arg(package),
    )
    .with_context(|| format!("installing {package} with npm"))?;
    if !installed.exists() {
        bail!("npm installed {package}, but {} is not there", installed.display());
    }
    Ok(())
}

/// Make sure npm (and Node.js) are there: Debian's, when none is on the path.
pub fn ensure_npm() -> Result<()> {
    let found = Command::new("npm").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        apt::install("npm (and Node.js)", &["nodejs", "npm"])?;
    }
    Ok(())
}
