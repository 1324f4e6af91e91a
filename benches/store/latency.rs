//! Transition latency: how long one `request_transition` takes, one after another, on
//! fresh cases prepared for it (opened, needs assessment attached) just before.

use crate::lifecycle::{self, NEEDS_ASSESSMENT, START_ENGAGEMENT};
use gatehouse::app::App;
use std::time::{Duration, Instant};

/// Percentiles of the time one transition takes.
pub struct Latency {
    pub p50: Duration,
    pub p99: Duration,
}

/// The latency in each app's database. The apps take turns, one transition each, so
/// that every database sees the same machine (see `rate.rs` for why that matters).
pub async fn measure(apps: &[&App], transitions: usize) -> anyhow::Result<Vec<Latency>> {
    let mut prepared = Vec::with_capacity(apps.len());
    for app in apps {
        prepared.push(prepare(app, transitions).await?.into_iter());
    }
    let mut times = vec![Vec::with_capacity(transitions); apps.len()];
    for _ in 0..transitions {
        for ((app, cases), times) in apps.iter().zip(&mut prepared).zip(&mut times) {
            let id = cases.next().expect("a case prepared for each transition");
            let start = Instant::now();
            lifecycle::apply(app, id, &START_ENGAGEMENT).await?;
            times.push(start.elapsed());
        }
    }
    Ok(times.into_iter().map(latency).collect())
}

/// `n` cases ready to start engagement.
async fn prepare(app: &App, n: usize) -> anyhow::Result<Vec<i64>> {
    let mut cases = Vec::with_capacity(n);
    for _ in 0..n {
        let id = lifecycle::open(app).await?;
        lifecycle::apply(app, id, &NEEDS_ASSESSMENT).await?;
        cases.push(id);
    }
    Ok(cases)
}

fn latency(mut times: Vec<Duration>) -> Latency {
    times.sort();
    Latency { p50: percentile(&times, 50), p99: percentile(&times, 99) }
}

/// The nearest-rank percentile of `sorted` (not empty).
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}
