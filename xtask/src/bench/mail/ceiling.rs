//! The sink's own ceiling: how many messages a second it accepts from a client that
//! costs next to nothing, talking as lettre's pool does (one round trip per command:
//! NOOP to check the pooled connection, MAIL, RCPT, DATA, then the message), over as
//! many connections as Gatehouse keeps open. The client runs on the same CPUs as the
//! sink, so this is a floor under the sink's true ceiling; what matters is that it is
//! well above the rate measured through Gatehouse.
//!
//! [`Writes::LikeLettre`] also writes as lettre 0.11 does: the message, then its
//! terminating `\r\n.\r\n` in a second write, on a socket without `TCP_NODELAY`. Nagle's
//! algorithm then holds the terminator until the server acknowledges the message, and
//! the server's kernel delays that acknowledgement (up to 40 ms on Linux): one stall
//! per message per connection, whatever the server.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::sink::Sink;

/// The measured ceiling.
pub struct Ceiling {
    pub messages: u64,
    pub elapsed: Duration,
}

impl Ceiling {
    pub fn per_second(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// How the client writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// Each command and the whole message in one write, with `TCP_NODELAY`.
    Joined,
    /// As lettre 0.11: the message and its terminator in two writes, Nagle on.
    LikeLettre,
}

/// Sends messages of `size` bytes to a fresh sink over `connections` connections for
/// `duration`, writing as `writes` says; what the sink accepted.
pub fn measure(connections: usize, size: usize, duration: Duration, writes: Writes) -> Result<Ceiling> {
    let sink = Sink::start()?;
    let body = message(size);
    let started = Instant::now();
    std::thread::scope(|scope| {
        let clients: Vec<_> =
            (0..connections).map(|_| scope.spawn(|| blast(sink.addr(), &body, started + duration, writes))).collect();
        clients.into_iter().try_for_each(|client| client.join().map_err(|_| anyhow::anyhow!("a client panicked"))?)
    })?;
    let elapsed = started.elapsed();
    Ok(Ceiling { messages: sink.counts().accepted.load(Ordering::Relaxed), elapsed })
}

/// One connection sending `body` (without its terminator) again and again until `until`.
fn blast(addr: SocketAddr, body: &[u8], until: Instant, writes: Writes) -> Result<()> {
    let stream = TcpStream::connect(addr).context("connecting to the sink")?;
    stream.set_nodelay(writes == Writes::Joined)?;
    let joined = [body, b"\r\n.\r\n"].concat();
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    expect(&mut reader, &mut line, "220")?;
    writer.write_all(b"EHLO xtask\r\n")?;
    expect(&mut reader, &mut line, "250")?;
    while Instant::now() < until {
        for (command, reply) in [
            (&b"NOOP\r\n"[..], "250"),
            (b"MAIL FROM:<gatehouse@localhost>\r\n", "250"),
            (b"RCPT TO:<review-lead@leeds.example>\r\n", "250"),
            (b"DATA\r\n", "354"),
        ] {
            writer.write_all(command)?;
            expect(&mut reader, &mut line, reply)?;
        }
        match writes {
            Writes::Joined => writer.write_all(&joined)?,
            Writes::LikeLettre => {
                writer.write_all(body)?;
                writer.write_all(b"\r\n.\r\n")?;
            }
        }
        expect(&mut reader, &mut line, "250")?;
    }
    writer.write_all(b"QUIT\r\n")?;
    Ok(())
}

/// Reads one (possibly multi-line) reply and checks its code.
fn expect(reader: &mut impl BufRead, line: &mut String, code: &str) -> Result<()> {
    loop {
        line.clear();
        if reader.read_line(line)? == 0 {
            bail!("the sink hung up");
        }
        if !line.starts_with(code) {
            bail!("the sink answered {line:?}, not {code}");
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}

/// A message of about `size` bytes, without the terminating lone dot.
fn message(size: usize) -> Vec<u8> {
    let mut text = String::from(
        "From: gatehouse@localhost\r\nTo: review-lead@leeds.example\r\nSubject: ceiling\r\n\
         Message-ID: <ceiling@xtask>\r\nContent-Type: text/plain; charset=utf-8\r\n",
    );
    while text.len() < size {
        text.push_str("\r\nA line of a message body, as long as a line of a reminder usually is.");
    }
    text.into_bytes()
}
