//! The scheduler: tokio tasks in `gatehouse serve` that fire due timers, fire workflow
//! schedules and run the outbox dispatcher.
//!
//! Each kind of work is one step function that claims and does one unit of work (a
//! small batch of timers or messages, one schedule occurrence) and says when the next
//! is due ([`timers::try_run_due`], [`schedules::try_run_due`],
//! [`crate::mail::try_run_due`]); the loops in [`run`] only call them, sleep until the
//! next due time (never longer than [`WorkerConfig::max_sleep`]) and wake early when
//! poked through [`Wake`]. Tests call the steps directly, with a fixed clock.

pub mod run;
pub mod schedules;
pub mod timers;

pub use run::{Workers, run_workers};

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Wakes the workers: the application pokes it after a decision arms a timer or queues
/// a message, so they do not sleep through work that just became due.
#[derive(Debug, Clone, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    /// A new, unpoked handle.
    pub fn new() -> Wake {
        Wake::default()
    }

    /// Wake every sleeping worker. A worker busy at the moment checks again before it
    /// sleeps, so a poke is never lost.
    pub fn poke(&self) {
        self.0.notify_waiters();
    }

    pub(crate) fn notify(&self) -> &Notify {
        &self.0
    }
}

/// How the workers run.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// This process's name on the leases it takes (unique per process).
    pub owner: String,
    /// How many timers this process fires at once.
    pub timer_tasks: usize,
    /// How many messages this process sends at once.
    pub mail_tasks: usize,
    /// How long a claimed timer is this process's before another may take it over.
    pub timer_lease: Duration,
    /// How long a timer whose firing failed waits before it is tried again.
    pub timer_retry: Duration,
    /// The longest a worker sleeps without looking (a safety net for pokes from other
    /// processes sharing the database).
    pub max_sleep: Duration,
    /// The pause after a step failed (the database is down, say).
    pub error_pause: Duration,
    /// How long a worker woken by a poke waits before it looks, so that the work of the
    /// decisions made meanwhile is claimed together: each poke wakes every idle worker,
    /// and on SQLite a claim takes the write lock even when it finds nothing.
    pub gather: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            owner: format!("gatehouse-{}-{:08x}", std::process::id(), rand::random::<u32>()),
            timer_tasks: 2,
            mail_tasks: 4,
            timer_lease: Duration::from_secs(5 * 60),
            timer_retry: Duration::from_secs(60),
            max_sleep: Duration::from_secs(60),
            error_pause: Duration::from_secs(5),
            gather: Duration::from_millis(20),
        }
    }
}
