//! Filling the server with cases before the load runs, over its own HTTP API: every case
//! is created by `POST /api/cases` (its own committed transaction, its audit chain
//! intact), from a few keep-alive connections at once.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::json;

use super::client::Client;

/// The workflow every case follows.
pub const WORKFLOW: &str = "lcc-decommissioning";
/// The transition the mixed load takes out of `engagement` on a prepared case, and the
/// one that takes the case back; both by users holding the roles of [`ROLES`].
pub const SUBMIT: &str = "submit_delegated_decision";
pub const REFER_BACK: &str = "refer_back";
/// The state a prepared case is in, from which [`SUBMIT`] leaves.
pub const ENGAGEMENT: &str = "engagement";
/// The roles of the load-test user: a commissioner submits, a director refers back.
pub const ROLES: &[&str] = &["commissioner", "director"];
/// The full checklist answers that [`SUBMIT`] needs; the mixed load sends them again.
pub const CHECKLIST: &str = r#"{"type":"decommissioning_checklist","answers":{"financial_requirements":"yes","political_perspective":"yes","service_user_needs":"yes","parents_and_carers":"yes"}}"#;

/// The documents [`SUBMIT`] needs besides the checklist (`needs_assessment` comes earlier,
/// for `start_engagement`).
const DOCUMENTS: &[&str] =
    &["equality_impact_assessment", "service_impact_assessment", "consultation", "provider_engagement"];

/// The cases on the server once seeding is done.
pub struct Seeded {
    /// How many cases are stored; their ids are exactly `1..=cases`.
    pub cases: usize,
    /// The prepared cases, in `engagement` with everything [`SUBMIT`] needs.
    pub prepared: Vec<i64>,
    /// How long the plain creates took.
    pub create_time: Duration,
    /// How many plain cases were created in `create_time`.
    pub created: usize,
}

/// Creates `plain` cases, then `prepared` cases brought to `engagement` with every piece
/// of evidence [`SUBMIT`] needs, over `connections` connections; checks that the ids
/// are `1..=plain + prepared`, so that a load run may pick any id in that range.
pub fn seed(addr: SocketAddr, token: &str, plain: usize, prepared: usize, connections: usize) -> Result<Seeded> {
    eprintln!("xtask: creating {plain} cases over HTTP ({connections} connections)");
    let started = Instant::now();
    let mut ids = in_parallel(addr, token, plain, connections, |client| create(client, 650_000))?;
    let create_time = started.elapsed();
    eprintln!("xtask: preparing {prepared} cases for transitions");
    let prepared = in_parallel(addr, token, prepared, connections, prepare)?;
    ids.extend(&prepared);
    ids.sort_unstable();
    let cases = ids.len();
    if !ids.iter().copied().eq(1..=i64::try_from(cases)?) {
        bail!("the new cases' ids are not 1..={cases}: was the database fresh?");
    }
    Ok(Seeded { cases, prepared, create_time, created: plain })
}

/// A new case of [`WORKFLOW`] worth `annual_value` a year; its id.
fn create(client: &mut Client, annual_value: u64) -> Result<i64> {
    let body = json!({
        "workflow": WORKFLOW,
        "fields": {
            "service_name": "Load-test service",
            "provider_name": "Load-test provider",
            "provider_email": "provider@example.org",
            "directorate": "Adults and Health",
            "annual_value": annual_value,
            "contract_end": "2027-12-31",
        },
    });
    let case = client.post_json("/api/cases", &body)?.expect(201, "creating a case")?;
    case["id"].as_i64().context("the new case has no id")
}

/// A case in `engagement` whose [`SUBMIT`] is allowed: a delegated decision by value,
/// a needs assessment, `start_engagement`, the other documents and the checklist.
pub fn prepare(client: &mut Client) -> Result<i64> {
    let id = create(client, 240_000)?;
    let evidence = format!("/api/cases/{id}/evidence");
    client.upload(&evidence, "needs_assessment")?.expect(201, "uploading a needs assessment")?;
    let transitions = format!("/api/cases/{id}/transitions");
    client.post_json(&transitions, &json!({"transition": "start_engagement"}))?.expect(200, "start_engagement")?;
    for document in DOCUMENTS {
        client.upload(&evidence, document)?.expect(201, &format!("uploading {document}"))?;
    }
    let checklist: serde_json::Value = serde_json::from_str(CHECKLIST).context("the checklist answers")?;
    let case = client.post_json(&evidence, &checklist)?.expect(201, "answering the checklist")?;
    if case["state"] != ENGAGEMENT {
        bail!("prepared case {id} is in {}, not {ENGAGEMENT}", case["state"]);
    }
    let submit = case["transitions"].as_array().into_iter().flatten().find(|t| t["id"] == SUBMIT);
    match submit {
        Some(submit) if submit["allowed"] == true => Ok(id),
        Some(submit) => bail!("{SUBMIT} is not allowed on prepared case {id}: {}", submit["unmet"]),
        None => bail!("{SUBMIT} does not leave {ENGAGEMENT} in {WORKFLOW}"),
    }
}

/// Runs `job` `count` times over `connections` clients at once; the ids it returned.
/// The first failure stops the others and is returned.
pub fn in_parallel(
    addr: SocketAddr,
    token: &str,
    count: usize,
    connections: usize,
    job: impl Fn(&mut Client) -> Result<i64> + Sync,
) -> Result<Vec<i64>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results = Mutex::new(Vec::with_capacity(count));
    // A line every tenth of the way, for long runs only.
    let progress = if count >= 1000 { count / 10 } else { usize::MAX };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..connections.clamp(1, count.max(1)))
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    let mut client = Client::new(addr, token);
                    let mut mine = Vec::new();
                    while !failed.load(Ordering::Relaxed) {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= count {
                            break;
                        }
                        match job(&mut client) {
                            Ok(id) => mine.push(id),
                            Err(err) => {
                                failed.store(true, Ordering::Relaxed);
                                return Err(err);
                            }
                        }
                        if (n + 1).is_multiple_of(progress) {
                            eprintln!("xtask:   {} of {count}", n + 1);
                        }
                    }
                    results.lock().map_err(|_| anyhow!("a seeding thread panicked"))?.extend(mine);
                    Ok(())
                })
            })
            .collect();
        let outcomes: Vec<_> = workers.into_iter().map(|worker| worker.join()).collect();
        outcomes.into_iter().try_for_each(|outcome| outcome.map_err(|_| anyhow!("a seeding thread panicked"))?)
    })?;
    let results = results.into_inner().map_err(|_| anyhow!("a seeding thread panicked"))?;
    if results.len() != count {
        bail!("{} of {count} requests were made", results.len());
    }
    Ok(results)
}
