//! Time, injected: every timestamp the gateway writes (links, tokens, tenants, audit) and every
//! expiry it checks comes from a [`Clock`], so tests can set the time instead of sleeping.
//!
//! Times are whole milliseconds, so a stored timestamp reads back exactly as it was written.

use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

/// Where the gateway reads the time.
pub trait Clock: Send + Sync + 'static {
    /// Now, in UTC, to the millisecond.
    fn now(&self) -> OffsetDateTime;
}

/// A clock shared by every part of a running gateway.
pub type SharedClock = Arc<dyn Clock>;

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        whole_milliseconds(OffsetDateTime::now_utc())
    }
}

/// A clock that stands still until moved: for tests of expiries and orderings.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: OffsetDateTime) -> ManualClock {
        ManualClock(Mutex::new(whole_milliseconds(at)))
    }

    /// Moves the clock by `by` (backwards when negative).
    pub fn advance(&self, by: time::Duration) {
        let mut at = self.lock();
        *at = whole_milliseconds(*at + by);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OffsetDateTime> {
        // A time is a plain value: a panic elsewhere cannot leave it half-written.
        match self.0.lock() {
            Ok(at) => at,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.lock()
    }
}

fn whole_milliseconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_millisecond(t.millisecond()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_tell_whole_milliseconds() {
        let system = SystemClock.now();
        assert_eq!(system.nanosecond() % 1_000_000, 0);
        let start = time::macros::datetime!(2026-12-03 10:00:00.123456 UTC);
        let clock = ManualClock::new(start);
        assert_eq!(
            clock.now(),
            time::macros::datetime!(2026-12-03 10:00:00.123 UTC)
        );
        clock.advance(time::Duration::days(2));
        assert_eq!(
            clock.now(),
            time::macros::datetime!(2026-12-05 10:00:00.123 UTC)
        );
    }
}
