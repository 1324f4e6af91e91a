//! How long the pages that read many cases take with every seeded case stored: the
//! governance dashboard, the contracts register and its CSV, and the cases list (and a
//! search in it), each fetched by a signed-in user once to warm up and then
//! [`ROUNDS`] times; the median is kept.

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::{Result, bail};

use super::client::Client;

/// The pages, with what each shows.
pub const PAGES: &[(&str, &str)] = &[
    ("/governance", "the governance dashboard"),
    ("/contracts", "the contracts register, first page"),
    ("/contracts.csv", "the contracts register as CSV, every row"),
    ("/cases", "the cases list, newest page"),
    ("/cases?q=provider%40example.org", "a search of the cases list"),
];

/// Fetches a page takes after the warm-up one.
const ROUNDS: usize = 3;

/// One page's time.
pub struct PageTime {
    pub path: &'static str,
    pub what: &'static str,
    /// The median of [`ROUNDS`] fetches, in milliseconds.
    pub median_ms: f64,
    /// The size of its body.
    pub bytes: usize,
}

/// Times each of [`PAGES`].
pub fn measure(addr: SocketAddr, token: &str) -> Result<Vec<PageTime>> {
    let mut client = Client::new(addr, token);
    client.sign_in()?;
    let mut out = Vec::new();
    for (path, what) in PAGES {
        eprintln!("xtask: timing GET {path}");
        let mut times = Vec::new();
        let mut bytes = 0;
        for round in 0..=ROUNDS {
            let started = Instant::now();
            let reply = client.get(path)?;
            let elapsed = started.elapsed().as_secs_f64() * 1000.0;
            if reply.status != 200 {
                bail!("GET {path} answered {}: {}", reply.status, String::from_utf8_lossy(&reply.body));
            }
            bytes = reply.body.len();
            if round > 0 {
                times.push(elapsed);
            }
        }
        times.sort_by(f64::total_cmp);
        out.push(PageTime { path, what, median_ms: times[times.len() / 2], bytes });
    }
    Ok(out)
}
