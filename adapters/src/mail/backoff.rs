//! When to try a message again: exponential backoff with jitter, so that a mail server
//! coming back is not met by every waiting message at the same instant.

use std::time::Duration;

/// Exponential backoff: `base`, doubling each attempt, never more than `max`; each
/// delay is then drawn between half of it and all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first failure (before jitter).
    pub base: Duration,
    /// The longest delay. A message is retried at this interval for as long as it takes:
    /// it is never dropped.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base: Duration::from_secs(30), max: Duration::from_secs(60 * 60) }
    }
}

impl Backoff {
    /// The delay after failed attempt number `attempt` (1 for the first), with `jitter`
    /// in `0.0..=1.0` choosing where in the upper half of the range it falls.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let doubling = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
        let full = self.base.saturating_mul(doubling).min(self.max);
        full / 2 + full.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
    }

    /// [`Backoff::delay`] with random jitter.
    pub fn delay_with_jitter(&self, attempt: u32) -> Duration {
        self.delay(attempt, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_jitter_stays_in_the_upper_half() {
        let b = Backoff { base: Duration::from_secs(30), max: Duration::from_secs(600) };
        assert_eq!(b.delay(1, 1.0), Duration::from_secs(30));
        assert_eq!(b.delay(1, 0.0), Duration::from_secs(15));
        assert_eq!(b.delay(2, 1.0), Duration::from_secs(60));
        assert_eq!(b.delay(3, 1.0), Duration::from_secs(120));
        assert_eq!(b.delay(6, 1.0), Duration::from_secs(600));
        assert_eq!(b.delay(1000, 1.0), Duration::from_secs(600));
        for attempt in 1..20 {
            let d = b.delay_with_jitter(attempt);
            let full = b.delay(attempt, 1.0);
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
    }
}
