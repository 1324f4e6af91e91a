//! The real `gatehouse serve` binary on a loopback port over a fresh database, and an
//! HTTP client for it.

use super::{Backend, TestDb, fresh_db, workflows_dir};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The link secret the server signs with, so tests can make links of their own.
pub const SECRET: &str = "an end-to-end test secret, long enough to sign with";

/// A running server; killed when dropped.
pub struct Server {
    pub base: String,
    pub db: TestDb,
    pub client: reqwest::Client,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

/// Extra settings for a server.
#[derive(Default, Clone)]
pub struct Options {
    pub smtp_url: Option<String>,
    pub max_upload_bytes: Option<u64>,
    pub env: Vec<(String, String)>,
    /// A workflows folder instead of the shipped one.
    pub workflows: Option<PathBuf>,
    /// Where to listen instead of a free port (`127.0.0.1:0`).
    pub listen: Option<String>,
}

pub fn gatehouse() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
}

impl Server {
    pub async fn start(backend: Backend) -> Server {
        Server::start_with(backend, Options::default()).await
    }

    pub async fn start_with(backend: Backend, options: Options) -> Server {
        Server::start_on(fresh_db(backend).await, options).await
    }

    /// A server over `db` as it is: a fresh one, or one a server before used.
    pub async fn start_on(db: TestDb, options: Options) -> Server {
        let data = db.dir.path().join("data");
        let mut cmd = gatehouse();
        cmd.arg("serve")
            .args(["--database-url", &db.url])
            .arg("--workflows")
            .arg(options.workflows.clone().unwrap_or_else(workflows_dir))
            .arg("--data-dir")
            .arg(&data)
            .arg("--outbox-dir")
            .arg(db.dir.path().join("outbox"))
            .args(["--listen", options.listen.as_deref().unwrap_or("127.0.0.1:0")])
            .env("GATEHOUSE_SECRET", SECRET)
            .env("GATEHOUSE_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env_remove("GATEHOUSE_SMTP_URL")
            .env_remove("GATEHOUSE_SMTP_CA_FILE")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(url) = &options.smtp_url {
            cmd.env("GATEHOUSE_SMTP_URL", url);
        }
        if let Some(max) = options.max_upload_bytes {
            cmd.env("GATEHOUSE_MAX_UPLOAD_BYTES", max.to_string());
        }
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("starting gatehouse serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && v["fields"]["message"] == "gatehouse is serving"
                {
                    let _ = tx.send(v["fields"]["address"].as_str().unwrap_or_default().to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let address = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("gatehouse serve did not start:\n{}", log.lock().unwrap().join("\n"));
            }
        };
        Server {
            base: format!("http://{address}"),
            db,
            client: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap(),
            child,
            log,
        }
    }

    /// Add a user with the CLI; returns the token it printed.
    pub fn user(&self, email: &str, roles: &[&str]) -> String {
        let mut cmd = gatehouse();
        cmd.args(["users", "add", "--database-url", &self.db.url, "--email", email, "--name", email]);
        for r in roles {
            cmd.args(["--role", r]);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "users add: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .find_map(|l| l.split_once("token (shown once; keep it safe): ").map(|(_, t)| t.trim().to_string()))
            .expect("the token is printed")
    }

    pub fn revoke(&self, email: &str) {
        let out =
            gatehouse().args(["users", "revoke", "--database-url", &self.db.url, "--email", email]).output().unwrap();
        assert!(out.status.success(), "users revoke: {}", String::from_utf8_lossy(&out.stdout));
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.db.dir.path().join("data")
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, wait for the process to exit, and hand back its database (to start
    /// another server on it).
    pub fn stop(mut self) -> TestDb {
        let status = self.terminate();
        assert!(status.success(), "gatehouse serve exited with {status}:\n{}", self.log().join("\n"));
        // `Drop` kills a child already reaped: harmless. The database outlives it.
        let placeholder = TestDb { url: String::new(), dir: tempfile::tempdir().unwrap(), backend: self.db.backend };
        std::mem::replace(&mut self.db, placeholder)
    }

    /// SIGKILL: the process stops where it is, as in a power cut to it alone. Hands
    /// back its database (to start another server on it).
    pub fn kill(mut self) -> TestDb {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let placeholder = TestDb { url: String::new(), dir: tempfile::tempdir().unwrap(), backend: self.db.backend };
        std::mem::replace(&mut self.db, placeholder)
    }

    /// SIGTERM, then wait for the process to exit; its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("gatehouse serve did not stop within 30 s of SIGTERM");
    }

    /// Send a request; the status and the body as JSON (Null when it is not JSON).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the request reaches the server");
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let request_id =
            response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        Reply { status, content_type, request_id, text, json }
    }

    pub async fn get(&self, token: Option<&str>, path: &str) -> Reply {
        self.send(auth(self.client.get(self.url(path)), token)).await
    }

    pub async fn post(&self, token: Option<&str>, path: &str, body: serde_json::Value) -> Reply {
        self.send(auth(self.client.post(self.url(path)), token).json(&body)).await
    }

    pub async fn patch(&self, token: Option<&str>, path: &str, body: serde_json::Value) -> Reply {
        self.send(auth(self.client.patch(self.url(path)), token).json(&body)).await
    }

    /// A new user alice@leeds.example, a commissioner, and a Leeds decommissioning case
    /// she opened: its id and her token.
    #[allow(dead_code)]
    pub async fn leeds_case(&self) -> (i64, String) {
        let alice = self.user("alice@leeds.example", &["commissioner"]);
        let contract_end = jiff::Zoned::now().date().checked_add(jiff::Span::new().months(9)).unwrap().to_string();
        let fields = serde_json::json!({"workflow": "lcc-decommissioning", "fields": {
            "service_name": "Meals at home", "provider_name": "Hot Dinners CIC",
            "provider_email": "office@hotdinners.example.org", "directorate": "Adults and Health",
            "annual_value": 650000, "contract_end": contract_end}});
        let c = self.post(Some(&alice), "/api/cases", fields).await;
        c.expect(201);
        (c.json["id"].as_i64().unwrap(), alice)
    }

    /// A Gloucestershire grant round (`glos-grant-round`) opened by `by`, with its
    /// prospectus and the dates the opportunity was notified and applications close, not
    /// yet announced: its id.
    #[allow(dead_code)]
    pub async fn grant_round(&self, by: &str, notified_on: &str, deadline: &str) -> i64 {
        let fields =
            serde_json::json!({"workflow": "glos-grant-round", "fields": {"round_name": "Rural isolation fund"}});
        let round = self.post(Some(by), "/api/cases", fields).await;
        round.expect(201);
        let id = round.json["id"].as_i64().unwrap();
        let prospectus = b"%PDF prospectus".to_vec();
        self.upload(Some(by), id, "funding_prospectus", "prospectus.pdf", prospectus).await.expect(201);
        let dates =
            serde_json::json!({"fields": {"opportunity_notified_on": notified_on, "application_deadline": deadline}});
        self.patch(Some(by), &format!("/api/cases/{id}/fields"), dates).await.expect(200);
        id
    }

    /// Upload a document as multipart.
    pub async fn upload(&self, token: Option<&str>, case: i64, evidence: &str, name: &str, bytes: Vec<u8>) -> Reply {
        let form = reqwest::multipart::Form::new().text("type", evidence.to_string()).part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()).mime_str("application/pdf").unwrap(),
        );
        self.send(auth(self.client.post(self.url(&format!("/api/cases/{case}/evidence"))), token).multipart(form)).await
    }
}

pub fn auth(request: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token {
        Some(t) => request.bearer_auth(t),
        None => request,
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub request_id: String,
    pub text: String,
    pub json: serde_json::Value,
}

impl Reply {
    /// Assert the status, showing the body when it is not the one expected.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Reply {
        assert_eq!(self.status, status, "expected {status}, got {}: {}", self.status, self.text);
        self
    }

    /// Assert a problem+json of this status and type slug.
    #[track_caller]
    pub fn problem(&self, status: u16, slug: &str) -> &Reply {
        self.expect(status);
        assert_eq!(self.content_type, "application/problem+json", "{}", self.text);
        assert_eq!(self.json["type"], format!("urn:gatehouse:problem:{slug}"), "{}", self.text);
        assert_eq!(self.json["status"], status, "{}", self.text);
        assert!(self.json["detail"].as_str().is_some_and(|d| !d.is_empty()), "{}", self.text);
        self
    }

    /// The ids of the unmet gates of a blocked transition, or of one transition of a case.
    pub fn unmet(&self) -> Vec<String> {
        self.json["unmet"].as_array().unwrap().iter().map(|u| u["gate"].as_str().unwrap().to_string()).collect()
    }

    /// For a case: the unmet gates of transition `id`, or None when it is allowed.
    pub fn blocked_by(&self, id: &str) -> Option<Vec<String>> {
        let t = self.json["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap_or_else(|| panic!("no transition {id} out of {}", self.json["state"]));
        if t["allowed"] == true {
            None
        } else {
            Some(t["unmet"].as_array().unwrap().iter().map(|u| u["gate"].as_str().unwrap().to_string()).collect())
        }
    }
}
