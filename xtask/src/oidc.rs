//! What the OpenID Connect tests need: the certified `oidc-provider` package (npm), run
//! with node by `tests/support/oidc_provider.js` as a real identity provider on
//! loopback. Installed when missing, into its own folder under `target/npm` (an `npm
//! install` into the axe-core folder would remove axe-core, and the other way round).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::project_root;

/// The oidc-provider version the tests run.
const OIDC_PROVIDER: &str = "oidc-provider@9";

/// Make sure oidc-provider is there; returns its package folder, for
/// `GATEHOUSE_OIDC_PROVIDER`.
pub fn ensure() -> Result<PathBuf> {
    let prefix = project_root().join("target").join("npm").join("oidc-provider");
    let package = prefix.join("node_modules").join("oidc-provider");
    crate::browser::npm_install(&prefix, OIDC_PROVIDER, &package.join("lib").join("index.js"))?;
    node_is_recent_enough()?;
    Ok(package)
}

/// oidc-provider 9 runs on Node.js 20 or later: say so plainly rather than let the tests
/// fail on an older one with a syntax or module error.
fn node_is_recent_enough() -> Result<()> {
    let out = Command::new("node").arg("--version").output().context("running `node --version`")?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let major: u32 = version.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    if major < 20 {
        bail!(
            "the sign-in tests run oidc-provider, which needs Node.js 20 or later; this machine has {version} \
             (Debian 13's nodejs is 20; on Debian 12 install Node.js 20 from NodeSource)"
        );
    }
    Ok(())
}
