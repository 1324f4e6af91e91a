//! Just enough of an HTTP/1.1 client to seed the server and time its pages: one
//! keep-alive connection, JSON, form and multipart bodies, `Content-Length` or chunked
//! replies, and the cookies the server sets (to sign in to the web pages). Written on `std` alone, so
//! xtask keeps its few dependencies; the measuring itself is wrk's.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// How long one request may take before seeding gives up.
const TIMEOUT: Duration = Duration::from_secs(60);

/// One connection to the server, sending a user's bearer token with every request.
pub struct Client {
    addr: SocketAddr,
    token: String,
    /// `None` until the first request, and again after the server said it would close.
    stream: Option<BufReader<TcpStream>>,
    /// The cookies the server set, `name=value`, sent back with every request.
    cookies: Vec<String>,
}

/// The status and body of an answer.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// The `name=value` of each `Set-Cookie`.
    pub set_cookies: Vec<String>,
}

impl Reply {
    /// The body as JSON when the status is `expected`; otherwise an error that says what
    /// `what` was and quotes the body (a problem+json document says why).
    pub fn expect(self, expected: u16, what: &str) -> Result<serde_json::Value> {
        if self.status != expected {
            let body = String::from_utf8_lossy(&self.body);
            bail!("{what}: expected {expected}, got {}: {}", self.status, body.trim());
        }
        serde_json::from_slice(&self.body).with_context(|| format!("{what}: the body is not JSON"))
    }
}

impl Client {
    pub fn new(addr: SocketAddr, token: &str) -> Client {
        Client { addr, token: token.to_owned(), stream: None, cookies: Vec::new() }
    }

    /// `GET path`.
    pub fn get(&mut self, path: &str) -> Result<Reply> {
        self.send("GET", path, "text/plain", b"")
    }

    /// Sign in to the web pages with the user's token, as a browser does: the form (and
    /// its cookie), then the post; the session cookie is kept for later requests.
    pub fn sign_in(&mut self) -> Result<()> {
        let form = self.get("/sign-in")?;
        let html = String::from_utf8_lossy(&form.body);
        let csrf = html
            .split("name=\"_csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .context("the sign-in form has no _csrf field")?
            .to_owned();
        let body = format!("token={}&next=%2Fcases&_csrf={csrf}", self.token);
        let signed_in = self.send("POST", "/sign-in", "application/x-www-form-urlencoded", body.as_bytes())?;
        if signed_in.status != 303 || !self.cookies.iter().any(|c| c.starts_with("gatehouse_session=")) {
            bail!("signing in answered {} without a session", signed_in.status);
        }
        Ok(())
    }

    /// `POST path` with a JSON body.
    pub fn post_json(&mut self, path: &str, body: &serde_json::Value) -> Result<Reply> {
        self.send("POST", path, "application/json", body.to_string().as_bytes())
    }

    /// `POST path` with a `multipart/form-data` upload of evidence: a `type` part and a
    /// small PDF as the `file` part, as `tests/support/server.rs` sends them.
    pub fn upload(&mut self, path: &str, evidence_type: &str) -> Result<Reply> {
        const BOUNDARY: &str = "xtask-bench-boundary-7d1f0c";
        let body = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\n{evidence_type}\r\n\
             --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{evidence_type}.pdf\"\r\n\
             Content-Type: application/pdf\r\n\r\n%PDF-1.4\n% a load-test document\n\r\n--{BOUNDARY}--\r\n"
        );
        self.send("POST", path, &format!("multipart/form-data; boundary={BOUNDARY}"), body.as_bytes())
    }

    fn send(&mut self, method: &str, path: &str, content_type: &str, body: &[u8]) -> Result<Reply> {
        let what = || format!("{method} {path}");
        let stream = match &mut self.stream {
            Some(stream) => stream,
            None => self.stream.insert(connect(self.addr).with_context(what)?),
        };
        let cookie =
            if self.cookies.is_empty() { String::new() } else { format!("Cookie: {}\r\n", self.cookies.join("; ")) };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n{cookie}Content-Type: {content_type}\r\n\
             Content-Length: {}\r\n\r\n",
            self.addr,
            self.token,
            body.len()
        );
        let socket = stream.get_mut();
        socket.write_all(head.as_bytes()).and_then(|()| socket.write_all(body)).with_context(what)?;
        let (reply, keep_alive) = read_reply(stream).with_context(what)?;
        if !keep_alive {
            self.stream = None;
        }
        for set in &reply.set_cookies {
            let name = set.split('=').next().unwrap_or_default();
            self.cookies.retain(|c| c.split('=').next() != Some(name));
            if !set.ends_with('=') {
                self.cookies.push(set.clone());
            }
        }
        Ok(reply)
    }
}

fn connect(addr: SocketAddr) -> Result<BufReader<TcpStream>> {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT).with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(BufReader::new(stream))
}

/// Reads one answer; also whether the connection stays open after it.
fn read_reply(stream: &mut impl BufRead) -> Result<(Reply, bool)> {
    let status_line = read_line(stream)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("not an HTTP status line: {status_line:?}"))?;
    let (mut length, mut chunked, mut keep_alive) = (None, false, true);
    let mut set_cookies = Vec::new();
    loop {
        let line = read_line(stream)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else { bail!("not an HTTP header: {line:?}") };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = Some(value.parse().with_context(|| format!("Content-Length {value:?}"))?),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => keep_alive = !value.eq_ignore_ascii_case("close"),
            "set-cookie" => set_cookies.push(value.split(';').next().unwrap_or_default().trim().to_owned()),
            _ => {}
        }
    }
    let body = if chunked {
        read_chunked(stream)?
    } else if let Some(length) = length {
        let mut body = vec![0; length];
        stream.read_exact(&mut body).context("reading the body")?;
        body
    } else {
        keep_alive = false;
        let mut body = Vec::new();
        stream.read_to_end(&mut body).context("reading the body")?;
        body
    };
    Ok((Reply { status, body, set_cookies }, keep_alive))
}

fn read_chunked(stream: &mut impl BufRead) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(stream)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).with_context(|| format!("chunk size {size:?}"))?;
        if size == 0 {
            while !read_line(stream)?.is_empty() {} // trailers
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        stream.read_exact(&mut body[start..]).context("reading a chunk")?;
        read_line(stream)?;
    }
}

/// One line without its CRLF; an error at the end of the stream.
fn read_line(stream: &mut impl BufRead) -> Result<String> {
    let mut line = String::new();
    if stream.read_line(&mut line).context("reading the answer")? == 0 {
        bail!("the server closed the connection");
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_length_and_chunked_replies() {
        let mut two = &b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}HTTP/1.1 404 Not Found\r\n\
            Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n"[..];
        let (reply, keep_alive) = read_reply(&mut two).expect("first");
        assert_eq!((reply.status, reply.body.as_slice(), keep_alive), (201, &b"{}"[..], true));
        let (reply, keep_alive) = read_reply(&mut two).expect("second");
        assert_eq!((reply.status, reply.body.as_slice(), keep_alive), (404, &b"abcde"[..], false));
        assert!(read_reply(&mut two).is_err());
    }
}
