//! Measuring a rate: concurrent workers, each doing one unit of work after another, for
//! a time window. Workers keep their state between windows, so that two measurements
//! can take turns in short windows and see the same machine: on a shared machine the
//! disk may be twice as fast one minute as the next, and a ratio of two figures taken a
//! minute apart would measure that instead.

use std::future::Future;
use std::ops::AddAssign;
use std::time::{Duration, Instant};

/// Does one unit of work per step: one commit, one durable operation.
pub trait Worker: Send + 'static {
    fn step(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// Units of work done, and in how long.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    units: u64,
    elapsed: Duration,
}

impl Tally {
    pub fn per_second(&self) -> f64 {
        self.units as f64 / self.elapsed.as_secs_f64()
    }
}

impl AddAssign for Tally {
    fn add_assign(&mut self, other: Tally) {
        self.units += other.units;
        self.elapsed += other.elapsed;
    }
}

/// Run every worker concurrently until `window` has passed (each finishes the step it
/// is in). Returns the workers, to carry on later, and what they did.
pub async fn run_for<W: Worker>(workers: Vec<W>, window: Duration) -> anyhow::Result<(Vec<W>, Tally)> {
    let start = Instant::now();
    let deadline = start + window;
    let tasks: Vec<_> = workers.into_iter().map(|worker| tokio::spawn(until(worker, deadline))).collect();
    let mut workers = Vec::with_capacity(tasks.len());
    let mut units = 0;
    for task in tasks {
        let (worker, done) = task.await??;
        workers.push(worker);
        units += done;
    }
    Ok((workers, Tally { units, elapsed: start.elapsed() }))
}

/// Two measurements taking turns, each running `rounds` windows that add up to
/// `window`. Returns what each did.
pub async fn take_turns<A: Worker, B: Worker>(
    mut a: Vec<A>,
    mut b: Vec<B>,
    window: Duration,
    rounds: u32,
) -> anyhow::Result<(Tally, Tally)> {
    let slice = window / rounds;
    let (mut a_did, mut b_did) = (Tally::default(), Tally::default());
    for _ in 0..rounds {
        let (workers, did) = run_for(a, slice).await?;
        a = workers;
        a_did += did;
        let (workers, did) = run_for(b, slice).await?;
        b = workers;
        b_did += did;
    }
    Ok((a_did, b_did))
}

async fn until<W: Worker>(mut worker: W, deadline: Instant) -> anyhow::Result<(W, u64)> {
    let mut done = 0;
    while Instant::now() < deadline {
        worker.step().await?;
        done += 1;
    }
    Ok((worker, done))
}
