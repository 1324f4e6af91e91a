//! Locating PostgreSQL's server programs (`initdb`, `pg_ctl`), and installing them with
//! apt-get (see [`crate::apt`]) when the machine has none.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::cmd;

/// Where Debian's packages put each major version's programs.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// The directory holding `initdb` and `pg_ctl`, installing PostgreSQL if needed.
pub fn find_or_install() -> Result<PathBuf> {
    if let Some(dir) = find() {
        return Ok(dir);
    }
    crate::apt::install("PostgreSQL (initdb, pg_ctl)", &["postgresql"])?;
    find().with_context(|| format!("PostgreSQL was installed, but no initdb and pg_ctl are under {DEBIAN_ROOT}/*/bin"))
}

/// The newest Debian version directory with both programs, else the directory of
/// `initdb` on `PATH` if `pg_ctl` sits beside it.
fn find() -> Option<PathBuf> {
    newest_debian_bin_dir().or_else(|| {
        let initdb = cmd::find_in_path("initdb")?;
        let dir = initdb.canonicalize().ok()?.parent()?.to_path_buf();
        has_server_programs(&dir).then_some(dir)
    })
}

fn newest_debian_bin_dir() -> Option<PathBuf> {
    let entries = std::fs::read_dir(DEBIAN_ROOT).ok()?;
    entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let version = parse_version(entry.file_name().to_str()?)?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_server_programs(dir))
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, dir)| dir)
}

fn has_server_programs(dir: &Path) -> bool {
    cmd::is_executable(&dir.join("initdb")) && cmd::is_executable(&dir.join("pg_ctl"))
}

/// "15" → [15], "9.6" → [9, 6]; anything else is not a version directory.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_directories_sort_numerically() {
        assert!(parse_version("15") > parse_version("9.6"));
        assert_eq!(parse_version("9.6"), Some(vec![9, 6]));
        assert_eq!(parse_version("common"), None);
    }
}
