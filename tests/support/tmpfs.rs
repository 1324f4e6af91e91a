//! A small tmpfs of a test's own, to fill up: a full disk, for real. Mounting needs root
//! (CI runs the tests as root); without it the test fails saying so rather than pass
//! without having run.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A mounted tmpfs; unmounted and its mount point removed when dropped.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mount a tmpfs of `mib` MiB on a new temporary folder.
    pub fn mount(mib: u32) -> Tmpfs {
        let uid = Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        assert_eq!(
            uid.as_deref().unwrap_or("?"),
            "0",
            "this test mounts a tmpfs to fill the disk for real, which needs root: run it as root (CI does)"
        );
        let dir = tempfile::Builder::new().prefix("gatehouse-tmpfs-").tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0755"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "mount -t tmpfs failed: {}", String::from_utf8_lossy(&out.stderr));
        Tmpfs { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Bytes free.
    pub fn free(&self) -> u64 {
        let out = Command::new("df").args(["-B1", "--output=avail"]).arg(self.path()).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines().nth(1).and_then(|l| l.trim().parse().ok()).unwrap_or_else(|| panic!("df said {text:?}"))
    }

    /// Write a file that leaves `leave` bytes free; its path, to remove it and free the
    /// space again.
    pub fn fill_leaving(&self, leave: u64) -> PathBuf {
        let path = self.path().join("filler");
        let size = self.free().saturating_sub(leave);
        std::fs::write(&path, vec![0u8; size as usize]).unwrap();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: a server killed a moment ago may still hold a file open.
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}
