//! The S3-compatible server the object-store tests keep documents in: `s3s-fs`, from
//! the s3s project (an S3 server over a folder, the one s3s runs the S3 conformance
//! tests against), built from crates.io with `cargo install` into `target/tools` when
//! missing, so `cargo xtask test` needs nothing beforehand.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::{cmd, target_dir};

/// The version built: the newest that builds with the toolchain the project uses.
const S3S_FS: &str = "0.14.1";

/// Make sure `s3s-fs` is built; returns its path, for `GATEHOUSE_S3S_FS`.
pub fn ensure() -> Result<PathBuf> {
    let root = target_dir().join("tools");
    let binary = root.join("bin").join("s3s-fs");
    if !binary.exists() {
        eprintln!("xtask: s3s-fs not found: building s3s-fs {S3S_FS} from crates.io into {}", root.display());
        cmd::run(
            crate::cargo()
                .args(["install", "--locked", "--features", "binary", "--version", S3S_FS, "--root"])
                .arg(&root)
                .arg("s3s-fs"),
        )
        .context("building s3s-fs, the S3-compatible server the object-store tests use")?;
        if !binary.exists() {
            bail!("cargo installed s3s-fs, but {} is not there", binary.display());
        }
    }
    Ok(binary)
}
