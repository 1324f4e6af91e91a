//! A real OpenID provider on loopback (the certified `oidc-provider` package, run with
//! node by `oidc_provider.js`), a `gatehouse serve` that signs people in through it,
//! and a browser-like client that signs in through the provider's own login and
//! consent pages.

use super::Backend;
use super::server::{Options, Server};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// The client Gatehouse is registered as at the provider.
pub const CLIENT_ID: &str = "gatehouse";
/// Its secret.
pub const CLIENT_SECRET: &str = "a test client secret, not a real one";

/// The provider; killed when dropped.
pub struct Provider {
    pub issuer: String,
    state: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

/// The `oidc-provider` package: `GATEHOUSE_OIDC_PROVIDER` (set by `cargo xtask test`),
/// else where xtask installs it.
fn package() -> PathBuf {
    let dir = std::env::var_os("GATEHOUSE_OIDC_PROVIDER").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/npm/oidc-provider/node_modules/oidc-provider")
    });
    assert!(
        dir.join("lib/index.js").exists(),
        "oidc-provider is not at {}: run the tests with `cargo xtask test`, which installs it",
        dir.display()
    );
    dir
}

impl Provider {
    /// Start the provider with a client whose redirect URI is `redirect_uri`, and no
    /// accounts yet.
    pub fn start(redirect_uri: &str) -> Provider {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        std::fs::write(&state, r#"{"accounts": {}, "misbehave": null}"#).unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/oidc_provider.js");
        let mut child = Command::new("node")
            .arg(script)
            .arg(package())
            .arg(&state)
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env("REDIRECT_URI", redirect_uri)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting node (is Node.js installed?)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(issuer) = line.strip_prefix("issuer ") {
                    let _ = tx.send(issuer.to_string());
                }
            }
        });
        let issuer = rx.recv_timeout(Duration::from_secs(30)).expect("the OpenID provider did not start");
        Provider { issuer, state, child, _dir: dir }
    }

    /// Write the accounts (login → claims) and what the provider does wrong, if anything.
    pub fn set(&self, accounts: serde_json::Value, misbehave: Option<&str>) {
        let state = serde_json::json!({"accounts": accounts, "misbehave": misbehave});
        std::fs::write(&self.state, state.to_string()).unwrap();
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An account's claims.
pub fn account(email: &str, groups: &[&str]) -> serde_json::Value {
    serde_json::json!({"email": email, "email_verified": true, "name": email.split('@').next().unwrap(), "groups": groups})
}

/// A free loopback port (for the server, whose address the provider must know first).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A provider, and `gatehouse serve` signing people in through it with `env` besides.
pub async fn start(backend: Backend, env: &[(&str, &str)]) -> (Server, Provider) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let provider = Provider::start(&format!("{base}/sign-in/oidc/callback"));
    let mut vars: Vec<(String, String)> = vec![
        ("GATEHOUSE_BASE_URL".into(), base),
        ("GATEHOUSE_OIDC_ISSUER".into(), provider.issuer.clone()),
        ("GATEHOUSE_OIDC_CLIENT_ID".into(), CLIENT_ID.into()),
        ("GATEHOUSE_OIDC_CLIENT_SECRET".into(), CLIENT_SECRET.into()),
        ("GATEHOUSE_OIDC_PROVIDER_NAME".into(), "Leeds City Council".into()),
    ];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let options = Options { env: vars, listen: Some(format!("127.0.0.1:{port}")), ..Options::default() };
    (Server::start_with(backend, options).await, provider)
}

/// A browser without JavaScript: a cookie jar, following redirects itself so that a
/// test can stop at the callback.
pub struct Browser {
    pub client: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
}

/// Where a sign-in ended: the status and page of gatehouse's answer to the callback,
/// and the page it sent the browser on to.
pub struct Ended {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    /// Whether gatehouse gave the browser a session cookie.
    pub session: bool,
}

impl Browser {
    pub fn new() -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Browser { client, jar }
    }

    /// Start signing in at `server` and go through the provider's login (as `login`)
    /// and consent pages; the callback URL the provider sends the browser back to, not
    /// yet visited.
    pub async fn to_callback(&self, server: &Server, login: &str) -> reqwest::Url {
        let mut url: reqwest::Url = server.url("/sign-in/oidc?next=/cases").parse().unwrap();
        for _ in 0..20 {
            if url.as_str().starts_with(&server.url("/sign-in/oidc/callback")) {
                return url;
            }
            let r = self.client.get(url.clone()).send().await.unwrap();
            if let Some(next) = location(&r) {
                url = url.join(&next).unwrap();
                continue;
            }
            // A page of the provider's: its login form, or its consent form.
            let status = r.status();
            let body = r.text().await.unwrap();
            assert_eq!(status, 200, "{url}: {body}");
            let action = body.split("action=\"").nth(1).and_then(|a| a.split('"').next()).expect("a form");
            let action = url.join(&action.replace("&amp;", "&")).unwrap();
            let form: Vec<(&str, &str)> = if body.contains("name=\"login\"") {
                vec![("prompt", "login"), ("login", login), ("password", "any password")]
            } else {
                vec![("prompt", "consent")]
            };
            let r = self.client.post(action).form(&form).send().await.unwrap();
            url = url.join(&location(&r).expect("the provider's form redirects")).unwrap();
        }
        panic!("the sign-in never came back to gatehouse (last at {url})");
    }

    /// Visit the callback URL.
    pub async fn callback(&self, url: reqwest::Url) -> Ended {
        ended(self.client.get(url).send().await.unwrap()).await
    }

    /// Sign in as `login` all the way.
    pub async fn sign_in(&self, server: &Server, login: &str) -> Ended {
        let url = self.to_callback(server, login).await;
        self.callback(url).await
    }

    /// The cookies this browser would send to `url`.
    pub fn cookies(&self, url: &reqwest::Url) -> String {
        use reqwest::cookie::CookieStore;
        self.jar.cookies(url).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
    }
}

impl Default for Browser {
    fn default() -> Self {
        Browser::new()
    }
}

/// gatehouse's answer to a callback.
pub async fn ended(r: reqwest::Response) -> Ended {
    let status = r.status().as_u16();
    let location = location(&r);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|c| c.starts_with("gatehouse_session=") && !c.starts_with("gatehouse_session=;"));
    let body = r.text().await.unwrap();
    Ended { status, body, location, session }
}

fn location(r: &reqwest::Response) -> Option<String> {
    if !r.status().is_redirection() {
        return None;
    }
    r.headers().get("location").and_then(|v| v.to_str().ok()).map(String::from)
}
