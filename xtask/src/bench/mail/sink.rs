//! A real SMTP server over TCP on loopback that keeps nothing but counts: every message
//! it accepts is counted under its `Message-ID`, so that lost and duplicated messages
//! can be told apart. Enough of SMTP for lettre (EHLO/HELO, MAIL, RCPT, DATA with
//! dot-stuffing, RSET, NOOP, QUIT; no pipelining, no TLS), one thread per connection,
//! on `std` alone. Python's aiosmtpd, which the tests use, tops out near the rate
//! being measured; this does not (see [`super::ceiling`]).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};

/// The sink's hostname in its replies.
const HOSTNAME: &str = "sink.xtask.test";
/// A connection idle this long is dropped (lettre's pool reconnects).
const IDLE: Duration = Duration::from_secs(120);

/// A running sink; it stops accepting when dropped (open connections end with their
/// clients).
pub struct Sink {
    addr: SocketAddr,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
}

/// What the sink has accepted so far.
#[derive(Default)]
pub struct Counts {
    /// Messages accepted (`250` after DATA), duplicates included.
    pub accepted: AtomicU64,
    /// Bytes of message content accepted.
    pub bytes: AtomicU64,
    /// Connections opened.
    pub connections: AtomicU64,
    /// How many times each `Message-ID` was accepted; messages without one are counted
    /// under the empty string.
    by_id: Mutex<HashMap<String, u32>>,
}

impl Counts {
    /// Every `Message-ID` accepted and how many times.
    pub fn by_id(&self) -> HashMap<String, u32> {
        self.by_id.lock().map(|ids| ids.clone()).unwrap_or_default()
    }

    /// How many distinct `Message-ID`s satisfy `wanted`.
    pub fn distinct(&self, wanted: impl Fn(&str) -> bool) -> usize {
        self.by_id.lock().map(|ids| ids.keys().filter(|id| wanted(id)).count()).unwrap_or_default()
    }

    fn accept(&self, message_id: String, bytes: usize) {
        if let Ok(mut ids) = self.by_id.lock() {
            *ids.entry(message_id).or_default() += 1;
        }
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }
}

impl Sink {
    /// Listens on a free loopback port.
    pub fn start() -> Result<Sink> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the SMTP sink to a loopback port")?;
        let addr = listener.local_addr().context("the SMTP sink's address")?;
        let counts = Arc::new(Counts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (counts.clone(), stop.clone());
        std::thread::spawn(move || accept(&listener, &c, &s));
        Ok(Sink { addr, counts, stop })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `smtp://127.0.0.1:PORT`, as `gatehouse serve --smtp-url` takes it.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accepting thread so it sees `stop`.
        let _ = TcpStream::connect(self.addr);
    }
}

fn accept(listener: &TcpListener, counts: &Arc<Counts>, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(stream) = stream else { continue };
        counts.connections.fetch_add(1, Ordering::Relaxed);
        let counts = counts.clone();
        std::thread::spawn(move || {
            // A client that goes away mid-conversation ends it; nothing to report.
            let _ = converse(stream, &counts);
        });
    }
}

/// One SMTP conversation, to its QUIT or the client's hanging up.
fn converse(stream: TcpStream, counts: &Counts) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IDLE))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    writer.write_all(format!("220 {HOSTNAME} ESMTP xtask sink\r\n").as_bytes())?;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or(&line).to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink.xtask.test\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n",
            "HELO" => b"250 sink.xtask.test\r\n",
            "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 2.0.0 OK\r\n",
            "DATA" => {
                writer.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
                let (message_id, bytes) = read_data(&mut reader)?;
                counts.accept(message_id, bytes);
                b"250 2.0.0 OK: queued\r\n"
            }
            "QUIT" => {
                writer.write_all(b"221 2.0.0 Bye\r\n")?;
                return Ok(());
            }
            _ => b"502 5.5.2 Command not recognised\r\n",
        };
        writer.write_all(reply)?;
    }
}

/// The message after DATA, up to the lone dot: its `Message-ID` (empty when it has
/// none) and its size in bytes.
fn read_data(reader: &mut impl BufRead) -> std::io::Result<(String, usize)> {
    let mut line = String::new();
    let (mut in_headers, mut bytes) = (true, 0);
    let mut message_id: Option<String> = None;
    // The header being read, for folded lines.
    let mut reading_id = false;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let text = line.trim_end_matches(['\r', '\n']);
        if text == "." {
            return Ok((message_id.unwrap_or_default(), bytes));
        }
        bytes += line.len();
        if !in_headers {
            continue;
        }
        if text.is_empty() {
            in_headers = false;
        } else if text.starts_with([' ', '\t']) {
            if reading_id && let Some(id) = &mut message_id {
                id.push_str(text.trim());
            }
        } else {
            reading_id = false;
            if let Some((name, value)) = text.split_once(':')
                && name.eq_ignore_ascii_case("Message-ID")
            {
                message_id = Some(value.trim().to_owned());
                reading_id = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_message_id_even_when_folded() {
        let data = "From: a@b\r\nMessage-ID:\r\n <case.1.1.chase.1.lead@x>\r\nSubject: s\r\n\r\nbody\r\n..dot\r\n.\r\n";
        let (id, bytes) = read_data(&mut data.as_bytes()).unwrap();
        assert_eq!(id, "<case.1.1.chase.1.lead@x>");
        assert_eq!(bytes, data.len() - 3);
        let (id, _) = read_data(&mut "Subject: s\r\n\r\nMessage-ID: <no@x>\r\n.\r\n".as_bytes()).unwrap();
        assert_eq!(id, "", "a body line is not a header");
    }

    #[test]
    fn counts_a_conversation() {
        let sink = Sink::start().unwrap();
        let mut stream = TcpStream::connect(sink.addr()).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut replies = Vec::new();
        let read_reply = |reader: &mut BufReader<TcpStream>| {
            let mut line = String::new();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                if line.as_bytes().get(3) != Some(&b'-') {
                    return line[..3].to_owned();
                }
            }
        };
        replies.push(read_reply(&mut reader));
        for _ in 0..2 {
            for command in ["EHLO me\r\n", "MAIL FROM:<a@b>\r\n", "RCPT TO:<c@d>\r\n", "DATA\r\n"] {
                stream.write_all(command.as_bytes()).unwrap();
                replies.push(read_reply(&mut reader));
            }
            stream.write_all(b"Message-ID: <m@x>\r\n\r\nhi\r\n.\r\n").unwrap();
            replies.push(read_reply(&mut reader));
        }
        stream.write_all(b"QUIT\r\n").unwrap();
        replies.push(read_reply(&mut reader));
        assert_eq!(replies.join(" "), "220 250 250 250 354 250 250 250 250 354 250 221");
        assert_eq!(sink.counts().by_id(), HashMap::from([("<m@x>".to_owned(), 2)]));
        assert_eq!(sink.counts().accepted.load(Ordering::Relaxed), 2);
    }
}
