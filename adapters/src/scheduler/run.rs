//! The loops around the steps: call the step until it has nothing to do, then sleep
//! until its next due time, a poke, or shutdown. They decide nothing.

use super::schedules::{self, ScheduleContext, ScheduleOutcome};
use super::timers::{self, TimerContext, TimerOutcome};
use super::{Wake, WorkerConfig};
use crate::host::{Host, WorkerError};
use crate::mail::{self, MailConfig, MailContext, MailOutcome, Transport};
use crate::store::Store;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The shortest sleep when a step says work is due but found none (a lease about to
/// expire, a race with another process): no tight loop.
const MIN_PAUSE: Duration = Duration::from_millis(50);

/// The running workers of one process.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    wake: Wake,
    store: Store,
    owner: String,
}

/// What a step reported, for the loop.
enum Step {
    Worked,
    Idle(Option<jiff::Timestamp>),
}

/// Start the timer, schedule and outbox workers on the current tokio runtime.
pub fn run_workers<H: Host>(
    host: Arc<H>,
    store: Store,
    transport: Arc<dyn Transport>,
    mail: MailConfig,
    config: WorkerConfig,
    wake: Wake,
) -> Workers {
    let (stop, _) = watch::channel(false);
    let mut tasks = Vec::new();
    tracing::info!(owner = %config.owner, transport = %transport.describe(), "workers starting");
    let timer_cx = Arc::new(TimerContext {
        store: store.clone(),
        host: host.clone(),
        owner: config.owner.clone(),
        lease: config.timer_lease,
        retry: config.timer_retry,
        wake: wake.clone(),
    });
    for _ in 0..config.timer_tasks.max(1) {
        let cx = timer_cx.clone();
        tasks.push(spawn_loop("timers", host.clone(), &config, &wake, &stop, move || {
            let cx = cx.clone();
            async move {
                Ok(match timers::try_run_due(&cx).await?.as_slice() {
                    [TimerOutcome::Idle { next_due }] => Step::Idle(*next_due),
                    _ => Step::Worked,
                })
            }
        }));
    }
    let mail_cx = Arc::new(MailContext {
        store: store.clone(),
        host: host.clone(),
        transport,
        config: mail,
        owner: config.owner.clone(),
    });
    for _ in 0..config.mail_tasks.max(1) {
        let cx = mail_cx.clone();
        tasks.push(spawn_loop("outbox", host.clone(), &config, &wake, &stop, move || {
            let cx = cx.clone();
            async move {
                Ok(match mail::try_run_due(&cx).await?.as_slice() {
                    [MailOutcome::Idle { next_due }] => Step::Idle(*next_due),
                    _ => Step::Worked,
                })
            }
        }));
    }
    let schedule_cx = Arc::new(ScheduleContext { store: store.clone(), host: host.clone() });
    let poke = wake.clone();
    tasks.push(spawn_loop("schedules", host, &config, &wake, &stop, move || {
        let (cx, poke) = (schedule_cx.clone(), poke.clone());
        async move {
            Ok(match schedules::try_run_due(&cx).await? {
                ScheduleOutcome::Idle { next_due } => Step::Idle(next_due),
                ScheduleOutcome::Fired { .. } => {
                    poke.poke();
                    Step::Worked
                }
                ScheduleOutcome::Lost => Step::Worked,
            })
        }
    }));
    Workers { stop, tasks, wake, store, owner: config.owner }
}

impl Workers {
    /// The handle that wakes these workers.
    pub fn wake(&self) -> Wake {
        self.wake.clone()
    }

    /// Stop: each worker finishes the step it is in, then its leases are given back so
    /// another process need not wait for them to expire.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.wake.poke();
        for t in self.tasks {
            let _ = t.await;
        }
        let now = jiff::Timestamp::now();
        if let Err(e) = self.store.release_timer_leases(&self.owner).await {
            tracing::warn!(error = %e, "could not give back timer leases");
        }
        if let Err(e) = self.store.release_message_leases(&self.owner, now).await {
            tracing::warn!(error = %e, "could not give back outbox leases");
        }
        tracing::info!("workers stopped");
    }
}

fn spawn_loop<H, F, Fut>(
    name: &'static str,
    host: Arc<H>,
    config: &WorkerConfig,
    wake: &Wake,
    stop: &watch::Sender<bool>,
    step: F,
) -> JoinHandle<()>
where
    H: Host,
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<Step, WorkerError>> + Send,
{
    let (wake, mut stop) = (wake.clone(), stop.subscribe());
    let (max_sleep, error_pause, gather) = (config.max_sleep, config.error_pause, config.gather);
    tokio::spawn(async move {
        loop {
            if *stop.borrow() {
                return;
            }
            // Registered before the step looks at the database, so a poke that comes
            // while it looks is not lost.
            let notified = wake.notify().notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let pause = match step().await {
                Ok(Step::Worked) => continue,
                Ok(Step::Idle(None)) => max_sleep,
                Ok(Step::Idle(Some(next))) => {
                    let wait = Duration::try_from(next.duration_since(host.now())).unwrap_or(Duration::ZERO);
                    wait.clamp(MIN_PAUSE, max_sleep)
                }
                Err(e) => {
                    tracing::error!(worker = name, error = %e, "worker step failed");
                    error_pause
                }
            };
            let poked = tokio::select! {
                _ = &mut notified => true,
                _ = tokio::time::sleep(pause) => false,
                _ = stop.changed() => false,
            };
            if poked {
                // A poke comes with each decision; waiting a moment lets the work of the
                // decisions made meanwhile be claimed in one batch rather than one claim
                // (a write) per decision by every worker.
                tokio::select! {
                    _ = tokio::time::sleep(gather) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    })
}
