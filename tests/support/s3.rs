//! An S3-compatible server on loopback for the object-store tests: `s3s-fs` (from the s3s
//! project; `cargo xtask test` builds it and names it in `GATEHOUSE_S3S_FS`) over a
//! temporary folder, with one bucket, signing required.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The bucket documents go in.
pub const BUCKET: &str = "gatehouse";
/// The prefix inside it.
pub const PREFIX: &str = "documents";
const ACCESS_KEY: &str = "gatehouse-test";
const SECRET_KEY: &str = "gatehouse-test-secret";

/// A running `s3s-fs`.
pub struct S3Server {
    child: Option<Child>,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    /// The folder it keeps buckets in.
    root: tempfile::TempDir,
}

fn binary() -> PathBuf {
    let path = std::env::var_os("GATEHOUSE_S3S_FS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tools/bin/s3s-fs"));
    assert!(path.exists(), "s3s-fs is not at {}: run the tests with `cargo xtask test`", path.display());
    path
}

impl S3Server {
    /// Start one on a free port, with an empty bucket.
    pub fn start() -> S3Server {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join(BUCKET)).unwrap();
        let (child, port) = spawn(root.path(), 0);
        S3Server { child: Some(child), port, root }
    }

    /// Stop it (SIGKILL): the store is down.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start it again on the same port and folder.
    pub fn restart(&mut self) {
        self.stop();
        let (child, _) = spawn(self.root.path(), self.port);
        self.child = Some(child);
    }

    /// The `--document-store` URL.
    pub fn url(&self) -> String {
        format!("s3://{BUCKET}/{PREFIX}")
    }

    /// The environment a `gatehouse` process needs to keep documents here.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("GATEHOUSE_DOCUMENT_STORE", self.url()),
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The documents it holds: the files named by a sha256 under the prefix.
    pub fn documents(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        collect(&self.root.path().join(BUCKET).join(PREFIX), &mut found);
        found.sort();
        found
    }
}

fn collect(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if path.is_dir() {
            collect(&path, found);
        } else if name.len() == 64 && name.chars().all(|c| c.is_ascii_hexdigit()) {
            found.push(path);
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Start `s3s-fs` over `root` on `port` (0: any free one); wait until it listens.
fn spawn(root: &Path, port: u16) -> (Child, u16) {
    let mut child = Command::new(binary())
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(root)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting s3s-fs");
    let (tx, rx) = std::sync::mpsc::channel();
    for output in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(output).lines().map_while(Result::ok) {
                if let Some(at) = line.find("server is running at http://") {
                    let address = &line[at + "server is running at http://".len()..];
                    let port = address.rsplit(':').next().and_then(|p| p.trim().parse::<u16>().ok());
                    let _ = tx.send(port);
                }
            }
        });
    }
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Some(port)) => (child, port),
        _ => {
            let _ = child.kill();
            panic!("s3s-fs did not start on 127.0.0.1:{port}");
        }
    }
}
