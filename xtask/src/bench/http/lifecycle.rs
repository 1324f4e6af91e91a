//! The write path over HTTP: whole cases taken through their lifecycle by clients one
//! request after another on keep-alive connections, 1 client and then 8, with the raw
//! commit rate of the same disk measured beside them.
//!
//! A lifecycle is ten requests, each one durable commit: `POST /api/cases`, five
//! documents uploaded (the needs assessment and the four a submission needs), the
//! checklist answered, and three transitions (`start_engagement`, the submission, and
//! the director referring it back). It is the seeding's prepared case
//! ([`super::seed`]) taken two moves further.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::client::Client;
use super::seed;
use crate::cmd;

/// Requests in one lifecycle.
pub const OPERATIONS: usize = 10;

/// Operations per second over HTTP, and raw commits per second, for one number of
/// clients.
#[derive(Clone, Copy)]
pub struct Rates {
    pub clients: usize,
    pub operations_per_second: f64,
    pub raw_commits_per_second: f64,
}

/// `lifecycles` lifecycles by `clients` clients at once; then `raw_commits` (the
/// `raw_commits` example) with as many clients, for `raw_seconds`, on a database in `dir`.
pub fn measure(
    addr: SocketAddr,
    token: &str,
    clients: usize,
    lifecycles: usize,
    raw_commits: &Path,
    dir: &Path,
    raw_seconds: u64,
) -> Result<Rates> {
    eprintln!("xtask: {lifecycles} case lifecycles over HTTP, {clients} client(s)");
    let started = Instant::now();
    let done = seed::in_parallel(addr, token, lifecycles, clients, lifecycle)?;
    let elapsed = started.elapsed();
    let operations_per_second = (done.len() * OPERATIONS) as f64 / elapsed.as_secs_f64().max(1e-9);
    let raw_commits_per_second = raw(raw_commits, dir, clients, raw_seconds)?;
    Ok(Rates { clients, operations_per_second, raw_commits_per_second })
}

/// One lifecycle; the case's id.
fn lifecycle(client: &mut Client) -> Result<i64> {
    let id = seed::prepare(client)?;
    let transitions = format!("/api/cases/{id}/transitions");
    for transition in [seed::SUBMIT, seed::REFER_BACK] {
        client.post_json(&transitions, &json!({"transition": transition}))?.expect(200, transition)?;
    }
    Ok(id)
}

/// The raw commit rate with `clients` clients, on a fresh SQLite file in `dir`.
fn raw(example: &Path, dir: &Path, clients: usize, seconds: u64) -> Result<f64> {
    let database = dir.join(format!("raw-{clients}.db"));
    let url = format!("sqlite://{}", database.display());
    let mut command = Command::new(example);
    command.args([url.as_str(), &clients.to_string(), &seconds.to_string()]);
    let printed = cmd::output(&mut command)?;
    let rate = printed
        .lines()
        .find_map(|l| l.strip_prefix("commits_per_second "))
        .with_context(|| format!("raw_commits printed no rate: {printed}"))?;
    let rate: f64 = rate.trim().parse().with_context(|| format!("raw_commits printed `{rate}`"))?;
    if rate <= 0.0 {
        bail!("raw_commits measured no commit");
    }
    Ok(rate)
}
