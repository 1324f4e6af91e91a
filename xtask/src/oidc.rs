//! What the OpenID Connect tests need: the certified `oidc-provider` package (npm), run
//! with node by `tests/support/oidc_provider.js` as a real identity provider on
//! loopback. Installed when missing, into its own folder under `target/npm` (an `npm
//! install` into the axe-core folder would remove axe-core, and the other way round).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cmd, project_root};

/// The oidc-provider version the tests run.
const OIDC_PROVIDER: &str = "oidc-provider@9";

/// Make sure oidc-provider is there; returns its package folder, for
/// `GATEHOUSE_OIDC_PROVIDER`.
pub fn ensure() -> Result<PathBuf> {
    let prefix = project_root().join("target").join("npm").join("oidc-provider");
    let package = prefix.join("node_modules").join("oidc-provider");
    if !package.join("lib").join("index.js").exists() {
        eprintln!("xtask: oidc-provider not found: installing {OIDC_PROVIDER} with npm into {}", prefix.display());
        std::fs::create_dir_all(&prefix)?;
        cmd::run(
            Command::new("npm")
                .args(["install", "--no-save", "--no-audit", "--no-fund", "--prefix"])
                .arg(&prefix)
                .arg(OIDC_PROVIDER),
        )
        .context("installing oidc-provider with npm (is Node.js installed?)")?;
        if !package.join("lib").join("index.js").exists() {
            bail!("npm installed {OIDC_PROVIDER}, but {} is not there", package.display());
        }
    }
    Ok(package)
}
