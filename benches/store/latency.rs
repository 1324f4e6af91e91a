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

/// Prepare `transitions` cases, then time the transition of each.
pub async fn measure(app: &App, transitions: usize) -> anyhow::Result<Latency> {
    let mut cases = Vec::with_capacity(transitions);
    for _ in 0..transitions {
        let id = lifecycle::open(app).await?;
        lifecycle::apply(app, id, &NEEDS_ASSESSMENT).await?;
        cases.push(id);
    }
    let mut times = Vec::with_capacity(transitions);
    for id in cases {
        let start = Instant::now();
        lifecycle::apply(app, id, &START_ENGAGEMENT).await?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(Latency { p50: percentile(&times, 50), p99: percentile(&times, 99) })
}

/// The nearest-rank percentile of `sorted` (not empty).
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}
