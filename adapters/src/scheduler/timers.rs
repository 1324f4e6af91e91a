//! The timer step: [`try_run_due`] claims the earliest due timers, a few at a time,
//! has the application fire each (the engine decides what firing means: send, repeat, stop because `until`
//! holds, request a transition; the decision is applied in one transaction), and wakes
//! the dispatcher for the messages that decision queued.

use super::Wake;
use crate::host::{Host, HostError, WorkerError};
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

/// What the timer step works with.
pub struct TimerContext<H> {
    /// The store.
    pub store: Store,
    /// The application, which fires timers.
    pub host: Arc<H>,
    /// This process's name on the leases it takes.
    pub owner: String,
    /// How long a claimed timer is this process's.
    pub lease: Duration,
    /// How long to leave a timer whose firing failed before trying it again.
    pub retry: Duration,
    /// Poked after a timer fired, so the dispatcher sends what it queued.
    pub wake: Wake,
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerOutcome {
    /// The timer fired and its decision was applied.
    Fired {
        /// The case.
        case_id: i64,
        /// The timer.
        timer: String,
    },
    /// The engine would not fire it (no longer armed, say); nothing changed.
    Refused {
        /// The case.
        case_id: i64,
        /// The timer.
        timer: String,
        /// Why.
        reason: String,
    },
    /// Firing failed and is tried again later.
    Retry {
        /// The case.
        case_id: i64,
        /// The timer.
        timer: String,
        /// Why.
        error: String,
    },
    /// Nothing was due; the next timer is due at `next_due`.
    Idle {
        /// When the earliest timer can be claimed.
        next_due: Option<jiff::Timestamp>,
    },
}

/// How many due timers one step claims together.
pub const BATCH: usize = 16;

/// Claim up to [`BATCH`] due timers and fire them together ([`Host::fire_timers`]: the
/// application decides each on its own and may commit them in one transaction). Returns what
/// happened to each, earliest first, or a lone [`TimerOutcome::Idle`] when nothing was
/// due.
pub async fn try_run_due<H: Host>(cx: &TimerContext<H>) -> Result<Vec<TimerOutcome>, WorkerError> {
    let now = cx.host.now();
    let lease_until = now.checked_add(cx.lease).unwrap_or(now);
    let claimed = cx.store.claim_due_timers(&cx.owner, now, lease_until, BATCH).await?;
    if claimed.is_empty() {
        return Ok(vec![TimerOutcome::Idle { next_due: cx.store.next_timer_due().await? }]);
    }
    let later = now.checked_add(cx.retry).unwrap_or(now);
    let batch: Vec<(i64, String)> = claimed.iter().map(|t| (t.case_id, t.timer_id.clone())).collect();
    let answers = cx.host.fire_timers(&batch).await;
    let mut outcomes = Vec::with_capacity(claimed.len());
    let mut fired = false;
    for (t, answer) in claimed.into_iter().zip(answers) {
        let (case_id, timer) = (t.case_id, t.timer_id);
        let outcome = match answer {
            Ok(()) => {
                fired = true;
                // Its decision replaced or deleted the row: there is no lease to give back.
                outcomes.push(TimerOutcome::Fired { case_id, timer });
                continue;
            }
            Err(HostError::NotFound(reason) | HostError::Refused(reason)) => {
                tracing::info!(case_id, %timer, %reason, "timer not fired");
                TimerOutcome::Refused { case_id, timer, reason }
            }
            Err(HostError::Failed(error)) => {
                tracing::warn!(case_id, %timer, %error, "firing a timer failed; will retry");
                TimerOutcome::Retry { case_id, timer, error }
            }
        };
        // Not fired: the timer waits `retry` before it is claimed again.
        cx.store.release_timer(t.id, &cx.owner, later).await?;
        outcomes.push(outcome);
    }
    if fired {
        cx.wake.poke();
    }
    Ok(outcomes)
}
